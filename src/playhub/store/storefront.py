"""Store reads for players: the listing, one game's details, the version a download serves, a player's played games.

Every function runs in the database thread (``app.db.run``) and returns plain dicts/rows ready to encode.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from playhub.store.catalog import VersionRow, get_version

# Average and count of reviews per game, joined into the listing and the details.
_STATS = "SELECT game_id, AVG(score) AS avg, COUNT(*) AS cnt FROM reviews GROUP BY game_id"


def _avg(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def listing(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """ONLINE games with at least one published version, by name."""
    rows = conn.execute(
        f"""
        SELECT g.id, g.name, g.display_name, g.status, g.latest_version, g.game_type, g.max_players,
               g.min_players, a.username, s.avg, COALESCE(s.cnt, 0), g.description
        FROM games g
        JOIN accounts a ON a.id = g.developer_id
        LEFT JOIN ({_STATS}) s ON s.game_id = g.id
        WHERE g.status = 'ONLINE' AND g.latest_version IS NOT NULL
          AND EXISTS (SELECT 1 FROM versions v WHERE v.game_id = g.id AND v.version = g.latest_version)
        ORDER BY g.name
        """
    ).fetchall()
    return [
        {
            "game_id": r[0],
            "name": r[1],
            "display_name": r[2],
            "status": r[3],
            "latest_version": r[4],
            "game_type": r[5],
            "max_players": r[6],
            "min_players": r[7] if r[7] is not None else r[6],
            "author": r[8],
            "avg_score": _avg(r[9]),
            "review_count": r[10],
            "description": r[11],  # seed 003's list_games carries it: the store list shows it
        }
        for r in rows
    ]


def detail(conn: sqlite3.Connection, game_id: str, sample_size: int) -> dict[str, Any] | None:
    """Everything a player sees about one game; None when it does not exist or has no published version."""
    row = conn.execute(
        f"""
        SELECT g.id, g.name, g.display_name, g.description, g.game_type, g.max_players, g.min_players,
               g.status, g.latest_version, a.username, s.avg, COALESCE(s.cnt, 0), g.created_at, g.updated_at
        FROM games g
        JOIN accounts a ON a.id = g.developer_id
        LEFT JOIN ({_STATS}) s ON s.game_id = g.id
        WHERE g.id = ?
        """,
        (game_id,),
    ).fetchone()
    if row is None:
        return None
    versions = [
        {"version": v[0], "uploaded_at": v[1], "size_bytes": v[2]}
        for v in conn.execute(
            "SELECT version, uploaded_at, size_bytes FROM versions WHERE game_id = ? ORDER BY major, minor, patch",
            (game_id,),
        )
    ]
    if not versions or row[8] is None:
        return None
    sample = [
        {"player": r[0], "score": r[1], "comment": r[2], "created_at": r[3]}
        for r in conn.execute(
            """
            SELECT a.username, r.score, r.comment, r.created_at FROM reviews r
            JOIN accounts a ON a.id = r.player_id
            WHERE r.game_id = ? ORDER BY r.created_at DESC, a.username LIMIT ?
            """,
            (game_id, sample_size),
        )
    ]
    return {
        "game_id": row[0],
        "name": row[1],
        "display_name": row[2],
        "description": row[3],
        "game_type": row[4],
        "max_players": row[5],
        "min_players": row[6] if row[6] is not None else row[5],
        "status": row[7],
        "latest_version": row[8],
        "author": row[9],
        "avg_score": _avg(row[10]),
        "review_count": row[11],
        "created_at": row[12],
        "updated_at": row[13],
        "versions": versions,
        "reviews_sample": sample,
    }


def download_target(
    conn: sqlite3.Connection, game_id: str, version: str | None
) -> tuple[str, VersionRow | None] | None:
    """(game status, version row) for a download; None when the game does not exist.

    ``version`` None means the game's latest; the row is None when that version does not exist.
    """
    row = conn.execute("SELECT status, latest_version FROM games WHERE id = ?", (game_id,)).fetchone()
    if row is None:
        return None
    wanted = version if version is not None else row[1]
    if wanted is None:
        return row[0], None
    return row[0], get_version(conn, game_id, wanted)


def played_games(conn: sqlite3.Connection, player_id: int) -> list[dict[str, Any]]:
    """Games this player took part in, most recently played first, with the player's own review if any."""
    rows = conn.execute(
        """
        SELECT g.id, g.name, g.display_name, g.status, g.latest_version, p.last_played, p.rooms,
               r.score, r.comment, r.created_at
        FROM (SELECT game_id, MAX(started_at) AS last_played, COUNT(*) AS rooms FROM plays
              WHERE player_id = ? GROUP BY game_id) p
        JOIN games g ON g.id = p.game_id
        LEFT JOIN reviews r ON r.game_id = p.game_id AND r.player_id = ?
        ORDER BY p.last_played DESC, g.name
        """,
        (player_id, player_id),
    ).fetchall()
    return [
        {
            "game_id": r[0],
            "name": r[1],
            "display_name": r[2],
            "status": r[3],
            "latest_version": r[4],
            "last_played_at": r[5],
            "rooms_played": r[6],
            "my_review": None if r[7] is None else {"score": r[7], "comment": r[8], "created_at": r[9]},
        }
        for r in rows
    ]

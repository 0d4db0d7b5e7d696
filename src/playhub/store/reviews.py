"""Reviews: one per player per game, allowed only to players who took part in a started game of that title."""

from __future__ import annotations

import sqlite3
import time
from typing import Any


def game_exists(conn: sqlite3.Connection, game_id: str) -> bool:
    return conn.execute("SELECT 1 FROM games WHERE id = ?", (game_id,)).fetchone() is not None


def upsert(
    conn: sqlite3.Connection, game_id: str, player_id: int, score: int, comment: str
) -> dict[str, Any]:
    """Write the player's review (replacing an earlier one) and return it with the game's new average and count."""
    replaced = (
        conn.execute(
            "SELECT 1 FROM reviews WHERE game_id = ? AND player_id = ?", (game_id, player_id)
        ).fetchone()
        is not None
    )
    now = time.time()
    conn.execute(
        """
        INSERT INTO reviews (game_id, player_id, score, comment, created_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (game_id, player_id)
        DO UPDATE SET score = excluded.score, comment = excluded.comment, created_at = excluded.created_at
        """,
        (game_id, player_id, score, comment, now),
    )
    avg, count = stats(conn, game_id)
    return {
        "game_id": game_id,
        "score": score,
        "comment": comment,
        "created_at": now,
        "replaced": replaced,
        "avg_score": avg,
        "review_count": count,
    }


def stats(conn: sqlite3.Connection, game_id: str) -> tuple[float | None, int]:
    avg, count = conn.execute(
        "SELECT AVG(score), COUNT(*) FROM reviews WHERE game_id = ?", (game_id,)
    ).fetchone()
    return (None if avg is None else round(float(avg), 2)), int(count)


def page(conn: sqlite3.Connection, game_id: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Newest first; returns (reviews, total)."""
    rows = conn.execute(
        """
        SELECT a.username, r.score, r.comment, r.created_at FROM reviews r
        JOIN accounts a ON a.id = r.player_id
        WHERE r.game_id = ? ORDER BY r.created_at DESC, a.username LIMIT ? OFFSET ?
        """,
        (game_id, limit, offset),
    ).fetchall()
    total = conn.execute("SELECT COUNT(*) FROM reviews WHERE game_id = ?", (game_id,)).fetchone()[0]
    return [{"player": r[0], "score": r[1], "comment": r[2], "created_at": r[3]} for r in rows], int(total)

"""Who took part in which started game (unlocks reviews), and how it ended."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def record_start(
    conn: sqlite3.Connection,
    game_id: str,
    player_ids: list[int],
    room_id: str,
    version: str,
    started_at: float,
) -> None:
    """One row per member. A room plays several matches: the row keeps the latest start of that room."""
    conn.executemany(
        "INSERT INTO plays (game_id, player_id, room_id, version, started_at, result) VALUES (?, ?, ?, ?, ?, NULL) "
        "ON CONFLICT (game_id, player_id, room_id) DO UPDATE SET version = excluded.version, "
        "started_at = excluded.started_at, result = NULL",
        [(game_id, pid, room_id, version, started_at) for pid in player_ids],
    )


def record_result(
    conn: sqlite3.Connection,
    game_id: str,
    room_id: str,
    player_ids: list[int],
    reason: str,
    results: dict[str, Any] | None,
) -> None:
    """Store ``{"reason", "results"}`` as JSON on the rows of that room's match."""
    text = json.dumps({"reason": reason, "results": results}, separators=(",", ":"))
    conn.executemany(
        "UPDATE plays SET result = ? WHERE game_id = ? AND room_id = ? AND player_id = ?",
        [(text, game_id, room_id, pid) for pid in player_ids],
    )


def has_played(conn: sqlite3.Connection, game_id: str, player_id: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM plays WHERE game_id = ? AND player_id = ? LIMIT 1", (game_id, player_id)
    ).fetchone()
    return row is not None


def plays_of_room(conn: sqlite3.Connection, room_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT game_id, player_id, room_id, version, started_at, result FROM plays WHERE room_id = ? "
        "ORDER BY player_id",
        (room_id,),
    ).fetchall()
    return [dict(r) for r in rows]

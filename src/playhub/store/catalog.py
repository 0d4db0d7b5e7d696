"""Games and versions. Read helpers used across areas; publishing adds its writes here."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class GameRow:
    id: str
    developer_id: int
    name: str
    display_name: str
    description: str
    game_type: str
    max_players: int
    min_players: int | None
    status: str
    latest_version: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class VersionRow:
    game_id: str
    version: str
    size_bytes: int
    checksum: str
    manifest: dict[str, Any]
    uploaded_at: float


_GAME_COLS = (
    "id, developer_id, name, display_name, description, game_type, max_players, min_players, status, "
    "latest_version, created_at, updated_at"
)


def get_game(conn: sqlite3.Connection, game_id: str) -> GameRow | None:
    row = conn.execute(f"SELECT {_GAME_COLS} FROM games WHERE id = ?", (game_id,)).fetchone()
    return GameRow(*row) if row else None


def get_game_by_name(conn: sqlite3.Connection, name: str) -> GameRow | None:
    row = conn.execute(f"SELECT {_GAME_COLS} FROM games WHERE name = ?", (name,)).fetchone()
    return GameRow(*row) if row else None


def get_version(conn: sqlite3.Connection, game_id: str, version: str) -> VersionRow | None:
    row = conn.execute(
        "SELECT game_id, version, size_bytes, checksum, manifest, uploaded_at FROM versions "
        "WHERE game_id = ? AND version = ?",
        (game_id, version),
    ).fetchone()
    if not row:
        return None
    return VersionRow(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])


def list_versions(conn: sqlite3.Connection, game_id: str) -> list[VersionRow]:
    rows = conn.execute(
        "SELECT game_id, version, size_bytes, checksum, manifest, uploaded_at FROM versions "
        "WHERE game_id = ? ORDER BY major, minor, patch",
        (game_id,),
    ).fetchall()
    return [VersionRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

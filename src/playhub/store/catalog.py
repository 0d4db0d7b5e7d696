"""Games and versions. Read helpers used across areas; publishing adds its writes here."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from playhub.names import name_key


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
    row = conn.execute(f"SELECT {_GAME_COLS} FROM games WHERE name_key = ?", (name_key(name),)).fetchone()
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


# --- publishing writes and developer views ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeveloperGameRow:
    game: GameRow
    avg_score: float | None
    review_count: int
    version_count: int


def create_game(
    conn: sqlite3.Connection,
    game_id: str,
    developer_id: int,
    name: str,
    display_name: str,
    description: str,
    game_type: str,
    max_players: int,
    min_players: int | None,
    now: float,
) -> bool:
    """Insert a game; False when the name is already taken (names are unique in the store, compared folded)."""
    try:
        conn.execute(
            "INSERT INTO games (id, developer_id, name, name_key, display_name, description, game_type, max_players, "
            "min_players, status, latest_version, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ONLINE', NULL, ?, ?)",
            (
                game_id,
                developer_id,
                name,
                name_key(name),
                display_name,
                description,
                game_type,
                max_players,
                min_players,
                now,
                now,
            ),
        )
    except sqlite3.IntegrityError:
        return False
    return True


def list_developer_games(conn: sqlite3.Connection, developer_id: int) -> list[DeveloperGameRow]:
    cols = ", ".join(f"g.{c.strip()}" for c in _GAME_COLS.split(","))
    rows = conn.execute(
        f"SELECT {cols}, "
        "(SELECT AVG(score) FROM reviews r WHERE r.game_id = g.id), "
        "(SELECT COUNT(*) FROM reviews r WHERE r.game_id = g.id), "
        "(SELECT COUNT(*) FROM versions v WHERE v.game_id = g.id) "
        "FROM games g WHERE g.developer_id = ? ORDER BY g.created_at, g.name",
        (developer_id,),
    ).fetchall()
    out = []
    for row in rows:
        values = tuple(row)
        game = GameRow(*values[:12])
        avg = values[12]
        out.append(
            DeveloperGameRow(game, round(float(avg), 2) if avg is not None else None, values[13], values[14])
        )
    return out


# Columns a developer may change with UPDATE_GAME_META (never ``name``: it is the package's identity).
_META_COLUMNS = ("display_name", "description", "game_type", "max_players", "min_players")


def update_game_meta(conn: sqlite3.Connection, game_id: str, changes: dict[str, Any], now: float) -> None:
    sets = [f"{col} = ?" for col in _META_COLUMNS if col in changes]
    values = [changes[col] for col in _META_COLUMNS if col in changes]
    conn.execute(
        f"UPDATE games SET {', '.join([*sets, 'updated_at = ?'])} WHERE id = ?", (*values, now, game_id)
    )


def set_game_status(conn: sqlite3.Connection, game_id: str, status: str, now: float) -> None:
    conn.execute("UPDATE games SET status = ?, updated_at = ? WHERE id = ?", (status, now, game_id))


def insert_version(
    conn: sqlite3.Connection,
    game_id: str,
    version: str,
    parts: tuple[int, int, int],
    size_bytes: int,
    checksum: str,
    manifest_json: str,
    now: float,
    unpacked_bytes: int = 0,
) -> bool:
    """Record a published version and make it the latest, unless it is not newer than the current latest (False).

    Runs inside the caller's transaction, so the check and both writes are atomic with the upload row's removal.
    """
    row = conn.execute(
        "SELECT major, minor, patch FROM versions WHERE game_id = ? ORDER BY major DESC, minor DESC, patch DESC "
        "LIMIT 1",
        (game_id,),
    ).fetchone()
    if row is not None and tuple(row) >= parts:
        return False
    conn.execute(
        "INSERT INTO versions (game_id, version, major, minor, patch, size_bytes, checksum, manifest, uploaded_at, "
        "unpacked_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (game_id, version, *parts, size_bytes, checksum, manifest_json, now, unpacked_bytes),
    )
    conn.execute("UPDATE games SET latest_version = ?, updated_at = ? WHERE id = ?", (version, now, game_id))
    return True


def all_game_ids(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT id FROM games")}


def all_version_keys(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in conn.execute("SELECT game_id, version FROM versions")}

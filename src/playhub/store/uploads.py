"""Rows of uploads in progress. The row is the durable half of an upload; the part file in ``tmp/`` is the other."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: str
    game_id: str
    version: str
    developer_id: int
    size_bytes: int
    checksum: str | None
    next_seq: int
    received_bytes: int
    created_at: float
    updated_at: float


_COLS = "id, game_id, version, developer_id, size_bytes, checksum, next_seq, received_bytes, created_at, updated_at"


def insert(conn: sqlite3.Connection, row: UploadRow) -> bool:
    """False when an upload for that (game, version) is already open."""
    try:
        conn.execute(
            f"INSERT INTO uploads ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.id,
                row.game_id,
                row.version,
                row.developer_id,
                row.size_bytes,
                row.checksum,
                row.next_seq,
                row.received_bytes,
                row.created_at,
                row.updated_at,
            ),
        )
    except sqlite3.IntegrityError:
        return False
    return True


def get(conn: sqlite3.Connection, upload_id: str) -> UploadRow | None:
    row = conn.execute(f"SELECT {_COLS} FROM uploads WHERE id = ?", (upload_id,)).fetchone()
    return UploadRow(*row) if row else None


def get_for_version(conn: sqlite3.Connection, game_id: str, version: str) -> UploadRow | None:
    row = conn.execute(
        f"SELECT {_COLS} FROM uploads WHERE game_id = ? AND version = ?", (game_id, version)
    ).fetchone()
    return UploadRow(*row) if row else None


def count_for_developer(conn: sqlite3.Connection, developer_id: int) -> int:
    return int(
        conn.execute("SELECT COUNT(*) FROM uploads WHERE developer_id = ?", (developer_id,)).fetchone()[0]
    )


def save_progress(
    conn: sqlite3.Connection, upload_id: str, next_seq: int, received_bytes: int, now: float
) -> None:
    conn.execute(
        "UPDATE uploads SET next_seq = ?, received_bytes = ?, updated_at = ? WHERE id = ?",
        (next_seq, received_bytes, now, upload_id),
    )


def delete(conn: sqlite3.Connection, upload_id: str) -> None:
    conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))


def list_all(conn: sqlite3.Connection) -> list[UploadRow]:
    return [UploadRow(*r) for r in conn.execute(f"SELECT {_COLS} FROM uploads")]


def list_idle(conn: sqlite3.Connection, before: float) -> list[UploadRow]:
    return [
        UploadRow(*r) for r in conn.execute(f"SELECT {_COLS} FROM uploads WHERE updated_at < ?", (before,))
    ]


def storage_used(conn: sqlite3.Connection, developer_id: int, exclude_upload: str | None = None) -> int:
    """Bytes a developer's packages take on disk (archives and unpacked files of every published version) plus the
    announced size of their open uploads (parts in progress), except ``exclude_upload``."""
    published = conn.execute(
        "SELECT COALESCE(SUM(v.size_bytes + v.unpacked_bytes), 0) FROM versions v JOIN games g ON g.id = v.game_id "
        "WHERE g.developer_id = ?",
        (developer_id,),
    ).fetchone()[0]
    pending = conn.execute(
        "SELECT COALESCE(SUM(size_bytes), 0) FROM uploads WHERE developer_id = ? AND id IS NOT ?",
        (developer_id, exclude_upload),
    ).fetchone()[0]
    return int(published) + int(pending)

"""Account rows."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from playhub.names import name_key


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    role: str
    username: str
    password_hash: str
    disabled: bool = False  # banned (migration 0005)


def create(conn: sqlite3.Connection, role: str, username: str, password_hash: str) -> int | None:
    """Insert an account; None when the name, compared folded (``name_key``), is taken in that role's namespace."""
    try:
        cur = conn.execute(
            "INSERT INTO accounts (role, username, name_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            (role, username, name_key(username), password_hash, time.time()),
        )
    except sqlite3.IntegrityError:
        return None
    return int(cur.lastrowid or 0)


def find(conn: sqlite3.Connection, role: str, username: str) -> AccountRow | None:
    row = conn.execute(
        "SELECT id, role, username, password_hash, disabled FROM accounts WHERE role = ? AND name_key = ?",
        (role, name_key(username)),
    ).fetchone()
    return AccountRow(row[0], row[1], row[2], row[3], bool(row[4])) if row else None


def set_password_hash(conn: sqlite3.Connection, account_id: int, password_hash: str) -> None:
    conn.execute("UPDATE accounts SET password_hash = ? WHERE id = ?", (password_hash, account_id))

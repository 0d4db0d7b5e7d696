"""Session rows: a SHA-256 of each token, its account and role, its sliding expiry, and whether it was replaced."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

# Replaced tokens remembered per account (so they answer 105 rather than 101); older ones are forgotten.
REPLACED_PER_ACCOUNT = 20


@dataclass(frozen=True, slots=True)
class SessionRow:
    token_sha256: bytes
    account_id: int
    role: str
    username: str
    expires_at: float
    replaced_at: float | None


def insert_replacing(
    conn: sqlite3.Connection, token_sha256: bytes, account_id: int, role: str, now: float, expires_at: float
) -> None:
    """Store a new live session; every older live session of the account becomes replaced, in the same transaction."""
    conn.execute(
        "UPDATE sessions SET replaced_at = ? WHERE account_id = ? AND role = ? AND replaced_at IS NULL",
        (now, account_id, role),
    )
    conn.execute(
        "INSERT INTO sessions (token_sha256, account_id, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (token_sha256, account_id, role, now, expires_at),
    )
    conn.execute(
        "DELETE FROM sessions WHERE account_id = ? AND role = ? AND replaced_at IS NOT NULL AND token_sha256 NOT IN ("
        " SELECT token_sha256 FROM sessions WHERE account_id = ? AND role = ? AND replaced_at IS NOT NULL"
        " ORDER BY replaced_at DESC LIMIT ?)",
        (account_id, role, account_id, role, REPLACED_PER_ACCOUNT),
    )


def delete(conn: sqlite3.Connection, token_sha256: bytes) -> None:
    conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (token_sha256,))


def delete_account(conn: sqlite3.Connection, account_id: int, role: str) -> int:
    """Forget every session of an account, live or replaced (a ban): its tokens answer 101 from now on."""
    return conn.execute("DELETE FROM sessions WHERE account_id = ? AND role = ?", (account_id, role)).rowcount


def touch_many(conn: sqlite3.Connection, items: Iterable[tuple[float, bytes]]) -> None:
    """Push expiries forward: ``items`` are ``(expires_at, token_sha256)``."""
    conn.executemany("UPDATE sessions SET expires_at = ? WHERE token_sha256 = ?", list(items))


def purge_expired(conn: sqlite3.Connection, now: float) -> int:
    return conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,)).rowcount


def load(conn: sqlite3.Connection, now: float) -> list[SessionRow]:
    """Every unexpired session with its account's username, oldest first."""
    rows = conn.execute(
        "SELECT s.token_sha256, s.account_id, s.role, a.username, s.expires_at, s.replaced_at"
        " FROM sessions s JOIN accounts a ON a.id = s.account_id"
        " WHERE s.expires_at > ? ORDER BY s.created_at",
        (now,),
    ).fetchall()
    return [SessionRow(bytes(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]

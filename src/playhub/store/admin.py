"""Roles, user roles, disabled accounts, the audit log and the change journal (migration 0005).

Plain functions on a ``sqlite3.Connection``: the server runs them in its database thread, ``playhub admin`` runs them
directly on the same file (offline, or next to a running server, which then reads the journal).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from playhub.names import name_key


@dataclass(frozen=True, slots=True)
class RoleRow:
    name: str
    is_system: bool
    permissions: frozenset[str]
    user_count: int


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    kind: str  # "player" or "developer" (the account namespace)
    username: str
    role: str
    disabled: bool
    disabled_reason: str | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: float
    actor: str
    action: str
    target: str
    detail: str


_USER_COLUMNS = "id, role, username, user_role, disabled, disabled_reason"


def _user(row: sqlite3.Row | tuple) -> UserRow:
    return UserRow(int(row[0]), row[1], row[2], row[3], bool(row[4]), row[5])


# --- roles -------------------------------------------------------------------------------------------------------------
def list_roles(conn: sqlite3.Connection) -> list[RoleRow]:
    perms: dict[str, set[str]] = {}
    for role, permission in conn.execute("SELECT role, permission FROM role_permissions"):
        perms.setdefault(role, set()).add(permission)
    counts = dict(
        conn.execute(
            "SELECT user_role, COUNT(*) FROM accounts WHERE role = 'player' GROUP BY user_role"
        ).fetchall()
    )
    return [
        RoleRow(name, bool(system), frozenset(perms.get(name, ())), int(counts.get(name, 0)))
        for name, system in conn.execute("SELECT name, is_system FROM roles ORDER BY is_system DESC, name")
    ]


def role_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM roles WHERE name = ?", (name,)).fetchone() is not None


def create_role(conn: sqlite3.Connection, name: str, permissions: list[str]) -> bool:
    """False when the name is taken."""
    try:
        conn.execute("INSERT INTO roles (name, is_system, created_at) VALUES (?, 0, ?)", (name, time.time()))
    except sqlite3.IntegrityError:
        return False
    set_permissions(conn, name, permissions)
    return True


def set_permissions(conn: sqlite3.Connection, name: str, permissions: list[str]) -> None:
    conn.execute("DELETE FROM role_permissions WHERE role = ?", (name,))
    conn.executemany(
        "INSERT INTO role_permissions (role, permission) VALUES (?, ?)",
        [(name, p) for p in sorted(set(permissions))],
    )


def delete_role(conn: sqlite3.Connection, name: str, replacement: str) -> int:
    """Move the role's users to ``replacement`` and delete it; returns how many users moved."""
    moved = conn.execute(
        "UPDATE accounts SET user_role = ? WHERE user_role = ?", (replacement, name)
    ).rowcount
    conn.execute("DELETE FROM roles WHERE name = ?", (name,))
    return int(moved)


# --- users ---------------------------------------------------------------------------------------------------------
def find_user(conn: sqlite3.Connection, kind: str, username: str) -> UserRow | None:
    row = conn.execute(
        f"SELECT {_USER_COLUMNS} FROM accounts WHERE role = ? AND name_key = ?", (kind, name_key(username))
    ).fetchone()
    return _user(row) if row else None


def list_users(
    conn: sqlite3.Connection, *, status: str | None = None, after: str = "", limit: int = 100
) -> list[UserRow]:
    """Accounts of both kinds in name order, from after ``after`` (a name key), optionally only active/disabled."""
    where = "name_key > ?"
    args: list[object] = [after]
    if status == "active":
        where += " AND disabled = 0"
    elif status == "disabled":
        where += " AND disabled = 1"
    args.append(limit)
    rows = conn.execute(
        f"SELECT {_USER_COLUMNS} FROM accounts WHERE {where} ORDER BY name_key, role LIMIT ?", args
    ).fetchall()
    return [_user(r) for r in rows]


def special_users(conn: sqlite3.Connection) -> list[UserRow]:
    """Accounts whose role is not the default or that are disabled: what the server keeps in memory."""
    rows = conn.execute(
        f"SELECT {_USER_COLUMNS} FROM accounts WHERE user_role != 'player' OR disabled = 1"
    ).fetchall()
    return [_user(r) for r in rows]


def set_user_role(conn: sqlite3.Connection, account_id: int, role: str) -> None:
    conn.execute("UPDATE accounts SET user_role = ? WHERE id = ?", (role, account_id))


def set_disabled(conn: sqlite3.Connection, account_id: int, disabled: bool, reason: str | None) -> None:
    """Disable (ban) or enable an account; disabling also deletes its stored sessions, so no token of it survives."""
    conn.execute(
        "UPDATE accounts SET disabled = ?, disabled_reason = ? WHERE id = ?",
        (1 if disabled else 0, reason if disabled else None, account_id),
    )
    if disabled:
        conn.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,))


# --- audit log and change journal ----------------------------------------------------------------------------------
def audit(conn: sqlite3.Connection, actor: str, action: str, target: str, detail: str = "") -> int:
    cur = conn.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        (time.time(), actor, action, target, detail),
    )
    return int(cur.lastrowid or 0)


def read_audit(conn: sqlite3.Connection, *, before: int | None = None, limit: int = 50) -> list[AuditRow]:
    """Newest first; ``before`` pages back from an entry id."""
    if before is None:
        rows = conn.execute(
            "SELECT id, at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT id, at, actor, action, target, detail FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?",
            (before, limit),
        ).fetchall()
    return [AuditRow(*r) for r in rows]


def note_change(conn: sqlite3.Connection) -> None:
    """Tell a running server that roles, user roles or bans changed behind its back."""
    conn.execute("INSERT INTO admin_changes (at) VALUES (?)", (time.time(),))
    # Only the newest entry matters: keep the journal from growing.
    conn.execute("DELETE FROM admin_changes WHERE id < (SELECT MAX(id) FROM admin_changes)")


def last_change(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(id) FROM admin_changes").fetchone()
    return int(row[0] or 0)

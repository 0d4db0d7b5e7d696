"""``playhub admin``: roles, users and bans, straight on the data directory's database.

Works with the server stopped (how the first administrator is made) and while it runs: every change also writes a
row to the change journal, which the running server polls (``admin_poll_interval_s``) and applies — a banned
account's live sessions are closed, a new role reaches the user's connections at once.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from playhub.protocol.errors import PlayHubError
from playhub.services import admin as svc
from playhub.store import admin as repo
from playhub.store.db import _connect, migrate

T = TypeVar("T")
DB_FILE = "playhub.sqlite3"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "admin",
        help="manage roles, users and bans (offline, or next to a running server)",
        description="Manage roles, users and bans in a PlayHub data directory. Works while the server is stopped "
        "and while it runs (the server applies each change within a second or so).",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("PLAYHUB_DATA_DIR", "playhub-data")),
        help="the server's data directory (default: $PLAYHUB_DATA_DIR or ./playhub-data)",
    )
    cmds = p.add_subparsers(dest="admin_command", metavar="<action>")
    g = cmds.add_parser("grant", help="give a player a role: grant NAME ROLE")
    g.add_argument("name")
    g.add_argument("role")
    u = cmds.add_parser("users", help="list accounts with role and status")
    u.add_argument("--status", choices=["active", "disabled"], default=None)
    u.add_argument("--limit", type=int, default=1_000)
    for name, text in (
        ("ban", "disable an account and end its sessions"),
        ("unban", "enable an account again"),
    ):
        b = cmds.add_parser(name, help=text)
        b.add_argument("name")
        b.add_argument("--developer", action="store_true", help="the developer account of that name")
        if name == "ban":
            b.add_argument("--reason", default="", help="shown to the user and kept in the audit log")
    cmds.add_parser("roles", help="list roles with their permissions and user counts")
    rc = cmds.add_parser("role-create", help="create a role: role-create NAME [PERMISSION ...]")
    rc.add_argument("name")
    rc.add_argument("permissions", nargs="*")
    rp = cmds.add_parser(
        "role-permissions", help="replace a role's permissions: role-permissions ROLE [PERM ...]"
    )
    rp.add_argument("role")
    rp.add_argument("permissions", nargs="*")
    rd = cmds.add_parser("role-delete", help="delete a role, moving its users: role-delete ROLE REPLACEMENT")
    rd.add_argument("role")
    rd.add_argument("replacement")
    a = cmds.add_parser("audit", help="show the audit log, newest first")
    a.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=run, admin_parser=p)


def _actor() -> str:
    try:
        return f"console:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "console"


def _write(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    """One transaction: the change, its audit entry and the journal row that tells a running server."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
        repo.note_change(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _table(rows: list[list[str]], head: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [head, *rows]
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if not args.admin_command:
        args.admin_parser.print_help()
        return 2
    path = args.data_dir / DB_FILE
    if not path.exists():
        print(
            f"no PlayHub database in {args.data_dir} (run 'playhub serve --data-dir {args.data_dir}' once)",
            file=sys.stderr,
        )
        return 1
    conn = _connect(path)
    try:
        migrate(conn)
        return _run(conn, args)
    except PlayHubError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        conn.close()


def _run(conn: sqlite3.Connection, args: argparse.Namespace) -> int:
    actor = _actor()
    cmd = args.admin_command
    kind = "developer" if getattr(args, "developer", False) else "player"
    if cmd == "grant":
        _write(conn, svc._set_user_role, actor, args.name, args.role.strip().lower())
        print(f"{args.name} now has the role {args.role.strip().lower()}")
    elif cmd == "users":
        rows = repo.list_users(conn, status=args.status, limit=args.limit)
        print(
            _table(
                [
                    [
                        u.username,
                        u.kind,
                        u.role,
                        "disabled" if u.disabled else "active",
                        u.disabled_reason or "",
                    ]
                    for u in rows
                ],
                ["NAME", "KIND", "ROLE", "STATUS", "REASON"],
            )
        )
    elif cmd == "ban":
        _write(conn, svc._ban, actor, kind, args.name, args.reason.strip())
        print(f"{kind} {args.name} is banned")
    elif cmd == "unban":
        _write(conn, svc._unban, actor, kind, args.name)
        print(f"{kind} {args.name} is active again")
    elif cmd == "roles":
        rows = repo.list_roles(conn)
        print(
            _table(
                [
                    [
                        r.name,
                        "system" if r.is_system else "",
                        str(r.user_count),
                        " ".join(sorted(svc.PERMISSIONS if r.name == svc.ADMIN_ROLE else r.permissions)),
                    ]
                    for r in rows
                ],
                ["ROLE", "", "USERS", "PERMISSIONS"],
            )
        )
    elif cmd == "role-create":
        name = svc.check_role_name(args.name)
        perms = svc.check_permissions(args.permissions)
        if not _write(conn, svc._create_role, actor, name, perms):
            print(f"error: the role '{name}' exists already", file=sys.stderr)
            return 1
        print(f"role {name} created")
    elif cmd == "role-permissions":
        role = args.role.strip().lower()
        if role == svc.ADMIN_ROLE:
            print("error: the admin role always holds every permission", file=sys.stderr)
            return 1
        _write(conn, svc._set_permissions, actor, role, svc.check_permissions(args.permissions))
        print(f"role {role}: {' '.join(sorted(set(args.permissions))) or '(no permissions)'}")
    elif cmd == "role-delete":
        role, replacement = args.role.strip().lower(), args.replacement.strip().lower()
        if role in svc.SYSTEM_ROLES:
            print(f"error: '{role}' is a system role and cannot be deleted", file=sys.stderr)
            return 1
        if role == replacement:
            print("error: the replacement role must be another role", file=sys.stderr)
            return 1
        moved = _write(conn, svc._delete_role, actor, role, replacement)
        print(f"role {role} deleted; {moved} user(s) moved to {replacement}")
    elif cmd == "audit":
        rows = repo.read_audit(conn, limit=args.limit)
        print(
            _table(
                [
                    [
                        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.at)),
                        r.actor,
                        r.action,
                        r.target,
                        r.detail,
                    ]
                    for r in rows
                ],
                ["WHEN", "WHO", "ACTION", "TARGET", "DETAIL"],
            )
        )
    return 0

"""SQLite in WAL mode, driven from one dedicated thread so the event loop never waits on the disk.

Every unit of work is a plain function taking a ``sqlite3.Connection``; ``Database.run`` executes it in the database
thread inside a transaction (committed on return, rolled back on exception). One writer thread also serialises writes,
which is what SQLite wants anyway. ``Database.read`` runs a single read statement without opening a write transaction.
The thread hands results back through ``playhub.workers`` (one loop wake-up per call: logins make several).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from playhub.names import name_key
from playhub.workers import WorkerThreads

T = TypeVar("T")
log = logging.getLogger("playhub.store")


def _sql_name_key(value: object) -> str | None:
    return name_key(value) if isinstance(value, str) else None


def _connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    # Folded names (NFKC + case folding) in SQL too: migrations and triggers key names with the same rule as Python.
    conn.create_function("name_key", 1, _sql_name_key, deterministic=True)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "PRAGMA synchronous=NORMAL"
    )  # with WAL: never corrupt, a crash loses at most the last commits
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def migrations() -> list[tuple[int, str, str]]:
    """Numbered migration scripts shipped in ``store/migrations`` as ``NNNN_name.sql``, in order."""
    found = []
    for entry in resources.files("playhub.store.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the database's ``user_version``, each in its own transaction."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, name, script in migrations():
        if number <= current and not _missing(conn, script):
            continue
        log.info("applying migration %s", name)
        # executescript commits on its own; wrap so a failing script leaves user_version where it was.
        version = max(current, number)
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
        current = max(current, number)
    return current


def _missing(conn: sqlite3.Connection, script: str) -> bool:
    """Whether a migration numbered at or below ``user_version`` was still never applied: a script whose first line is
    ``-- marks: table.column`` names a column it adds, so a database that reached a higher number before this script
    existed gets it late instead of never."""
    first = script.split("\n", 1)[0]
    if not first.startswith("-- marks: "):
        return False
    table, _, column = first.removeprefix("-- marks: ").strip().partition(".")
    columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    return bool(columns) and column not in columns


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._executor = WorkerThreads(1, "playhub-db")
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open_sync(self) -> None:
        self._conn = _connect(self.path)
        migrate(self._conn)

    async def open(self) -> None:
        await self._executor.run(self.open_sync)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...], durable: bool = False) -> T:
        conn = self._conn
        if conn is None:
            raise RuntimeError("database is closed")
        with self._lock:
            if durable:  # the pragma cannot change inside a transaction
                conn.execute("PRAGMA synchronous=FULL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn, *args)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                if durable:
                    conn.execute("PRAGMA synchronous=NORMAL")
            return result

    def _read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._conn
        if conn is None:
            raise RuntimeError("database is closed")
        with self._lock:
            return fn(conn, *args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` in the database thread, in one transaction."""
        return await self._executor.run(self._call, fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)``, which must only read with ONE statement, in the database thread without a write
        transaction: a single statement sees one consistent snapshot on its own (for hot paths such as logins)."""
        return await self._executor.run(self._read, fn, args)

    async def run_durable(self, fn: Callable[..., T], *args: Any) -> T:
        """Like ``run``, but the commit is on stable storage when this returns (``synchronous=FULL`` syncs the WAL on
        commit): for writes whose answer promises durability, such as a published version."""
        return await self._executor.run(self._call, fn, args, True)

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Same as ``run`` for code that is not on the event loop (startup, tools, tests)."""
        return self._executor.submit(self._call, fn, args).result()

    async def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                # A clean shutdown folds the WAL back into the database file, so the next start replays nothing.
                try:
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error as exc:
                    log.warning("WAL checkpoint at shutdown failed: %s", exc)
                self._conn.close()
                self._conn = None

        await self._executor.run(_close)
        self._executor.close(wait=True)

"""SQLite in WAL mode, driven from one dedicated thread so the event loop never waits on the disk.

Every unit of work is a plain function taking a ``sqlite3.Connection``; ``Database.run`` executes it in the database
thread inside a transaction (committed on return, rolled back on exception). One writer thread also serialises writes,
which is what SQLite wants anyway.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("playhub.store")


def _connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
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
        if number <= current:
            continue
        log.info("applying migration %s", name)
        # executescript commits on its own; wrap so a failing script leaves user_version where it was.
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        current = number
    return current


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playhub-db")
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open_sync(self) -> None:
        self._conn = _connect(self.path)
        migrate(self._conn)

    async def open(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self.open_sync)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._conn
        if conn is None:
            raise RuntimeError("database is closed")
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn, *args)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` in the database thread, in one transaction."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, fn, args)

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Same as ``run`` for code that is not on the event loop (startup, tools, tests)."""
        return self._executor.submit(self._call, fn, args).result()

    async def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, _close)
        self._executor.shutdown(wait=True)

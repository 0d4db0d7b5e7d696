"""One ordered queue of database work, run in batches: group commit for write-heavy services (chat).

``submit(fn, *args)`` queues ``fn(conn, *args)`` and returns a future of its result; work runs in submission order.
Whatever is queued while a batch runs goes into the next one, and each batch is one transaction (one commit for many
messages), with every piece of work in its own savepoint so one failing piece fails alone. A caller that must not
answer before its write is stored (a chat message) awaits the future: the commit has happened when it resolves.
Callers that cannot wait (hooks called synchronously) submit and move on; order with later work is still kept.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from playhub.store.db import Database

T = TypeVar("T")
log = logging.getLogger("playhub.store")

_Work = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


def _run_batch(conn: sqlite3.Connection, batch: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
    """In the database thread, inside ``Database.run``'s transaction: each piece in a savepoint."""
    results: list[Any] = []
    for fn, args in batch:
        conn.execute("SAVEPOINT piece")
        try:
            results.append((True, fn(conn, *args)))
        except Exception as exc:  # this piece only: the others of the batch still commit
            conn.execute("ROLLBACK TO piece")
            results.append((False, exc))
        conn.execute("RELEASE piece")
    return results


def _log_failure(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.error("a database write failed", exc_info=fut.exception())


class SerialWriter:
    def __init__(self, db: Database, batch_max: int = 512) -> None:
        self.db = db
        self.batch_max = max(1, batch_max)
        self._queue: list[_Work] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # transactions committed so far (benchmarks report work per commit)

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((fn, args, fut))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return fut

    def submit_detached(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue work nobody waits for (hooks): a failure is logged."""
        self.submit(fn, *args).add_done_callback(_log_failure)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` after everything submitted before it; its result once committed."""
        return await self.submit(fn, *args)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.batch_max], self._queue[self.batch_max :]
                try:
                    results = await self.db.run(_run_batch, [(fn, args) for fn, args, _ in batch])
                except Exception as exc:  # the commit itself failed: nothing of this batch is stored
                    log.exception("a batch of %d database writes failed", len(batch))
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                self.batches += 1
                for (_, _, fut), (ok, value) in zip(batch, results, strict=True):
                    if fut.done():
                        continue  # the caller went away (its connection closed): the work is done all the same
                    if ok:
                        fut.set_result(value)
                    else:
                        fut.set_exception(value)
        finally:
            self._task = None

    async def flush(self) -> None:
        """Wait until everything submitted so far is stored (shutdown)."""
        while self._task is not None:
            await asyncio.shield(self._task)

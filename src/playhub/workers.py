"""Worker threads that hand their results back to the event loop with a single wake-up.

``loop.run_in_executor`` with a ``ThreadPoolExecutor`` costs, per job, a concurrent Future with its Condition, an asyncio
Future chained to it with callbacks on both sides, and the executor's bookkeeping, much of it on the event loop thread
while it holds the GIL. A login takes several such hops (the account lookup, the password check, the session write, the
logout's delete), and while password hashes keep every core busy that overhead is what stands between the login rate
and the raw hashing rate. Here a job is a tuple on a ``SimpleQueue``; the worker runs it and settles the caller's
asyncio Future through one ``call_soon_threadsafe``.

Semantics follow the executor's: jobs run in submission order on ``count`` threads; a job whose caller was cancelled
before a thread picked it up is skipped; an exception raised by the job is raised to the caller.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


def _settle(fut: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if fut.done():  # the caller was cancelled meanwhile
        return
    if exc is None:
        fut.set_result(result)
    else:
        fut.set_exception(exc)


class WorkerThreads:
    def __init__(self, count: int, name: str) -> None:
        self.count = count
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True) for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is _STOP:
                return
            fn, args, fut, loop, on_end = item
            # Skipped when cancelled before it started (a concurrent Future: when cancel() succeeded).
            skip = fut.done() if loop is not None else not fut.set_running_or_notify_cancel()
            result: Any = None
            exc: BaseException | None = None
            if not skip:
                try:
                    result = fn(*args)
                except BaseException as error:  # handed to the caller, as an executor does
                    exc = error
            # Before the result is delivered: whoever sees the result may count on the thread being free already.
            if on_end is not None:
                on_end()
            if skip:
                continue
            if loop is None:
                if exc is None:
                    fut.set_result(result)
                else:
                    fut.set_exception(exc)
                continue
            try:
                loop.call_soon_threadsafe(_settle, fut, result, exc)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def _put(self, item: tuple[Any, ...]) -> None:
        if self._closed:
            raise RuntimeError("worker threads are closed")
        self._queue.put(item)

    def start(
        self, fn: Callable[..., T], *args: Any, on_end: Callable[[], None] | None = None
    ) -> asyncio.Future[T]:
        """Queue ``fn(*args)`` for a worker thread (from the event loop); ``on_end`` is called on that thread once the
        job is over, run or skipped, which is when its thread is really free again. Raises at once when closed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._put((fn, args, fut, loop, on_end))
        return fut

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on a worker thread and wait for its result."""
        return await self.start(fn, *args)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on a worker thread, for callers that are not on an event loop."""
        fut: Future[T] = Future()
        self._put((fn, args, fut, None, None))
        return fut

    def close(self, wait: bool = True) -> None:
        """Skip jobs that have not started and stop the threads (after their current job)."""
        if self._closed:
            return
        self._closed = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            fn, args, fut, loop, on_end = item
            if loop is None:
                fut.cancel()
            else:
                try:
                    loop.call_soon_threadsafe(fut.cancel)
                except RuntimeError:
                    pass
            if on_end is not None:
                on_end()
        for _ in self._threads:
            self._queue.put(_STOP)
        if wait:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join()

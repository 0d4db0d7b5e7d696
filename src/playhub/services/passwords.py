"""Password hashing: argon2id on a pool of worker threads, one per core, behind a bounded queue.

Parameters: OWASP Password Storage Cheat Sheet, argon2id minimum configuration ``m = 19 MiB, t = 2, p = 1``
(settings ``argon2_memory_kib``, ``argon2_time_cost``, ``argon2_parallelism``). OWASP lists trade-offs of equal strength
(46 MiB/t=1, 12 MiB/t=3, 9 MiB/t=4, 7 MiB/t=5); the 19 MiB set is the one it names first, costs about the same CPU time
as the others and keeps each hash's memory small, so a full pool stays at ``workers x 19 MiB``.

argon2-cffi releases the GIL while hashing, so ``hash_concurrency`` threads really use that many cores and the event
loop keeps serving meanwhile. Work that cannot start at once waits in a queue of at most ``hash_queue_max`` entries;
past that, logins and registrations answer 106 with ``retry_after_s`` instead of piling up memory and latency.

A stored hash made with other parameters (weaker or stronger than today's settings) is replaced by a hash with the
current ones on the next successful login (``Verified.new_hash``), computed in the same worker job.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from playhub.protocol.errors import RateLimited
from playhub.settings import Settings

T = TypeVar("T")


def available_cores() -> int:
    """Cores this process may run on (affinity-aware where the platform tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def hasher_for(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


@dataclass(frozen=True, slots=True)
class Verified:
    ok: bool
    new_hash: str | None = None  # set when the stored hash used other parameters and was recomputed


class HashSlot:
    """A reserved place in the hashing queue; released once, when its job ends or when it is given up unused."""

    __slots__ = ("_service", "_released", "used")

    def __init__(self, service: PasswordService) -> None:
        self._service = service
        self._released = False
        self.used = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._service._release()

    def give_up(self) -> None:
        """Not needed after all (the request failed before hashing)."""
        if not self.used:
            self.release()


class PasswordService:
    def __init__(self, settings: Settings) -> None:
        self.hasher = hasher_for(settings)
        self.workers = settings.hash_concurrency or available_cores()
        self.queue_max = settings.hash_queue_max
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="playhub-hash")
        self._lock = threading.Lock()
        self._in_flight = 0  # running + queued jobs; released by the worker when a job really ends
        self._avg_s = 0.05  # running estimate of one job's duration, for retry_after_s
        # Verifying against this when the account does not exist keeps the timing of both failures alike.
        self._dummy_hash = self.hasher.hash("playhub-timing-equaliser")

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def reserve(self) -> HashSlot:
        """Take a place in the queue now (raises 106 when it is full), to be used by ``verify``/``hash`` later.

        Reserving before any other await lets a caller refuse at once, before it counts or looks anything up.
        """
        with self._lock:
            if self._in_flight >= self.workers + self.queue_max:
                # Half the queue's drain time: a slot frees long before the whole queue is done, and a client told
                # to wait longer than needed would leave the workers idle.
                wait = 0.5 * self._avg_s * (self._in_flight / self.workers)
                busy = RateLimited(wait)
                busy.message = f"the server is busy checking passwords: try again in {busy.retry_after_s} s"
                raise busy
            self._in_flight += 1
        return HashSlot(self)

    async def _run(self, slot: HashSlot | None, fn: Callable[..., T], *args: object) -> T:
        slot = slot or self.reserve()

        def job() -> T:
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                self._avg_s = 0.8 * self._avg_s + 0.2 * (time.perf_counter() - t0)

        try:
            future: Future[T] = self._pool.submit(job)
        except BaseException:
            slot.release()
            raise
        # Released when the job ends (or is cancelled before starting), not when the caller stops waiting: a client
        # that disconnects mid-login must not free a slot whose thread is still busy.
        slot.used = True
        future.add_done_callback(lambda _f: slot.release())
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    async def hash(self, password: str, slot: HashSlot | None = None) -> str:
        return await self._run(slot, self.hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str, slot: HashSlot | None = None) -> Verified:
        """Check ``password``; ``stored_hash`` None (no such account) costs the same and fails."""
        return await self._run(slot, self._verify, stored_hash, password)

    def _verify(self, stored_hash: str | None, password: str) -> Verified:
        try:
            ok = self.hasher.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return Verified(False)
        if ok and self.hasher.check_needs_rehash(stored_hash):  # type: ignore[arg-type]
            return Verified(True, self.hasher.hash(password))
        return Verified(ok)

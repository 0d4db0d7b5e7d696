"""Password hashing: argon2id (libsodium) on a pool of worker threads, one per core, behind a bounded queue.

Parameters: OWASP Password Storage Cheat Sheet, argon2id. It lists five minimum configurations "of an equal level of
defense, the only difference is a trade off between CPU and RAM usage" (46 MiB/t=1, 19 MiB/t=2, 12 MiB/t=3, 9 MiB/t=4,
7 MiB/t=5, all p=1). PlayHub uses ``m = 7 MiB, t = 5, p = 1`` (settings ``argon2_memory_kib``, ``argon2_time_cost``):
with libsodium's vectorised (SSE/AVX2/AVX-512) block filling and a 7 MiB block that stays near the caches, it is the
fastest of the five here, about twice as many verifications per core as argon2-cffi's reference code at 19 MiB/t=2.

libsodium (through PyNaCl's cffi bindings) releases the GIL while hashing, so ``hash_concurrency`` threads really use
that many cores and the event loop keeps serving meanwhile. Work that cannot start at once waits in a queue of at most
``hash_queue_max`` entries; past that, logins and registrations answer 106 with ``retry_after_s`` instead of piling up
memory and latency.

Any stored argon2id hash verifies, whatever its parameters (libsodium reads them from the standard
``$argon2id$v=19$m=..,t=..,p=..$salt$hash`` string, as argon2-cffi does; both write that same format). One made with
other parameters than today's settings (older, weaker or stronger) is replaced by a hash with the current ones on the
next successful login (``Verified.new_hash``), computed in the same worker job. Hashes of another argon2 variant
(argon2i/argon2d, never written by PlayHub) are checked with argon2-cffi and upgraded the same way.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from nacl import pwhash
from nacl.exceptions import CryptoError

from playhub.protocol.errors import RateLimited
from playhub.settings import Settings
from playhub.workers import WorkerThreads

T = TypeVar("T")


def available_cores() -> int:
    """Cores this process may run on (affinity-aware where the platform tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


_ARGON2ID = "$argon2id$"


def _utf8(password: str) -> bytes:
    # A JSON string may carry a lone surrogate: hash its bytes rather than fail on them.
    return password.encode("utf-8", "surrogatepass")


class Argon2id:
    """argon2id with fixed parameters: hash with libsodium, verify any argon2 hash, tell when one is outdated."""

    def __init__(self, memory_kib: int, time_cost: int) -> None:
        self.memory_kib = memory_kib
        self.time_cost = time_cost
        self._memlimit = memory_kib * 1024
        # What every hash made with today's parameters starts with: a prefix test spares a full parse per login.
        self._current = f"{_ARGON2ID}v=19$m={memory_kib},t={time_cost},p=1$"
        # Only for the argon2i/argon2d variants, which libsodium cannot all read.
        self._other = PasswordHasher()

    def hash(self, password: str) -> str:
        raw = pwhash.argon2id.str(_utf8(password), opslimit=self.time_cost, memlimit=self._memlimit)
        return raw.decode("ascii")

    def verify(self, stored_hash: str, password: str) -> bool:
        """True when ``password`` matches; False when it does not or ``stored_hash`` is not an argon2 hash."""
        if stored_hash.startswith(_ARGON2ID):
            try:
                # libsodium answers -1 for a wrong password and for a malformed string alike: both are a failure.
                return pwhash.argon2id.verify(stored_hash.encode("ascii"), _utf8(password))
            except (CryptoError, UnicodeEncodeError):
                return False
        try:
            return self._other.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        if stored_hash.startswith(self._current):
            return False
        try:
            p = extract_parameters(stored_hash)
        except InvalidHashError:
            return True
        return (p.type, p.version, p.memory_cost, p.time_cost, p.parallelism) != (
            Type.ID,
            19,
            self.memory_kib,
            self.time_cost,
            1,
        )


def hasher_for(settings: Settings) -> Argon2id:
    return Argon2id(settings.argon2_memory_kib, settings.argon2_time_cost)


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
        self._pool = WorkerThreads(self.workers, "playhub-hash")
        self._lock = threading.Lock()
        self._in_flight = 0  # running + queued jobs; released by the worker when a job really ends
        self._avg_s = 0.05  # running estimate of one job's duration, for retry_after_s
        # Verifying against this when the account does not exist keeps the timing of both failures alike.
        self._dummy_hash = self.hasher.hash("playhub-timing-equaliser")

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def close(self) -> None:
        self._pool.close(wait=False)

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

        # Released when the job ends (or is skipped, cancelled before starting), not when the caller stops waiting: a
        # client that disconnects mid-login must not free a slot whose thread is still busy.
        try:
            future = self._pool.start(job, on_end=slot.release)
        except BaseException:
            slot.release()
            raise
        slot.used = True
        return await future

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    async def hash(self, password: str, slot: HashSlot | None = None) -> str:
        return await self._run(slot, self.hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str, slot: HashSlot | None = None) -> Verified:
        """Check ``password``; ``stored_hash`` None (no such account) costs the same and fails."""
        return await self._run(slot, self._verify, stored_hash, password)

    def _verify(self, stored_hash: str | None, password: str) -> Verified:
        ok = self.hasher.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        if ok and self.hasher.needs_rehash(stored_hash):  # type: ignore[arg-type]
            return Verified(True, self.hasher.hash(password))
        return Verified(ok)

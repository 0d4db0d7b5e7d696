"""Login throttling: attempt counters that count an attempt when it starts, with bounded, expiring keys.

Three counters guard every login (``LoginLimiter``):

* per client IP + account: the tight one (``login_fail_max_per_ip_account``), stops guessing one password from one place;
* per account, from anywhere (``login_fail_max_per_account``): stops a guess spread over many addresses;
* per client IP (``login_fail_max_per_ip``): a high ceiling against spraying one password over many accounts. It is
  high on purpose: many honest players share one address (NAT, a school, a LAN party), and one attacker among them
  must not lock the others out; the two per-account counters do the precise work.

An attempt is counted when it *starts*, before the password hash is checked, so a burst of parallel attempts cannot all
slip under the limit while the first ones are still hashing; a successful login gives its attempt back. Keys are
fixed-size digests (a 1 MB username costs 16 bytes), entries expire with their window, and each table is capped at
``login_limiter_max_keys``: when full, expired keys go first, then the least recently used ones.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict, deque

from playhub.names import name_key
from playhub.protocol.errors import RateLimited


def digest_key(*parts: str) -> bytes:
    """A fixed-size key for ``parts``: bounded memory whatever the client sends, no raw names kept."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))  # length-prefixed: ("ab", "c") and ("a", "bc") differ
        h.update(data)
    return h.digest()


class AttemptCounter:
    """Sliding-window attempt counts per key, at most ``limit`` stamps per key and ``max_keys`` keys."""

    def __init__(self, limit: int, window_s: float, max_keys: int = 100_000) -> None:
        self.limit = max(1, limit)
        self.window_s = window_s
        self.max_keys = max(1, max_keys)
        # Least recently touched first, so expiry and eviction both work from the front.
        self._hits: OrderedDict[bytes, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hits)

    def keys(self) -> list[bytes]:
        return list(self._hits)

    def _trim(self, hits: deque[float], now: float) -> None:
        while hits and now - hits[0] >= self.window_s:
            hits.popleft()

    def blocked_for(self, key: bytes, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        hits = self._hits.get(key)
        if hits is None:
            return 0.0
        self._trim(hits, now)
        if len(hits) < self.limit:
            return 0.0
        return self.window_s - (now - hits[0])

    def add(self, key: bytes, now: float) -> None:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self.sweep(now)
                while len(self._hits) >= self.max_keys:  # still full: forget the least recently used
                    self._hits.popitem(last=False)
            # maxlen: a key never holds more stamps than it needs to decide.
            hits = self._hits[key] = deque(maxlen=self.limit)
        else:
            self._hits.move_to_end(key)
        self._trim(hits, now)
        hits.append(now)

    def give_back(self, key: bytes, stamp: float) -> None:
        """Remove one attempt recorded at ``stamp`` (a login that turned out fine)."""
        hits = self._hits.get(key)
        if hits is None:
            return
        try:
            hits.remove(stamp)
        except ValueError:
            return
        if not hits:
            del self._hits[key]

    def reset(self, key: bytes) -> None:
        self._hits.pop(key, None)

    def sweep(self, now: float | None = None) -> int:
        """Forget keys whose newest attempt left the window; returns how many were dropped."""
        now = time.monotonic() if now is None else now
        dropped = 0
        # Front = least recently touched; once a key is still live, every key after it is newer.
        while self._hits:
            key, hits = next(iter(self._hits.items()))
            if hits and now - hits[-1] < self.window_s:
                break
            del self._hits[key]
            dropped += 1
        return dropped


class LoginAttempt:
    """One login in progress: ``succeeded`` gives its counted attempt back."""

    __slots__ = ("_limiter", "_keys", "_stamp")

    def __init__(self, limiter: LoginLimiter, keys: tuple[bytes, bytes, bytes], stamp: float) -> None:
        self._limiter = limiter
        self._keys = keys
        self._stamp = stamp

    def succeeded(self) -> None:
        ip_account, account, ip = self._keys
        lim = self._limiter
        lim.per_ip_account.reset(ip_account)  # the right password from here: start afresh
        lim.per_account.give_back(account, self._stamp)
        lim.per_ip.give_back(ip, self._stamp)


class LoginLimiter:
    def __init__(
        self,
        *,
        window_s: float,
        max_per_ip_account: int,
        max_per_account: int,
        max_per_ip: int,
        max_keys: int,
    ) -> None:
        self.per_ip_account = AttemptCounter(max_per_ip_account, window_s, max_keys)
        self.per_account = AttemptCounter(max_per_account, window_s, max_keys)
        self.per_ip = AttemptCounter(max_per_ip, window_s, max_keys)

    def start(self, ip: str, role: str, username: str, now: float | None = None) -> LoginAttempt:
        """Count one attempt now, or raise ``RateLimited`` (106) without counting it."""
        now = time.monotonic() if now is None else now
        name = name_key(username)
        keys = (digest_key("ip+account", ip, role, name), digest_key("account", role, name), digest_key("ip", ip))
        counters = (self.per_ip_account, self.per_account, self.per_ip)
        wait = max(counter.blocked_for(key, now) for counter, key in zip(counters, keys, strict=True))
        if wait > 0:
            raise RateLimited(wait)
        for counter, key in zip(counters, keys, strict=True):
            counter.add(key, now)
        return LoginAttempt(self, keys, now)

    def sweep(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        return sum(c.sweep(now) for c in (self.per_ip_account, self.per_account, self.per_ip))

    def __len__(self) -> int:
        return len(self.per_ip_account) + len(self.per_account) + len(self.per_ip)


class TokenBuckets:
    """Token buckets per key (flood control): ``rate`` tokens per second up to ``burst``; each action takes one.

    A bucket that has refilled completely holds no information, so idle keys may be forgotten: the table is capped at
    ``max_keys``, dropping the least recently used first (a dropped key comes back with a full bucket, which is what
    it would have had anyway once idle for ``burst / rate`` seconds).
    """

    __slots__ = ("rate", "burst", "max_keys", "_buckets")

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(max(1, burst))
        self.max_keys = max(1, max_keys)
        self._buckets: OrderedDict[object, tuple[float, float]] = OrderedDict()  # key -> (tokens, stamp)

    def wait_for(self, key: object, now: float) -> float:
        """Seconds until ``key`` has a token (0 = now); takes nothing."""
        if self.rate <= 0:
            return 0.0
        tokens = self._tokens(key, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self, key: object, now: float) -> None:
        """Take one token (call after ``wait_for`` said 0)."""
        if self.rate <= 0:
            return
        tokens = self._tokens(key, now) - 1.0
        if key in self._buckets:
            self._buckets.move_to_end(key)
        elif len(self._buckets) >= self.max_keys:
            self._buckets.popitem(last=False)
        self._buckets[key] = (tokens, now)

    def _tokens(self, key: object, now: float) -> float:
        state = self._buckets.get(key)
        if state is None:
            return self.burst
        tokens, stamp = state
        return min(self.burst, tokens + (now - stamp) * self.rate)

    def __len__(self) -> int:
        return len(self._buckets)

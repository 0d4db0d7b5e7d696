"""Quotas per account, per client IP and per connection: what one client may hold at once, and how fast it may
register accounts.

Per-IP keys fold an IPv6 address to its /64 (one subscriber's usual allocation: a client owns the whole prefix, so
counting single addresses would be no limit at all) and an IPv4-mapped IPv6 address to its IPv4 form. A limit of 0
means "no limit".
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Hashable

from playhub.protocol.errors import BadState, RateLimited


def ip_key(ip: str) -> str:
    """The key per-IP quotas count under."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return ip[:64]  # not an IP (a Unix socket, a test transport): count it as given, bounded
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


class Tally:
    """Counts of things held at once per key (open rooms, running downloads)."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[Hashable, int] = {}

    def __getitem__(self, key: Hashable) -> int:
        return self._counts.get(key, 0)

    def add(self, key: Hashable) -> None:
        self._counts[key] = self._counts.get(key, 0) + 1

    def remove(self, key: Hashable) -> None:
        left = self._counts.get(key, 0) - 1
        if left > 0:
            self._counts[key] = left
        else:
            self._counts.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)


def over(tally: Tally, key: Hashable, limit: int) -> bool:
    """Would one more under ``key`` exceed ``limit``? (0 = no limit)"""
    return limit > 0 and tally[key] >= limit


class WindowLimiter:
    """At most ``limit`` events per key within ``window_s``. An event is counted when it is admitted, before the
    work it stands for starts, so concurrent attempts cannot all pass the check. The table is bounded."""

    __slots__ = ("limit", "window_s", "max_keys", "_hits")

    def __init__(self, limit: int, window_s: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: dict[Hashable, deque[float]] = {}

    def admit(self, key: Hashable, now: float | None = None) -> None:
        """Count one event for ``key``, or raise RateLimited (with ``retry_after_s``) past the limit."""
        if self.limit <= 0:
            return
        now = time.monotonic() if now is None else now
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._prune(now)
            hits = self._hits[key] = deque()
        while hits and now - hits[0] >= self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            raise RateLimited(
                self.window_s - (now - hits[0]), "too many registrations from this address: try again later"
            )
        hits.append(now)

    def _prune(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or now - h[-1] >= self.window_s]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:  # still full: forget the oldest half rather than grow
            for key in list(self._hits)[: self.max_keys // 2]:
                del self._hits[key]


def check_sessions_per_connection(bound: int, limit: int) -> None:
    """Refuse one more login on a connection that already carries ``limit`` sessions (105)."""
    if limit > 0 and bound >= limit:
        raise BadState(
            f"this connection already carries {bound} sessions (at most {limit}): log out or use another connection"
        )

"""Sliding-window failure counters for login throttling (per IP, and per IP + account)."""

from __future__ import annotations

import time
from collections import deque

from playhub.protocol.errors import RateLimited


class FailureLimiter:
    """Counts failures per key within ``window_s``; ``check`` raises RateLimited once ``limit`` is reached."""

    def __init__(self, limit: int, window_s: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: dict[object, deque[float]] = {}

    def _window(self, key: object, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._prune(now)
            hits = self._hits[key] = deque()
        while hits and now - hits[0] >= self.window_s:
            hits.popleft()
        return hits

    def _prune(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or now - h[-1] >= self.window_s]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:  # still full: forget the oldest half rather than grow
            for key in list(self._hits)[: self.max_keys // 2]:
                del self._hits[key]

    def check(self, key: object, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        hits = self._window(key, now)
        if len(hits) >= self.limit:
            raise RateLimited(self.window_s - (now - hits[0]))

    def fail(self, key: object, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._window(key, now).append(now)

    def reset(self, key: object) -> None:
        self._hits.pop(key, None)

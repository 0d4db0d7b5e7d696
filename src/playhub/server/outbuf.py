"""Bounded output: what a client that does not read its answers may cost the server.

Three bounds, each a setting:

* **per connection** (``max_send_buffer_bytes``): before a frame is written, the bytes still queued in the transport
  plus the new frame must fit. A frame is always accepted on an empty buffer, so one answer larger than the cap
  reaches a client that reads it; a second one behind it does not.
* **in time** (``send_stall_timeout_s``): once a write leaves more than ``write_buffer_high_bytes`` queued, the
  bytes above that mark must reach the kernel within the timeout. The check follows the stream position, not the
  momentary buffer size, so a download that keeps the buffer near the mark while the client reads is never cut.
* **server-wide** (``max_total_send_buffer_bytes``): the queued output of every backlogged connection is summed;
  past the cap the connections holding the most are dropped until the total is back under three quarters of it.

Only connections over the high-water mark are tracked, so a client that keeps up pays two buffer-size reads per
frame and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playhub.settings import Settings

log = logging.getLogger("playhub.conn")

Drop = Callable[[str], None]


class OutputBudget:
    """Server-wide account of the output queued for connections that are not keeping up."""

    __slots__ = ("limit", "high", "_sizes", "_total", "dropped")

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.max_total_send_buffer_bytes
        self.high = settings.write_buffer_high_bytes
        self._sizes: dict[OutputGuard, int] = {}  # last size seen per backlogged connection
        self._total = 0  # sum of _sizes: an overestimate, since buffers drain without telling us
        self.dropped = 0  # connections dropped by the server-wide cap (for tests and logs)

    @property
    def tracked(self) -> int:
        return len(self._sizes)

    def update(self, guard: OutputGuard, size: int) -> None:
        old = self._sizes.get(guard, 0)
        if size > self.high:
            self._sizes[guard] = size
        elif old:
            del self._sizes[guard]
        else:
            return
        self._total += (size if size > self.high else 0) - old
        if self._total > self.limit:
            self._enforce()

    def forget(self, guard: OutputGuard) -> None:
        old = self._sizes.pop(guard, 0)
        self._total -= old

    def _enforce(self) -> None:
        # The running total may be stale: measure every tracked connection before dropping anyone.
        sizes: list[tuple[int, OutputGuard]] = []
        for guard in list(self._sizes):
            size = guard.buffered()
            if size > self.high and not guard.closing():
                sizes.append((size, guard))
                self._sizes[guard] = size
            else:
                del self._sizes[guard]
        total = sum(size for size, _ in sizes)
        self._total = total
        if total <= self.limit:
            return
        target = self.limit * 3 // 4  # hysteresis: do not re-run this scan on the very next write
        sizes.sort(key=lambda item: item[0], reverse=True)
        for size, guard in sizes:
            if total <= target:
                break
            total -= size
            self.forget(guard)
            self.dropped += 1
            guard.drop(f"server-wide output cap reached ({self.limit} bytes queued for slow clients)")


class OutputGuard:
    """Per-connection bounds on queued output; ``drop`` is called (once) when the client must be disconnected."""

    __slots__ = ("transport", "budget", "cap", "high", "stall_s", "_drop", "_written", "_target", "_timer")

    def __init__(
        self, transport: asyncio.WriteTransport, settings: Settings, budget: OutputBudget, drop: Drop
    ) -> None:
        self.transport = transport
        self.budget = budget
        self.cap = settings.max_send_buffer_bytes
        self.high = settings.write_buffer_high_bytes
        self.stall_s = settings.send_stall_timeout_s
        self._drop: Drop | None = drop
        self._written = 0  # bytes handed to the transport so far: the stream position
        self._target = 0  # stream position that must reach the kernel before the stall timer fires
        self._timer: asyncio.TimerHandle | None = None

    def buffered(self) -> int:
        return self.transport.get_write_buffer_size()

    def closing(self) -> bool:
        return self._drop is None or self.transport.is_closing()

    def admit(self, nbytes: int) -> bool:
        """May a frame of ``nbytes`` be queued? False (and the client dropped) when it is not reading."""
        pending = self.transport.get_write_buffer_size()
        if pending and pending + nbytes > self.cap:
            self.drop(f"not reading its answers ({pending} bytes queued, cap {self.cap})")
            return False
        return True

    def wrote(self, nbytes: int) -> None:
        """Account a frame just written; start watching the connection if it left a backlog."""
        self._written += nbytes
        size = self.transport.get_write_buffer_size()
        if size > self.high:
            if self._timer is None:
                self._arm()
            self.budget.update(self, size)

    def must_drain(self) -> None:
        """Everything queued so far must reach the kernel within the stall timeout. For a sender that waits for an
        empty buffer (file frames): below the high-water mark nothing else would notice a client that stopped."""
        if self._timer is None and not self.closing():
            self._target = self._written
            self._timer = asyncio.get_running_loop().call_later(self.stall_s, self._check_stall)

    def _arm(self) -> None:
        # Everything queued above the high-water mark now must be flushed by the deadline.
        self._target = self._written - self.high
        self._timer = asyncio.get_running_loop().call_later(self.stall_s, self._check_stall)

    def _check_stall(self) -> None:
        self._timer = None
        if self.closing():
            return
        size = self.transport.get_write_buffer_size()
        flushed = self._written - size
        if flushed < self._target:
            self.drop(f"did not drain its backlog within {self.stall_s:g} s ({size} bytes queued)")
            return
        self.budget.update(self, size)
        if size > self.high:
            self._arm()

    def drop(self, why: str) -> None:
        drop, self._drop = self._drop, None
        self.close()
        if drop is not None:
            drop(why)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.budget.forget(self)

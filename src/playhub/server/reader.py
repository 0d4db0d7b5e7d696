"""The stream reader behind every connection: received bytes are handed to the frame decoder as they came.

asyncio's ``StreamReader`` copies each received block into one growing buffer and copies it out again on ``read``;
for transfer chunks that is two extra copies of every byte on the event loop. ``ChunkReader`` keeps the blocks the
transport delivered and returns them whole, with the same flow control (reading pauses past twice the limit).
Connections only ever call ``read``; the line-oriented methods are not offered.
"""

from __future__ import annotations

import asyncio
from collections import deque


class ChunkReader(asyncio.StreamReader):
    def __init__(self, limit: int) -> None:
        super().__init__(limit=limit)
        self._blocks: deque[bytes] = deque()
        self._queued = 0

    def feed_data(self, data: bytes) -> None:
        assert not self._eof, "feed_data after feed_eof"
        if not data:
            return
        self._blocks.append(data if type(data) is bytes else bytes(data))
        self._queued += len(data)
        self._wakeup_waiter()  # type: ignore[attr-defined]
        if self._transport is not None and not self._paused and self._queued > 2 * self._limit:  # type: ignore[attr-defined]
            try:
                self._transport.pause_reading()  # type: ignore[attr-defined]
            except NotImplementedError:
                self._transport = None
            else:
                self._paused = True

    def at_eof(self) -> bool:
        return self._eof and not self._blocks  # type: ignore[attr-defined]

    async def read(self, n: int = -1) -> bytes:
        """The next received block (at most ``n`` bytes of it); ``b""`` at EOF."""
        if self._exception is not None:  # type: ignore[attr-defined]
            raise self._exception  # type: ignore[attr-defined]
        if n == 0:
            return b""
        if not self._blocks and not self._eof:  # type: ignore[attr-defined]
            await self._wait_for_data("read")  # type: ignore[attr-defined]
        if not self._blocks:
            return b""
        data = self._blocks.popleft()
        if 0 < n < len(data):
            self._blocks.appendleft(data[n:])
            data = data[:n]
        self._queued -= len(data)
        if self._paused and self._queued <= self._limit:  # type: ignore[attr-defined]
            self._paused = False
            self._transport.resume_reading()  # type: ignore[attr-defined]
        return data

    async def readline(self) -> bytes:
        raise NotImplementedError("connections read blocks, not lines")

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        raise NotImplementedError("connections read blocks, not lines")

    async def readexactly(self, n: int) -> bytes:
        raise NotImplementedError("connections read blocks")

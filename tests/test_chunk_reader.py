"""The connection's stream reader: received blocks come back whole and in order, with asyncio's flow control."""

from __future__ import annotations

import asyncio

from playhub.server.reader import ChunkReader


class _Transport(asyncio.ReadTransport):
    """Records what the reader asks of the transport."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")


async def test_blocks_come_back_whole_and_reading_pauses_past_twice_the_limit() -> None:
    reader = ChunkReader(limit=10)
    transport = _Transport()
    reader.set_transport(transport)
    first = b"a" * 8
    reader.feed_data(first)
    reader.feed_data(b"b" * 8)
    assert transport.calls == []
    reader.feed_data(b"c" * 8)  # 24 bytes queued > 2 x 10
    assert transport.calls == ["pause"]
    assert await reader.read(100) is first  # the very object received: no copy
    assert await reader.read(5) == b"bbbbb"  # at most n bytes; the rest stays first in line
    assert transport.calls == ["pause"]  # 11 bytes still queued, over the limit
    assert await reader.read(100) == b"bbb"
    assert transport.calls == ["pause", "resume"]  # back to the limit
    assert await reader.read(100) == b"c" * 8
    waiting = asyncio.ensure_future(reader.read(100))
    await asyncio.sleep(0)
    assert not waiting.done()
    reader.feed_data(b"late")
    assert await waiting == b"late"
    reader.feed_eof()
    assert await reader.read(100) == b"" and reader.at_eof()


async def test_an_error_is_raised_by_the_next_read() -> None:
    reader = ChunkReader(limit=10)
    reader.set_exception(ConnectionResetError("gone"))
    try:
        await reader.read(10)
    except ConnectionResetError:
        pass
    else:
        raise AssertionError("expected the connection error")

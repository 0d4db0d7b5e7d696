"""A room's game relay: the fixed game address seed 003's clients are given when they create or join a room.

Seed 003 spawns a room's game server when the room is created, so its clients take the game address from the
``create_room``/``join_room`` answer and launch the game client with it later. PlayHub spawns the game server when
the start vote passes, on a port chosen then. The relay bridges the two: it listens from the moment the room is
handed to a seed-003 client and, once the match runs, pipes each connection to the room's game server.

One thing more: games built with PlayHub's SDK expect a per-player ticket in their first ``HELLO`` line, which seed
003's clients do not know. When the first read of a connection is such a line without a ticket, the relay asks
``fill_ticket`` for the player's ticket (granted only to members of the running match who use a seed-003 session)
and forwards the completed line. Everything else passes through unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import msgspec

from playhub.settings import Settings

log = logging.getLogger("playhub.seed003.relay")

Target = Callable[[], "tuple[str, int] | None"]
FillTicket = Callable[[str], "str | None"]
_PIPE_READ = 64 * 1024
_HELLO_MAX = 4 * 1024  # a HELLO line is small; a larger first read is forwarded untouched


def complete_hello(first: bytes, fill_ticket: FillTicket) -> bytes:
    """``first`` with a ticket put into its HELLO line when it lacks one and ``fill_ticket`` grants it."""
    if len(first) > _HELLO_MAX or not first.lstrip().startswith(b"{"):
        return first
    line, sep, rest = first.partition(b"\n")
    if not sep:
        return first
    try:
        hello = msgspec.json.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return first
    if not isinstance(hello, dict) or hello.get("type") != "HELLO" or hello.get("ticket"):
        return first
    username = hello.get("username")
    if not isinstance(username, str):
        return first
    ticket = fill_ticket(username)
    if ticket is None:
        return first
    hello["ticket"] = ticket
    return msgspec.json.encode(hello) + b"\n" + rest


class GameRelay:
    """Listens on ``host``:(free port) until closed; each connection is piped to ``target()`` once it exists."""

    def __init__(self, room_id: str, settings: Settings, target: Target, fill_ticket: FillTicket) -> None:
        self.room_id = room_id
        self.settings = settings
        self.target = target
        self.fill_ticket = fill_ticket
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.closed = False

    async def open(self) -> int:
        self._server = await asyncio.start_server(self._on_client, self.settings.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.closed or len(self._tasks) >= self.settings.seed003_relay_max_clients:
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self._writers.add(writer)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the relay closed (its room ended or the server stops): the end of this connection, not an error
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            self._writers.discard(writer)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.seed003_relay_wait_s
        address = self.target()
        while address is None:
            if self.closed or loop.time() >= deadline:
                return
            await asyncio.sleep(0.1)
            address = self.target()
        up_reader, up_writer = await asyncio.open_connection(*address)
        self._writers.add(up_writer)
        try:
            down = asyncio.ensure_future(_pipe(up_reader, writer))  # the game server may speak first
            first = await reader.read(_PIPE_READ)
            if first:
                up_writer.write(complete_hello(first, self.fill_ticket))
                up = asyncio.ensure_future(_pipe(reader, up_writer))
            else:
                up = asyncio.ensure_future(_eof(up_writer))
            done, pending = await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
            # One side finished: let the other drain briefly (a final GAME_OVER), then stop.
            if pending:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 2.0)
            for t in pending:
                t.cancel()
            for t in done:
                if not t.cancelled():
                    t.exception()  # retrieved: a reset connection is the normal end of a pipe
        finally:
            self._writers.discard(up_writer)
            up_writer.close()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    # Either side may vanish at any moment: that ends the pipe, it is not an error (uvloop raises RuntimeError for a
    # write to a closed transport).
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        while True:
            data = await src.read(_PIPE_READ)
            if not data:
                break
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()


async def _eof(dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        if dst.can_write_eof():
            dst.write_eof()
    await asyncio.sleep(3600)  # the other direction ends the relay

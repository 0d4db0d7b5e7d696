"""The join handshake between a game server and its players.

Every client opens a TCP connection to ``GAME_HOST:GAME_PORT`` and sends ``{"type":"HELLO","username","ticket"}``
as its first line. The server checks the ticket and the member list, then answers ``{"type":"WELCOME",
"players":[...],"you":username}`` or ``{"type":"REJECTED","reason"}`` (and closes). After that the connection belongs
to the game and carries whatever JSON lines the game defines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any

from playhub.sdk import jsonl
from playhub.sdk.context import PlayerContext, RoomContext

log = logging.getLogger("playhub.sdk")

HELLO_TIMEOUT_S = (
    10.0  # a connection that says nothing for this long is dropped (the platform's readiness probe)
)
JOIN_TIMEOUT_S = 120.0
CONNECT_TIMEOUT_S = 15.0

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class GameRejected(ConnectionError):
    """The game server refused this player (wrong ticket, not a member of the room, game full)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def accept_players(
    ctx: RoomContext, count: int | None = None, timeout: float = JOIN_TIMEOUT_S
) -> dict[str, Streams]:
    """Listen on ``ctx.host:ctx.port`` until ``count`` players (default: every room member) have joined.

    Returns ``{username: (reader, writer)}`` in the order of ``ctx.players`` (join order when the member list is
    empty, i.e. a local run). The listening socket is closed before returning, so nobody joins a match in progress.
    Raises TimeoutError (after closing every connection) when they did not all join within ``timeout`` seconds.
    """
    need = count if count is not None else len(ctx.players)
    if need < 1:
        raise ValueError("accept_players needs count when PLAYHUB_PLAYERS is empty (a local run)")
    joined: dict[str, Streams] = {}
    all_in = asyncio.Event()

    async def reject(writer: asyncio.StreamWriter, reason: str) -> None:
        await jsonl.send(writer, {"type": "REJECTED", "reason": reason})
        await jsonl.close(writer)

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(HELLO_TIMEOUT_S):
                hello = await jsonl.recv(reader)
        except (TimeoutError, jsonl.ProtocolError):
            hello = None
        if hello is None:
            # A port probe or a client that gave up: nothing to answer.
            await jsonl.close(writer)
            return
        username, ticket = hello.get("username"), hello.get("ticket")
        if hello.get("type") != "HELLO" or not isinstance(username, str) or not username:
            await reject(writer, "the first message must be HELLO with a username")
        elif not ctx.is_member(username):
            await reject(writer, f"{username} is not a member of room {ctx.room_id}")
        elif not ctx.verify_ticket(username, ticket if isinstance(ticket, str) else ""):
            await reject(writer, "invalid ticket")
        elif all_in.is_set() or (username not in joined and len(joined) >= need):
            await reject(writer, "the game is full")
        else:
            previous = joined.get(username)
            if (
                previous is not None
            ):  # the same player reconnected before the start: keep the newer connection
                await jsonl.close(previous[1])
            joined[username] = (reader, writer)
            roster = ctx.players or list(joined)
            await jsonl.send(writer, {"type": "WELCOME", "players": roster, "you": username})
            log.info("%s joined room %s (%d/%d)", username, ctx.room_id, len(joined), need)
            if len(joined) >= need:
                all_in.set()

    server = await asyncio.start_server(on_client, ctx.host, ctx.port, reuse_address=True)
    try:
        async with asyncio.timeout(timeout):
            await all_in.wait()
    except TimeoutError:
        for _, writer in joined.values():
            await jsonl.close(writer)
        raise TimeoutError(f"only {len(joined)} of {need} players joined within {timeout:g}s") from None
    finally:
        # Stop listening. Not ``wait_closed()``: since Python 3.12 it also waits for the accepted connections,
        # which are exactly the ones handed to the game.
        server.close()
    order = [p for p in ctx.players if p in joined] or list(joined)
    return {name: joined[name] for name in order}


def _hello(pctx: PlayerContext) -> dict[str, Any]:
    return {"type": "HELLO", "username": pctx.username, "ticket": pctx.ticket}


def _check_welcome(reply: dict[str, Any] | None) -> dict[str, Any]:
    if reply is None:
        raise ConnectionError("the game server closed the connection during the handshake")
    if reply.get("type") == "REJECTED":
        raise GameRejected(str(reply.get("reason") or "rejected"))
    if reply.get("type") != "WELCOME":
        raise ConnectionError(f"unexpected handshake answer: {reply!r}")
    return reply


async def connect_to_game(
    pctx: PlayerContext, timeout: float = CONNECT_TIMEOUT_S
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]]:
    """Connect to the game server and join. Returns ``(reader, writer, welcome)``; raises GameRejected.

    Connection refusals are retried until ``timeout``: the server may still be starting.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            reader, writer = await asyncio.open_connection(pctx.host, pctx.port, limit=jsonl.MAX_LINE_BYTES)
            break
        except OSError:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.2)
    try:
        await jsonl.send(writer, _hello(pctx))
        async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
            welcome = _check_welcome(await jsonl.recv(reader))
    except BaseException:
        await jsonl.close(writer)
        raise
    return reader, writer, welcome


def connect_to_game_sync(
    pctx: PlayerContext, timeout: float = CONNECT_TIMEOUT_S
) -> tuple[jsonl.LineSocket, dict[str, Any]]:
    """Blocking ``connect_to_game``: returns ``(LineSocket, welcome)`` for simple clients."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection((pctx.host, pctx.port), timeout=timeout)
            break
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
    conn = jsonl.LineSocket(sock)
    try:
        conn.send(_hello(pctx))
        welcome = _check_welcome(conn.recv(timeout=max(1.0, deadline - time.monotonic())))
    except BaseException:
        with contextlib.suppress(OSError):
            conn.close()
        raise
    return conn, welcome


class Inbox:
    """Every player's messages in one queue, for turn-based loops: ``name, msg = await inbox.get(timeout)``.

    ``msg`` is None once that player left (end of stream); a line that is not a JSON object arrives as ``{}`` so the
    game answers it like any message it does not understand. Use as ``async with Inbox(players) as inbox:`` (or call
    ``close()``) so the reading tasks end with the game.
    """

    def __init__(self, players: dict[str, Streams]) -> None:
        self._queue: asyncio.Queue[tuple[str, dict[str, Any] | None]] = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._pump(name, reader)) for name, (reader, _) in players.items()]

    async def _pump(self, name: str, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                msg = await jsonl.recv(reader)
            except jsonl.ProtocolError:
                msg = {}
            await self._queue.put((name, msg))
            if msg is None:
                return

    async def get(self, timeout: float | None = None) -> tuple[str, dict[str, Any] | None]:
        """The next ``(username, message)``; raises TimeoutError after ``timeout`` seconds without one."""
        return await asyncio.wait_for(self._queue.get(), timeout)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def __aenter__(self) -> Inbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def broadcast(players: dict[str, Streams], obj: dict[str, Any]) -> None:
    """Send one message to every player (those who left are skipped)."""
    await asyncio.gather(*(jsonl.send(w, obj) for _, w in players.values()))


async def close_all(players: dict[str, Streams]) -> None:
    await asyncio.gather(*(jsonl.close(w) for _, w in players.values()))

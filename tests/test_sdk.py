"""The game SDK: contexts from the environment, JSON lines, the join handshake and reporting results."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import pytest

from playhub.sdk import (
    GameRejected,
    Inbox,
    PlayerContext,
    RoomContext,
    accept_players,
    close_all,
    connect_to_game,
    connect_to_game_sync,
    jsonl,
    player_ticket,
)
from tests.games_helpers import ReportSink, Room, free_port


def contexts(room: Room) -> tuple[RoomContext, dict[str, PlayerContext]]:
    ctx = RoomContext.from_env(room.server_env())
    return ctx, {p: PlayerContext.from_env(room.client_env(p)) for p in room.players}


# --- contexts ------------------------------------------------------------------------------------------------------
def test_room_context_from_env() -> None:
    room = Room(["ann", "bob"], lobby_port=6000)
    env = room.server_env(LOBBY_HOST="0.0.0.0", LOBBY_CONNECT_HOST="10.0.0.5", LOBBY_CONNECT_PORT="6001")
    ctx = RoomContext.from_env(env)
    assert (ctx.host, ctx.port, ctx.room_id) == ("127.0.0.1", room.game_port, room.room_id)
    assert ctx.players == ["ann", "bob"]
    assert ctx.secret == room.secret and ctx.managed
    # The connect address wins over the bind address.
    assert (ctx.lobby_host, ctx.lobby_port) == ("10.0.0.5", 6001)
    assert (ctx.game_name, ctx.version) == ("game", "1.0.0")


def test_room_context_wildcard_lobby_host_is_dialled_locally() -> None:
    ctx = RoomContext.from_env({"LOBBY_HOST": "0.0.0.0", "LOBBY_PORT": "5502"})
    assert (ctx.lobby_host, ctx.lobby_port) == ("127.0.0.1", 5502)


def test_room_context_defaults_outside_playhub() -> None:
    ctx = RoomContext.from_env({})
    assert ctx.secret is None and not ctx.managed
    assert ctx.players == [] and ctx.lobby_port is None
    # Local run: any ticket, any name.
    assert ctx.verify_ticket("anyone", "") and ctx.is_member("anyone")
    assert ctx.report_finished({"winner": None}) is False


def test_room_context_rejects_bad_port() -> None:
    with pytest.raises(ValueError, match="GAME_PORT"):
        RoomContext.from_env({"GAME_PORT": "eighty"})


def test_verify_ticket() -> None:
    room = Room(["ann", "bob"])
    ctx = RoomContext.from_env(room.server_env())
    assert ctx.verify_ticket("ann", player_ticket(room.secret, room.room_id, "ann"))
    assert not ctx.verify_ticket("ann", player_ticket(room.secret, room.room_id, "bob"))
    assert not ctx.verify_ticket("ann", player_ticket("other", room.room_id, "ann"))
    assert not ctx.verify_ticket("ann", "")
    assert not ctx.verify_ticket("ann", None)
    assert not ctx.is_member("eve")


def test_player_context_from_env() -> None:
    room = Room(["ann"])
    p = PlayerContext.from_env(room.client_env("ann"))
    assert (p.host, p.port, p.room_id, p.username) == ("127.0.0.1", room.game_port, room.room_id, "ann")
    assert p.ticket == player_ticket(room.secret, room.room_id, "ann")
    assert PlayerContext.from_env({"PLAYER_NAME": "zed", "GAME_HOST": "0.0.0.0"}).username == "zed"
    assert PlayerContext.from_env({"GAME_HOST": "0.0.0.0"}).host == "127.0.0.1"


# --- JSON lines ----------------------------------------------------------------------------------------------------
def test_encode_decode() -> None:
    data = jsonl.encode({"type": "MOVE", "text": "é"})
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert jsonl.decode(data) == {"type": "MOVE", "text": "é"}
    with pytest.raises(jsonl.ProtocolError):
        jsonl.decode(b"[1, 2]\n")
    with pytest.raises(jsonl.ProtocolError):
        jsonl.decode(b"{nope\n")


async def test_async_recv_send_and_eof() -> None:
    got: list[dict | None] = []

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await jsonl.recv(reader))
        got.append(await jsonl.recv(reader))
        await jsonl.send(writer, {"type": "BYE"})
        await jsonl.close(writer)

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"\n" + jsonl.encode({"type": "A"}) + b'{"type":"B"}'
    )  # blank line skipped, last line unterminated
    writer.write_eof()
    assert await jsonl.recv(reader) == {"type": "BYE"}
    assert await jsonl.recv(reader) is None
    await jsonl.close(writer)
    server.close()
    await server.wait_closed()
    assert got == [{"type": "A"}, {"type": "B"}]
    assert await jsonl.send(writer, {"type": "late"}) is False


def test_line_socket_timeout_keeps_it_usable() -> None:
    a, b = socket.socketpair()
    conn = jsonl.LineSocket(a)
    with pytest.raises(TimeoutError):
        conn.recv(timeout=0.05)
    b.sendall(b'{"n": 1}\n{"n"')
    assert conn.recv(timeout=2) == {"n": 1}
    b.sendall(b": 2}\n")
    assert conn.recv(timeout=2) == {"n": 2}
    jsonl.send_sync(b, {"n": 3})
    b.close()
    assert conn.recv() == {"n": 3}
    assert conn.recv() is None
    conn.close()


# --- the handshake -------------------------------------------------------------------------------------------------
async def test_accept_players_and_connect() -> None:
    room = Room(["ann", "bob"])
    ctx, pctx = contexts(room)
    accepting = asyncio.create_task(accept_players(ctx, timeout=10))
    # Bob joins first; the result still follows the room's member order.
    _, wb, welcome_b = await connect_to_game(pctx["bob"])
    _, wa, welcome_a = await connect_to_game(pctx["ann"])
    players = await accepting
    assert list(players) == ["ann", "bob"]
    assert welcome_a == {"type": "WELCOME", "players": ["ann", "bob"], "you": "ann"}
    assert welcome_b["you"] == "bob"
    # The connections carry game messages afterwards.
    await jsonl.send(players["ann"][1], {"type": "PING"})
    for _, w in players.values():
        await jsonl.close(w)
    await jsonl.close(wa)
    await jsonl.close(wb)


async def test_accept_players_rejections() -> None:
    room = Room(["ann", "bob"])
    ctx, pctx = contexts(room)
    accepting = asyncio.create_task(accept_players(ctx, timeout=10))
    # A bare port probe (what the platform does before answering START_ROOM) is ignored.
    for _ in range(50):
        try:
            probe = socket.create_connection(("127.0.0.1", room.game_port))
            break
        except OSError:
            await asyncio.sleep(0.05)
    probe.close()

    wrong = PlayerContext.from_env(room.client_env("ann", ticket="0" * 64))
    with pytest.raises(GameRejected, match="invalid ticket"):
        await connect_to_game(wrong)
    stranger = PlayerContext.from_env(room.client_env("eve"))
    with pytest.raises(GameRejected, match="not a member"):
        await connect_to_game(stranger)
    # A first line that is not HELLO.
    reader, writer = await asyncio.open_connection("127.0.0.1", room.game_port)
    await jsonl.send(writer, {"type": "MOVE"})
    reply = await jsonl.recv(reader)
    assert reply is not None and reply["type"] == "REJECTED"
    assert await jsonl.recv(reader) is None
    await jsonl.close(writer)

    conns = [await connect_to_game(pctx[p]) for p in ("ann", "bob")]
    players = await accepting
    assert list(players) == ["ann", "bob"]
    for _, w in players.values():
        await jsonl.close(w)
    for _, w, _ in conns:
        await jsonl.close(w)


async def test_reconnect_before_start_keeps_newer_connection() -> None:
    room = Room(["ann", "bob"])
    ctx, pctx = contexts(room)
    accepting = asyncio.create_task(accept_players(ctx, timeout=10))
    r1, w1, _ = await connect_to_game(pctx["ann"])
    r2, w2, _ = await connect_to_game(pctx["ann"])
    assert await jsonl.recv(r1) is None  # the older connection was closed by the server
    _, wb, _ = await connect_to_game(pctx["bob"])
    players = await accepting
    await jsonl.send(players["ann"][1], {"type": "HI"})
    assert await jsonl.recv(r2) == {"type": "HI"}
    for _, w in players.values():
        await jsonl.close(w)
    for w in (w1, w2, wb):
        await jsonl.close(w)


async def test_accept_players_timeout() -> None:
    room = Room(["ann", "bob"])
    ctx, pctx = contexts(room)
    accepting = asyncio.create_task(accept_players(ctx, timeout=1.0))
    reader, writer, _ = await connect_to_game(pctx["ann"])
    with pytest.raises(TimeoutError, match="1 of 2"):
        await accepting
    assert await jsonl.recv(reader) is None
    await jsonl.close(writer)


async def test_local_run_accepts_anyone_up_to_count() -> None:
    port = free_port()
    ctx = RoomContext.from_env({"GAME_PORT": str(port)})
    with pytest.raises(ValueError):
        await accept_players(ctx)
    accepting = asyncio.create_task(accept_players(ctx, count=2, timeout=10))
    a = await connect_to_game(PlayerContext(port=port, username="x"))
    b = await connect_to_game(PlayerContext(port=port, username="y"))
    players = await accepting
    assert list(players) == ["x", "y"] and b[2]["players"] == ["x", "y"]
    for _, w in players.values():
        await jsonl.close(w)
    for _, w, _ in (a, b):
        await jsonl.close(w)


async def test_connect_sync_from_a_thread() -> None:
    room = Room(["ann"])
    ctx, pctx = contexts(room)
    accepting = asyncio.create_task(accept_players(ctx, timeout=10))
    out: dict[str, object] = {}

    def client() -> None:
        conn, welcome = connect_to_game_sync(pctx["ann"])
        out["welcome"] = welcome
        out["msg"] = conn.recv(timeout=5)
        conn.close()

    t = threading.Thread(target=client)
    t.start()
    players = await accepting
    await jsonl.send(players["ann"][1], {"type": "START"})
    await asyncio.to_thread(t.join, 10)
    assert out == {"welcome": {"type": "WELCOME", "players": ["ann"], "you": "ann"}, "msg": {"type": "START"}}
    await jsonl.close(players["ann"][1])

    bad = PlayerContext.from_env(room.client_env("eve"))
    bad.port = free_port()
    with pytest.raises(OSError):
        await asyncio.to_thread(connect_to_game_sync, bad, 0.3)


# --- reporting -----------------------------------------------------------------------------------------------------
RESULTS = {"winner": "ann", "scores": {"ann": 2, "bob": 1}, "summary": "ann wins 2-1"}


async def test_report_finished_sync_and_async() -> None:
    async with ReportSink() as sink:
        room = Room(["ann", "bob"], lobby_port=sink.port)
        ctx = RoomContext.from_env(room.server_env())
        assert await asyncio.to_thread(ctx.report_finished, RESULTS) is True
        assert await ctx.areport_finished(None, kick_all=True) is True
    first, second = sink.messages
    assert first == {
        "type": "GAME_FINISHED",
        "payload": {"room_id": room.room_id, "secret": room.secret, "kick_all": False, "results": RESULTS},
    }
    assert second["payload"]["kick_all"] is True and "results" not in second["payload"]


async def test_report_finished_refused_or_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    async with ReportSink(accept=False) as sink:
        ctx = RoomContext.from_env(Room(["ann"], lobby_port=sink.port).server_env())
        with caplog.at_level(logging.WARNING, logger="playhub.sdk"):
            assert await ctx.areport_finished(RESULTS) is False
            assert await asyncio.to_thread(ctx.report_finished, RESULTS) is False
    assert "refused" in caplog.text
    ctx.lobby_port = free_port()  # nobody listens there
    assert await ctx.areport_finished(RESULTS, timeout=1) is False
    assert await asyncio.to_thread(ctx.report_finished, RESULTS, False, 1) is False


async def test_report_finished_silent_lobby_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    ctx = RoomContext.from_env(Room(["ann"], lobby_port=server.sockets[0].getsockname()[1]).server_env())
    assert await ctx.areport_finished(RESULTS, timeout=0.3) is False
    assert await asyncio.to_thread(ctx.report_finished, RESULTS, False, 0.3) is False
    server.close()


async def test_legacy_line_without_secret() -> None:
    async with ReportSink() as sink:
        ctx = RoomContext.from_env({"ROOM_ID": "r1", "LOBBY_HOST": "127.0.0.1", "LOBBY_PORT": str(sink.port)})
        assert await ctx.areport_finished(RESULTS, kick_all=True) is True
        await asyncio.wait_for(sink.received.wait(), 5)
    assert sink.messages == [{"kind": "game_finished", "room_id": "r1", "kick_all": True}]


async def test_inbox_merges_players_messages() -> None:
    room = Room(["ann", "bob"])
    ctx, pctx = contexts(room)
    accepting = asyncio.create_task(accept_players(ctx, timeout=10))
    ra, wa, _ = await connect_to_game(pctx["ann"])
    rb, wb, _ = await connect_to_game(pctx["bob"])
    players = await accepting
    async with Inbox(players) as inbox:
        await jsonl.send(wa, {"type": "MOVE", "n": 1})
        assert await inbox.get(5) == ("ann", {"type": "MOVE", "n": 1})
        wb.write(b"garbage\n")
        assert await inbox.get(5) == ("bob", {})  # not JSON: an empty message, the game answers ERROR
        with pytest.raises(TimeoutError):
            await inbox.get(0.05)
        await jsonl.close(wb)
        assert await inbox.get(5) == ("bob", None)  # bob left
    await close_all(players)
    assert await jsonl.recv(ra) is None
    await jsonl.close(wa)

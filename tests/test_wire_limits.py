"""What a hostile client on the network can cost the server: output it does not read, slow or unfinished frames,
connections that never log in, floods of cheap requests, deeply nested JSON and out-of-range integers.

All over real sockets: an in-process server for the exact behaviour, a ``playhub serve`` subprocess (uvloop) where the
server's own memory is measured.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from pathlib import Path
from typing import Any

import msgspec
import psutil
import pytest

from playhub.protocol.errors import Unauthorized
from playhub.server.connection import Connection
from playhub.server.handlers import AREAS
from playhub.server.router import Router
from tests.helpers import Harness, ServerProcess

MiB = 1 << 20


# --- helpers ---------------------------------------------------------------------------------------------------------
async def raw_conn(port: int, rcvbuf: int = 4096) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw connection whose kernel receive buffer is small, so unread output stays on the server's side."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock, limit=1 << 20)


async def non_reader(hub: Harness) -> tuple[asyncio.StreamWriter, Connection]:
    """A client that never reads, and the server's side of its connection."""
    before = set(hub.app._connections)
    _, writer = await raw_conn(hub.app.lobby_port)
    writer.transport.pause_reading()
    for _ in range(100):
        new = set(hub.app._connections) - before
        if new:
            return writer, new.pop()
        await asyncio.sleep(0.01)
    raise AssertionError("the server did not accept the connection")


async def wait_closed(conn: Connection, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.closed:
            return True
        await asyncio.sleep(0.02)
    return conn.closed


async def read_answer(reader: asyncio.StreamReader, timeout: float = 5.0) -> dict[str, Any]:
    line = await asyncio.wait_for(reader.readline(), timeout)
    assert line, "connection closed without an answer"
    return json.loads(line)  # type: ignore[no-any-return]


def big_request(size: int) -> bytes:
    """A request whose error answer echoes ``size`` bytes (the unknown command name)."""
    return json.dumps({"type": "NO_SUCH_" + "X" * size}).encode() + b"\n"


async def still_serving(hub: Harness, name: str) -> None:
    c = await hub.player(name)
    assert (await asyncio.wait_for(c.request("WHOAMI"), 5))["username"] == name


# --- output caps -----------------------------------------------------------------------------------------------------
def kernel_send_queues(port: int) -> int:
    """Bytes queued in the kernel for sending on the sockets of local ``port`` (tx_queue of /proc/net/tcp*): unread
    output held there costs memory as surely as the process's own buffers."""
    total = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in lines:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                total += int(fields[4].split(":")[0], 16)
    return total


def _populate(data_dir: Path, games: int) -> None:
    from bench.store_bench import populate

    populate(data_dir, games, {})


async def test_hundred_non_reading_clients_cost_bounded_memory(tmp_path: Path) -> None:
    """100 clients each ask for just under the per-connection cap of large LIST_GAMES answers and never read them.
    Memory held for them = growth of the server's RSS + what its sockets queue in the kernel. Before, that was
    ~3.5 MiB each for as long as they liked (~350 MiB in all, mostly in autotuned kernel buffers); now kernel buffers
    are bounded by ``tcp_send_buffer_bytes`` and the server-wide cap drops the worst offenders, so the total stays
    under 128 MiB (that cap) + 100 x 512 KiB (kernel) + 32 MiB, and a reading client is served throughout."""
    data_dir = tmp_path / "data"
    await asyncio.to_thread(_populate, data_dir, 200)
    server = await asyncio.to_thread(ServerProcess(data_dir).start)
    socks: list[socket.socket] = []
    try:
        from playhub.client import Client

        good = await Client.connect("127.0.0.1", server.lobby_port)
        await good.register_player("reader", "secret-pw")
        line = json.dumps({"type": "LIST_GAMES", "token": good.token}).encode() + b"\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", server.lobby_port, limit=1 << 20)
        writer.write(line)
        answer_size = len(await reader.readline())  # ~40 KB
        writer.close()
        per_client = int(3.5 * MiB) // answer_size  # under the 4 MiB per-connection cap
        assert server.proc is not None
        proc = psutil.Process(server.proc.pid)
        base = proc.memory_info().rss + kernel_send_queues(server.lobby_port)
        for _ in range(100):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", server.lobby_port))
            s.setblocking(False)
            socks.append(s)
        peak = base
        worst = 0.0
        sent = 0
        t_end = time.monotonic() + 6
        while time.monotonic() < t_end:
            if sent < per_client:  # in rounds, so that every connection's backlog grows at the same time
                n = min(10, per_client - sent)
                for s in socks:
                    try:
                        s.send(line * n)
                    except (BlockingIOError, ConnectionError):
                        pass
                sent += n
            peak = max(peak, proc.memory_info().rss + kernel_send_queues(server.lobby_port))
            t0 = time.perf_counter()
            assert (await asyncio.wait_for(good.request("WHOAMI"), 5))["username"] == "reader"
            worst = max(worst, time.perf_counter() - t0)
            await asyncio.sleep(0.1)
        listing = await asyncio.wait_for(good.request("LIST_GAMES"), 5)
        assert len(listing["games"]) == 200
        growth = (peak - base) / MiB
        assert growth < 128 + 50 + 32, f"memory held for slow clients grew by {growth:.0f} MiB"
        assert worst < 2.0, f"a reading client waited {worst:.2f} s"
        await good.close()
    finally:
        for s in socks:
            s.close()
        await asyncio.to_thread(server.stop)


async def test_backlog_that_does_not_drain_is_closed_after_the_stall_timeout(make_hub) -> None:  # type: ignore[no-untyped-def]
    # The per-connection cap is out of reach here: only the stall timeout can close this client.
    hub = await make_hub(max_send_buffer_bytes=256 * MiB, send_stall_timeout_s=0.5)
    writer, conn = await non_reader(hub)
    writer.write(big_request(200_000) * 20)  # 4 MB of answers, never read
    await writer.drain()
    t0 = time.monotonic()
    assert await wait_closed(conn, timeout=5), "the stalled client was not disconnected"
    assert time.monotonic() - t0 < 4
    writer.close()
    await still_serving(hub, "after-stall")


async def test_slow_but_steady_reader_is_not_cut_by_the_stall_timeout(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(send_stall_timeout_s=0.5)
    reader, writer = await raw_conn(hub.app.lobby_port)
    writer.write(big_request(100_000) * 30)
    await writer.drain()
    got = 0
    while got < 30:  # read everything over ~1.5 s: three stall periods, with progress in each
        await read_answer(reader)
        got += 1
        await asyncio.sleep(0.05)
    writer.close()


async def test_server_wide_output_cap_drops_the_worst_offenders(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(
        max_send_buffer_bytes=256 * MiB, send_stall_timeout_s=60, max_total_send_buffer_bytes=8 * MiB
    )
    # Five clients ask for ~3 MB each and read nothing: 15 MB in all, over the 8 MiB cap.
    clients = [await non_reader(hub) for _ in range(5)]
    for writer, _ in clients:
        writer.write(big_request(150_000) * 20)
        await writer.drain()
    await asyncio.sleep(1.0)
    closed = [conn.closed for _, conn in clients]
    assert 1 <= sum(closed) < 5, closed
    assert hub.app.output_budget.dropped == sum(closed)
    # What the survivors hold is back under the cap, and a client that reads is served.
    assert sum(conn.out.buffered() for _, conn in clients if not conn.closed) <= 8 * MiB
    await still_serving(hub, "bystander")
    for writer, _ in clients:
        writer.close()


async def test_accepted_sockets_get_send_buffer_and_keepalive_settings(hub: Harness) -> None:
    c = await hub.player("keepalive")
    (conn,) = [x for x in hub.app._connections]
    sock = conn.writer.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    s = hub.app.settings
    if hasattr(socket, "TCP_KEEPIDLE"):
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == s.tcp_keepalive_idle_s
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == s.tcp_keepalive_interval_s
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == s.tcp_keepalive_probes
    # Linux reports twice the requested size (it adds its bookkeeping); never the autotuned megabytes.
    assert (
        s.tcp_send_buffer_bytes
        <= sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        <= 2 * s.tcp_send_buffer_bytes
    )
    await c.close()


async def test_one_flooding_connection_yields_to_others(
    hub: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of pipelined cheap requests are handled at most ``frames_per_turn`` at a time per loop turn."""
    handled = 0
    original = Router.dispatch

    async def counting(self: Router, conn: Any, frame: bytes) -> None:
        nonlocal handled
        handled += 1
        await original(self, conn, frame)

    monkeypatch.setattr(Router, "dispatch", counting)
    per_turn: list[int] = []
    stop = False

    async def ticker() -> None:
        last = handled
        while not stop:
            await asyncio.sleep(0)
            per_turn.append(handled - last)
            last = handled

    tick = asyncio.create_task(ticker())
    reader, writer = await hub.raw(hub.app.lobby_port)
    n = 5000
    writer.write(b'{"type":"WHOAMI"}\n' * n)
    for _ in range(n):
        await reader.readline()
    stop = True
    await tick
    writer.close()
    assert handled >= n
    limit = hub.app.settings.frames_per_turn
    assert max(per_turn) <= 2 * limit, f"{max(per_turn)} frames in one loop turn"


# --- timeouts --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "partial", [b'{"type":"WHOAMI","payl', struct.pack("!I", 500) + b'{"type":"WHO'], ids=["ndjson", "length"]
)
async def test_frame_not_finished_in_time_gets_100_and_close(make_hub, partial: bytes) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(frame_timeout_s=1.0)
    reader, writer = await hub.raw(hub.app.lobby_port)
    writer.write(partial)
    await writer.drain()
    t0 = time.monotonic()
    data = await asyncio.wait_for(reader.read(), 6)
    assert time.monotonic() - t0 < 5
    if partial.startswith(b"{"):
        answer = json.loads(data)
    else:
        (size,) = struct.unpack("!I", data[:4])
        answer = json.loads(data[4 : 4 + size])
    assert answer["code"] == 100 and "not finished" in answer["message"]
    writer.close()
    await still_serving(hub, "after-slowloris")


async def test_steady_large_frames_are_not_a_slowloris(make_hub) -> None:  # type: ignore[no-untyped-def]
    """A client always in the middle of some frame, but finishing them, is not cut by the frame timeout."""
    hub = await make_hub(frame_timeout_s=1.0)
    reader, writer = await hub.raw(hub.app.lobby_port)
    line = b'{"type":"WHOAMI","id":1}\n'
    writer.write(line[:10])
    for _ in range(6):  # 2.7 s with a partial frame always buffered, one finished every 0.45 s
        await asyncio.sleep(0.45)
        writer.write(line[10:] + line[:10])
        assert (await read_answer(reader))["code"] == 101
    writer.close()


async def test_connection_that_never_logs_in_is_closed(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(auth_timeout_s=1.0)
    logged_in = await hub.player("patient")
    reader, writer = await hub.raw(hub.app.lobby_port)
    writer.write(b'{"type":"WHOAMI","id":1}\n')  # no token: does not count as a login
    assert (await read_answer(reader))["code"] == 101
    answer = await read_answer(reader, timeout=5)
    assert answer["code"] == Unauthorized.code and "no login" in answer["message"]
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    await asyncio.sleep(1.2)  # past the timeout: the logged-in client is still served
    assert (await logged_in.request("WHOAMI"))["username"] == "patient"


async def test_connection_using_a_valid_token_is_not_closed_for_auth(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(auth_timeout_s=1.0)
    owner = await hub.player("owner")
    reader, writer = await hub.raw(hub.app.lobby_port)
    req = json.dumps({"type": "WHOAMI", "token": owner.token}).encode() + b"\n"
    writer.write(req)
    assert (await read_answer(reader))["code"] == 0
    await asyncio.sleep(2.2)
    writer.write(req)
    assert (await read_answer(reader))["code"] == 0
    writer.close()


# --- malformed documents -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "doc",
    [
        b'{"type":"WHOAMI","payload":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"type":"LIST_GAMES","payload":{"a":' + b'{"a":' * 3000 + b"1" + b"}" * 3001 + b"}",
        b'{"kind":"game_finished","room_id":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"type":"WHOAMI","payload":' + b"[" * 100_000,
    ],
    ids=["payload", "objects", "legacy", "unterminated"],
)
async def test_deeply_nested_json_is_answered_100(hub: Harness, doc: bytes) -> None:
    c = await hub.player("nester")
    reader, writer = await hub.raw(hub.app.lobby_port)
    writer.write(doc + b"\n")
    answer = await read_answer(reader)
    assert answer["code"] == 100, answer
    writer.write(json.dumps({"type": "WHOAMI", "token": c.token}).encode() + b"\n")
    assert (await read_answer(reader))["code"] == 0  # the connection is still open
    writer.close()


@pytest.mark.parametrize(
    ("command", "payload"),
    [
        ("LIST_REVIEWS", {"game_id": "g", "offset": 2**63}),
        ("LIST_REVIEWS", {"game_id": "g", "limit": 2**64}),
        ("LIST_REVIEWS", {"game_id": "g", "offset": -(2**63) - 1}),
        ("ADD_REVIEW", {"game_id": "g", "score": 10**30}),
        ("DOWNLOAD_BEGIN", {"game_id": "g", "start_seq": 2**63}),
        ("VOTE", {"seq": 2**70, "accept": True}),
    ],
)
async def test_integers_beyond_64_bits_are_100(hub: Harness, command: str, payload: dict[str, Any]) -> None:
    c = await hub.player("counter")
    reader, writer = await hub.raw(hub.app.lobby_port)
    writer.write(json.dumps({"type": command, "token": c.token, "payload": payload}).encode() + b"\n")
    answer = await read_answer(reader)
    assert answer["code"] == 100, answer
    writer.close()


async def test_integers_beyond_64_bits_are_100_on_the_developer_port(hub: Harness) -> None:
    dev = await hub.developer("bigint")
    reader, writer = await hub.raw(hub.app.dev_port)
    for command, payload in [
        ("CREATE_GAME", {"name": "g1", "description": "d", "game_type": "cli", "max_players": 2**63}),
        ("UPLOAD_BEGIN", {"game_id": "x", "version": "1.0.0", "size_bytes": 2**64}),
        ("UPLOAD_CHUNK", {"upload_id": "x", "seq": 2**63, "data_b64": ""}),
    ]:
        writer.write(json.dumps({"type": command, "token": dev.token, "payload": payload}).encode() + b"\n")
        answer = await read_answer(reader)
        assert answer["code"] == 100, (command, answer)
    writer.write(b'{"type":"WHOAMI","id":' + str(2**64).encode() + b"}\n")
    assert (await read_answer(reader))["code"] == 100
    writer.close()


def _unbounded_ints(tp: Any, path: str, out: list[str]) -> None:
    info = msgspec.inspect.type_info(tp)
    _walk(info, path, out, set())


def _walk(info: Any, path: str, out: list[str], seen: set[int]) -> None:
    mi = msgspec.inspect
    if isinstance(info, mi.IntType):
        if info.ge is None and info.gt is None or info.le is None and info.lt is None:
            out.append(path)
    elif isinstance(info, mi.UnionType):
        for t in info.types:
            _walk(t, path, out, seen)
    elif isinstance(info, mi.StructType):
        if id(info.cls) in seen:
            return
        seen.add(id(info.cls))
        for f in info.fields:
            _walk(f.type, f"{path}.{f.name}", out, seen)
    elif isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        _walk(info.item_type, f"{path}[]", out, seen)
    elif isinstance(info, mi.DictType):
        _walk(info.value_type, f"{path}{{}}", out, seen)
    elif isinstance(info, mi.TupleType):
        for i, t in enumerate(info.item_types):
            _walk(t, f"{path}[{i}]", out, seen)


def test_every_integer_field_of_every_request_is_bounded_to_64_bits() -> None:
    from playhub.protocol.envelope import Request

    missing: list[str] = []
    _unbounded_ints(Request, "envelope", missing)
    for area in AREAS:
        for cmd in area.routes.commands:
            _unbounded_ints(cmd.schema, cmd.name, missing)
    assert not missing, f"declare these as protocol.schemas.Int64: {missing}"


async def test_binary_download_to_a_client_that_stops_reading_is_closed(make_hub) -> None:  # type: ignore[no-untyped-def]
    """File frames wait for an empty transport buffer; a client that stops reading must not hold its stream (and its
    download slot) for ever, even when what it left unread is under the high-water mark."""
    from tests.store_helpers import publish

    hub = await make_hub(send_stall_timeout_s=0.5, download_chunk_size=64 * 1024)
    game = await publish(hub.app, "big", "1.0.0", payload_bytes=8 << 20)
    player = await hub.player("stopper")
    before = set(hub.app._connections)
    reader, writer = await raw_conn(hub.app.lobby_port)
    request = json.dumps(
        {"type": "DOWNLOAD_BEGIN", "token": player.token, "payload": {"game_id": game, "encoding": "binary"}}
    ).encode()
    writer.write(struct.pack("!I", len(request)) + request)
    (size,) = struct.unpack("!I", await asyncio.wait_for(reader.readexactly(4), 5))
    answer = json.loads(await reader.readexactly(size))
    assert answer["code"] == 0, answer
    writer.transport.pause_reading()  # stop here
    (conn,) = set(hub.app._connections) - before
    assert len(hub.app.downloads.active) == 1
    assert await wait_closed(conn, timeout=6), "the stalled binary download kept its connection"
    for _ in range(100):
        if not hub.app.downloads.active:
            break
        await asyncio.sleep(0.02)
    assert not hub.app.downloads.active
    writer.close()

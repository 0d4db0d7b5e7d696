"""Bad input over real sockets: every case answers with its exact code, and the server stays up for others."""

from __future__ import annotations

import asyncio
import json
import struct

import pytest

from playhub.protocol.codes import Code
from playhub.protocol.errors import BadState, Forbidden, InvalidRequest, Unauthorized
from playhub.wire import Framing
from tests.helpers import Harness


async def read_json_line(reader: asyncio.StreamReader) -> dict:
    return json.loads(await asyncio.wait_for(reader.readline(), 5))


async def read_lp(reader: asyncio.StreamReader) -> dict:
    (size,) = struct.unpack("!I", await asyncio.wait_for(reader.readexactly(4), 5))
    return json.loads(await reader.readexactly(size))


async def still_serving(hub: Harness) -> None:
    c = await hub.lobby()
    await c.register_player(f"probe{id(c) % 100000}", "secret-pw")
    assert (await c.request("WHOAMI"))["role"] == "player"


@pytest.mark.parametrize(
    "line",
    [
        b"this is not json",
        b"[1, 2, 3]",
        b'"a string"',
        b'{"type": 5}',
        b'{"payload": {}}',
        b'{"type": "LIST_GAMES", "bogus": 1}',
        b'{"type": "\xff\xfe"}',
        b'{"type": "LOGIN_PLAYER", "payload": {"username": "a\xc3\x28b", "password": "x"}}',
    ],
)
async def test_malformed_frames_answer_100_and_connection_survives(hub: Harness, line: bytes) -> None:
    reader, writer = await hub.raw(hub.app.lobby_port)
    writer.write(b"{}\n" if line[:1] != b"{" else b"")  # first byte decides the framing: keep NDJSON
    writer.write(line + b"\n")
    await writer.drain()
    if line[:1] != b"{":
        first = await read_json_line(reader)  # the answer to "{}" (missing type)
        assert first["code"] == Code.INVALID_REQUEST
    resp = await read_json_line(reader)
    assert resp["status"] == "error" and resp["code"] == Code.INVALID_REQUEST
    assert "status" in resp and "payload" in resp and resp["message"]
    # Same connection still answers.
    writer.write(b'{"type":"WHOAMI","id":7}\n')
    await writer.drain()
    resp = await read_json_line(reader)
    assert resp["code"] == Code.UNAUTHORIZED and resp["id"] == 7
    writer.close()


async def test_unknown_type_is_100_and_id_is_echoed(hub: Harness) -> None:
    c = await hub.lobby()
    resp = await c.request_raw("NO_SUCH_COMMAND")
    assert resp["code"] == Code.INVALID_REQUEST
    assert "NO_SUCH_COMMAND" in resp["message"]
    assert isinstance(resp["id"], int)


async def test_string_id_echoed_unchanged(hub: Harness) -> None:
    reader, writer = await hub.raw(hub.app.lobby_port)
    writer.write(b'{"type":"WHOAMI","id":"abc-1"}\n')
    await writer.drain()
    resp = await read_json_line(reader)
    assert resp["id"] == "abc-1" and resp["code"] == Code.UNAUTHORIZED


async def test_developer_command_on_lobby_port_is_unknown(hub: Harness) -> None:
    c = await hub.lobby()
    with pytest.raises(InvalidRequest):
        await c.request("REGISTER_DEV", {"username": "abc", "password": "secret-pw"})


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"username": "abc"}, "password"),
        ({"username": "abc", "password": "secret-pw", "extra": 1}, "extra"),
        ({"username": 12, "password": "secret-pw"}, "username"),
        (None, ""),
    ],
)
async def test_payload_schema_errors_are_100_naming_the_field(
    hub: Harness, payload: object, fragment: str
) -> None:
    c = await hub.lobby()
    if payload is None:
        resp = await c.request_raw("REGISTER_PLAYER")  # no payload at all: every field missing
        assert resp["code"] == Code.INVALID_REQUEST
        return
    with pytest.raises(InvalidRequest) as info:
        await c.request("REGISTER_PLAYER", payload)  # type: ignore[arg-type]
    assert fragment in info.value.message


async def test_payload_of_wrong_type_is_100(hub: Harness) -> None:
    reader, writer = await hub.raw(hub.app.lobby_port)
    writer.write(b'{"type":"REGISTER_PLAYER","payload":[1]}\n{"type":"REGISTER_PLAYER","payload":null}\n')
    await writer.drain()
    assert (await read_json_line(reader))["code"] == Code.INVALID_REQUEST
    assert (await read_json_line(reader))["code"] == Code.INVALID_REQUEST


async def test_missing_and_unknown_token_are_101(hub: Harness) -> None:
    c = await hub.lobby()
    with pytest.raises(Unauthorized):
        await c.request("WHOAMI")
    with pytest.raises(Unauthorized):
        await c.request("WHOAMI", token="not-a-real-token")


async def test_wrong_role_token_is_102(hub: Harness) -> None:
    dev = await hub.developer("devx")
    lobby = await hub.lobby()
    with pytest.raises(Forbidden):
        await lobby.request("WHOAMI", token=dev.token)
    player = await hub.player("playerx")
    dev2 = await hub.dev()
    with pytest.raises(Forbidden):
        await dev2.request("WHOAMI", token=player.token)


async def test_oversize_ndjson_frame_is_100_then_closed(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(max_frame_bytes=1024)
    reader, writer = await hub.raw(hub.app.lobby_port)
    writer.write(b'{"type":"X","payload":{"pad":"' + b"x" * 5000 + b'"}}\n')
    await writer.drain()
    resp = await read_json_line(reader)
    assert resp["code"] == Code.INVALID_REQUEST and "exceeds" in resp["message"]
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed
    await still_serving(hub)


async def test_length_prefix_announcing_too_much_is_100_then_closed(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(max_frame_bytes=1024)
    reader, writer = await hub.raw(hub.app.lobby_port)
    writer.write(struct.pack("!I", 10_000_000))
    await writer.drain()
    resp = await read_lp(reader)
    assert resp["code"] == Code.INVALID_REQUEST
    assert await asyncio.wait_for(reader.read(), 5) == b""
    await still_serving(hub)


async def test_length_prefixed_framing_is_answered_in_kind(hub: Harness) -> None:
    c = await hub.lobby(Framing.LENGTH_PREFIXED)
    await c.register_player("lpuser", "secret-pw")
    assert (await c.request("WHOAMI"))["username"] == "lpuser"
    reader, writer = await hub.raw(hub.app.lobby_port)
    body = b'{"type":"WHOAMI","id":1}'
    writer.write(struct.pack("!I", len(body)) + body)
    await writer.drain()
    assert (await read_lp(reader))["code"] == Code.UNAUTHORIZED


async def test_bytes_one_at_a_time_and_many_frames_per_read(hub: Harness) -> None:
    reader, writer = await hub.raw(hub.app.lobby_port)
    for b in b'{"type":"WHOAMI","id":1}\n':
        writer.write(bytes([b]))
        await writer.drain()
    assert (await read_json_line(reader))["id"] == 1
    writer.write(b"".join(b'{"type":"WHOAMI","id":%d}\n' % i for i in range(2, 52)))
    await writer.drain()
    ids = [(await read_json_line(reader))["id"] for _ in range(50)]
    assert ids == list(range(2, 52))


async def test_frame_cut_off_by_disconnect_leaves_server_healthy(hub: Harness) -> None:
    for framing_bytes in (
        b'{"type":"REGISTER_PLAYER","payload":{"usern',
        struct.pack("!I", 100) + b'{"type"',
    ):
        _, writer = await hub.raw(hub.app.lobby_port)
        writer.write(framing_bytes)
        await writer.drain()
        writer.close()
    await asyncio.sleep(0.05)
    await still_serving(hub)


async def test_client_that_never_reads_is_disconnected_not_buffered(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(max_send_buffer_bytes=64 * 1024)
    reader, writer = await hub.raw(hub.app.lobby_port)
    writer.transport.pause_reading()  # never read answers
    request = b'{"type":"NO_SUCH_COMMAND_WITH_A_LONG_NAME_' + b"X" * 400 + b'"}\n'
    try:
        for _ in range(20000):
            writer.write(request * 10)
            await asyncio.wait_for(writer.drain(), 5)
    except (ConnectionError, TimeoutError):
        pass
    # The server dropped that connection and keeps serving everyone else.
    assert len(hub.app._connections) <= 1
    await still_serving(hub)


async def test_replaced_token_gets_105_and_logged_out_token_101(hub: Harness) -> None:
    first = await hub.player("carol")
    second = await hub.lobby()
    await second.login_player("carol", "secret-pw")
    with pytest.raises(BadState):
        await first.request("WHOAMI")
    assert (await second.request("WHOAMI"))["username"] == "carol"
    token = second.token
    await second.logout()
    with pytest.raises(Unauthorized):
        await second.request("WHOAMI", token=token)


async def test_client_library_reports_connection_loss(hub: Harness) -> None:
    from playhub.client import ConnectionLost

    c = await hub.player("lossy")
    waiter = asyncio.create_task(c.wait_push("ROOM_UPDATED", timeout=10))
    await asyncio.sleep(0.01)
    for conn in list(hub.app._connections):
        conn.abort()
    with pytest.raises(ConnectionLost):
        await waiter
    with pytest.raises(ConnectionLost):
        await c.request("WHOAMI")

"""P2 on the wire: DOWNLOAD_BEGIN, chunk pushes, DOWNLOAD_END/ERROR, resume, cancel, limits, disconnects."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket

import pytest

from playhub.protocol.errors import BadState, InvalidRequest, NotFound, RateLimited
from tests.store_helpers import create_game_without_version, publish, set_status


async def _collect(client, download_id: str) -> tuple[list[dict], dict]:
    """Every chunk of one download and its final push."""
    queue = client.subscribe(None)
    chunks: list[dict] = []
    try:
        while True:
            msg = await asyncio.wait_for(queue.get(), 10)
            payload = msg["payload"]
            if payload.get("download_id") != download_id:
                continue
            if msg["type"] == "DOWNLOAD_CHUNK":
                chunks.append(payload)
            else:
                return chunks, msg
    finally:
        client.unsubscribe(queue)


async def test_download_streams_the_archive(make_hub) -> None:
    hub = await make_hub(download_chunk_size=16 * 1024)
    game = await publish(hub.app, "rps", "1.0.0", payload_bytes=100_000)
    archive = hub.app.blobs.archive(game, "1.0.0").read_bytes()
    alice = await hub.player("alice")
    # Subscribe before asking, and record the order in which the answer and the pushes arrive.
    seen: list[str] = []
    alice.on_push(lambda t, p: seen.append(t))
    queue = alice.subscribe(None)
    fut = alice.send_request("DOWNLOAD_BEGIN", {"game_id": game})
    fut.add_done_callback(lambda f: seen.append("answer"))
    answer = (await fut)["payload"]
    assert answer["version"] == "1.0.0" and answer["size_bytes"] == len(archive)
    assert answer["chunk_size"] == 16 * 1024 and answer["start_seq"] == 0
    assert answer["checksum"] == hashlib.sha256(archive).hexdigest()
    alice.unsubscribe(queue)
    chunks, end = await _collect(alice, answer["download_id"])
    assert seen[0] == "answer"
    # The pushes that arrived before _collect subscribed are in `queue`.
    early = []
    while not queue.empty():
        msg = queue.get_nowait()
        if msg["type"] == "DOWNLOAD_CHUNK":
            early.append(msg["payload"])
    chunks = early + chunks
    assert [c["seq"] for c in chunks] == list(range(-(-len(archive) // (16 * 1024))))
    assert b"".join(base64.b64decode(c["data_b64"]) for c in chunks) == archive
    assert end["type"] == "DOWNLOAD_END"
    assert end["payload"] == {
        "download_id": answer["download_id"],
        "version": "1.0.0",
        "checksum": hashlib.sha256(archive).hexdigest(),
    }
    assert hub.app.downloads.active == {}


async def test_download_resumes_from_start_seq(make_hub) -> None:
    hub = await make_hub(download_chunk_size=8 * 1024)
    game = await publish(hub.app, "rps", "1.0.0", payload_bytes=40_000)
    archive = hub.app.blobs.archive(game, "1.0.0").read_bytes()
    alice = await hub.player("alice")
    answer = await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "version": "1.0.0", "start_seq": 3})
    chunks, end = await _collect(alice, answer["download_id"])
    assert end["type"] == "DOWNLOAD_END" and chunks[0]["seq"] == 3
    assert b"".join(base64.b64decode(c["data_b64"]) for c in chunks) == archive[3 * 8 * 1024 :]
    last = -(-len(archive) // (8 * 1024))
    answer = await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "start_seq": last})
    chunks, end = await _collect(alice, answer["download_id"])
    assert chunks == [] and end["type"] == "DOWNLOAD_END"
    with pytest.raises(InvalidRequest):
        await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "start_seq": last + 1})
    with pytest.raises(InvalidRequest):
        await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "start_seq": -1})


async def test_download_errors(hub) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    draft = await create_game_without_version(app, "draft")
    alice = await hub.player("alice")
    with pytest.raises(NotFound):
        await alice.request("DOWNLOAD_BEGIN", {"game_id": "nope"})
    with pytest.raises(NotFound):
        await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "version": "9.9.9"})
    with pytest.raises(NotFound):
        await alice.request("DOWNLOAD_BEGIN", {"game_id": draft})
    with pytest.raises(InvalidRequest):
        await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "version": "../1.0.0"})
    with pytest.raises(InvalidRequest):
        await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "version": 1})
    with pytest.raises(NotFound):
        await alice.request("CANCEL_DOWNLOAD", {"download_id": "nope"})
    await set_status(app, game, "OFFLINE")
    with pytest.raises(BadState):
        await alice.request("DOWNLOAD_BEGIN", {"game_id": game})
    assert app.downloads.active == {}


async def test_damaged_store_file_ends_in_download_error(make_hub) -> None:
    hub = await make_hub(download_chunk_size=4096)
    game = await publish(hub.app, "rps", "1.0.0", payload_bytes=20_000)
    path = hub.app.blobs.archive(game, "1.0.0")
    os.truncate(path, 10_000)
    alice = await hub.player("alice")
    answer = await alice.request("DOWNLOAD_BEGIN", {"game_id": game})
    chunks, last = await _collect(alice, answer["download_id"])
    assert last["type"] == "DOWNLOAD_ERROR" and last["payload"]["code"] == 199
    assert len(chunks) == 2
    assert hub.app.downloads.active == {}
    path.unlink()
    with pytest.raises(Exception) as err:
        await alice.request("DOWNLOAD_BEGIN", {"game_id": game})
    assert err.value.code == 199


async def _wait_idle(app, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while app.downloads.active:  # noqa: ASYNC110 - polling server state from outside, no event to wait on
            await asyncio.sleep(0.02)


async def test_disconnect_mid_stream_frees_the_download(make_hub) -> None:
    hub = await make_hub(download_chunk_size=64 * 1024)
    game = await publish(hub.app, "big", "1.0.0", payload_bytes=8 << 20)
    alice = await hub.player("alice")
    # A raw client that asks, reads a little, and hangs up: the server is blocked on flow control by then.
    # A small receive buffer, so the server is still streaming (blocked on flow control) when the client hangs up.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", hub.app.lobby_port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
    req = {"type": "DOWNLOAD_BEGIN", "token": alice.token, "payload": {"game_id": game}}
    writer.write(json.dumps(req).encode() + b"\n")
    await writer.drain()
    answer = json.loads(await reader.readline())
    assert answer["status"] == "ok"
    first = json.loads(await reader.readline())
    assert first["type"] == "DOWNLOAD_CHUNK" and first["payload"]["seq"] == 0
    assert len(hub.app.downloads.active) == 1
    writer.transport.abort()
    await _wait_idle(hub.app)
    # The player can carry on with a new connection.
    again = await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "start_seq": 127})
    _, end = await _collect(alice, again["download_id"])
    assert end["type"] == "DOWNLOAD_END"


async def test_cancel_download_stops_the_stream(make_hub) -> None:
    hub = await make_hub(download_chunk_size=16 * 1024)
    game = await publish(hub.app, "big", "1.0.0", payload_bytes=16 << 20)
    alice = await hub.player("alice")
    queue = alice.subscribe("DOWNLOAD_CHUNK")
    ends = alice.subscribe("DOWNLOAD_END")
    answer = await alice.request("DOWNLOAD_BEGIN", {"game_id": game})
    await asyncio.wait_for(queue.get(), 10)
    out = await alice.request("CANCEL_DOWNLOAD", {"download_id": answer["download_id"]})
    assert out == {"download_id": answer["download_id"]}
    assert hub.app.downloads.active == {}
    count = queue.qsize()
    await asyncio.sleep(0.1)
    assert queue.qsize() == count and ends.empty()  # nothing follows the answer
    with pytest.raises(NotFound):
        await alice.request("CANCEL_DOWNLOAD", {"download_id": answer["download_id"]})


async def test_download_limits(make_hub) -> None:
    hub = await make_hub(download_chunk_size=4096, max_concurrent_downloads=2, max_downloads_per_connection=1)
    game = await publish(hub.app, "big", "1.0.0", payload_bytes=6 << 20)
    alice = await hub.player("alice")
    bob = await hub.player("bob")
    carol = await hub.player("carol")
    a = await alice.request("DOWNLOAD_BEGIN", {"game_id": game})
    with pytest.raises(RateLimited) as err:
        await alice.request("DOWNLOAD_BEGIN", {"game_id": game})
    assert err.value.payload["retry_after_s"] >= 1
    b = await bob.request("DOWNLOAD_BEGIN", {"game_id": game})
    with pytest.raises(RateLimited):
        await carol.request("DOWNLOAD_BEGIN", {"game_id": game})
    await alice.request("CANCEL_DOWNLOAD", {"download_id": a["download_id"]})
    await bob.request("CANCEL_DOWNLOAD", {"download_id": b["download_id"]})
    c = await carol.request("DOWNLOAD_BEGIN", {"game_id": game})
    _, end = await _collect(carol, c["download_id"])
    assert end["type"] == "DOWNLOAD_END"


async def test_many_downloads_at_once(make_hub) -> None:
    hub = await make_hub(download_chunk_size=32 * 1024)
    game = await publish(hub.app, "rps", "1.0.0", payload_bytes=300_000)
    digest = hashlib.sha256(hub.app.blobs.archive(game, "1.0.0").read_bytes()).hexdigest()
    players = [await hub.player(f"player{i}") for i in range(8)]

    async def one(client) -> str:
        queue = client.subscribe(None)
        answer = await client.request("DOWNLOAD_BEGIN", {"game_id": game})
        h = hashlib.sha256()
        while True:
            msg = await asyncio.wait_for(queue.get(), 10)
            if msg["type"] == "DOWNLOAD_CHUNK":
                h.update(base64.b64decode(msg["payload"]["data_b64"]))
            elif msg["type"] == "DOWNLOAD_END":
                assert msg["payload"]["download_id"] == answer["download_id"]
                return h.hexdigest()

    assert await asyncio.gather(*(one(c) for c in players)) == [digest] * 8

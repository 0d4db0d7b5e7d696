"""Binary chunk frames for uploads and downloads: negotiation, round trips, resume, errors, cancel, limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from pathlib import Path
from typing import Any

import pytest

from playhub.client import Client
from playhub.client.library import LocalLibrary, download_game
from playhub.client.publishing import publish_folder, upload_file
from playhub.protocol.errors import BadState, ChecksumMismatch, InvalidRequest, RateLimited
from playhub.wire.framing import (
    BINARY_DOWNLOAD_CHUNK,
    BINARY_UPLOAD_CHUNK,
    BadBinaryFrame,
    FrameDecoder,
    Framing,
    binary_header,
    decode_binary,
    encode_binary_frame,
    is_binary_frame,
)
from tests.publishing_helpers import create_game, good_package, make_game_folder, sha256, zip_bytes
from tests.store_helpers import publish

LP = Framing.LENGTH_PREFIXED


def _frame(payload: bytes) -> bytes:
    return struct.pack("!I", len(payload)) + payload


async def _dev(hub: Any, framing: Framing = LP, name: str = "dev1") -> Client:
    client = await hub.dev(framing)
    await client.register_dev(name, "secret-pw")
    return client


async def _player(hub: Any, framing: Framing = LP, name: str = "alice") -> Client:
    client = await hub.lobby(framing)
    await client.register_player(name, "secret-pw")
    return client


def _package(name: str, extra: int) -> bytes:
    return _package_with(name, hashlib.shake_256(name.encode()).digest(extra))


def _package_with(name: str, blob: bytes) -> bytes:
    return zip_bytes(
        {"server.py": "print(1)\n", "client.py": "print(2)\n", "assets.bin": blob},
        manifest_data={
            "name": name,
            "display_name": name.title(),
            "type": "cli",
            "max_players": 2,
            "entry_server": "server.py",
            "entry_client": "client.py",
            "description": "d",
        },
    )


async def _begin_binary(client: Client, game_id: str, data: bytes, **extra: Any) -> dict[str, Any]:
    payload = {
        "game_id": game_id,
        "version": "1.0.0",
        "size_bytes": len(data),
        "checksum": sha256(data),
        "encoding": "binary",
        **extra,
    }
    return await client.request("UPLOAD_BEGIN", payload)


async def _chunk(client: Client, upload_id: str, seq: int, data: bytes) -> dict[str, Any]:
    return await asyncio.wait_for(client.send_binary_chunk(upload_id, seq, data), 10)


# --- the frame format (sans-I/O) -------------------------------------------------------------------------------------
def test_binary_frame_round_trip_through_the_decoder() -> None:
    frame = encode_binary_frame(BINARY_UPLOAD_CHUNK, "abc123", 7, b"\x00\n{raw}\xff", req_id=42)
    decoder = FrameDecoder(1 << 20, Framing.LENGTH_PREFIXED)
    payloads = [p for i in range(len(frame)) for p in decoder.feed(frame[i : i + 1])]  # byte by byte
    assert len(payloads) == 1 and is_binary_frame(payloads[0])
    chunk = decode_binary(payloads[0])
    assert (chunk.kind, chunk.req_id, chunk.seq, chunk.transfer_id) == (BINARY_UPLOAD_CHUNK, 42, 7, "abc123")
    assert bytes(chunk.data) == b"\x00\n{raw}\xff"
    assert not is_binary_frame(b'{"type": "X"}')


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\xb1\x01", "shorter than"),
        (b"\xb1\x09\x03" + struct.pack("!II", 5, 0) + b"abc", "unknown binary frame kind 9"),
        (b"\xb1\x01\x00" + struct.pack("!II", 5, 0), "bad transfer id length 0"),
        (b"\xb1\x01\x10" + struct.pack("!II", 5, 0) + b"abc", "bad transfer id length 16"),
        (b"\xb1\x01\x02" + struct.pack("!II", 5, 0) + b"\xff\xfe", "not ASCII"),
    ],
)
def test_malformed_binary_frames_are_refused(payload: bytes, message: str) -> None:
    with pytest.raises(BadBinaryFrame, match=message):
        decode_binary(payload)


# --- uploads ---------------------------------------------------------------------------------------------------------
async def test_binary_upload_round_trip_and_download_matches(hub) -> None:
    dev = await _dev(hub)
    game_id = await create_game(dev, "bingame")
    data = _package("bingame", 700_000)
    begin = await _begin_binary(dev, game_id, data)
    assert begin["encoding"] == "binary" and begin["next_seq"] == 0
    size = begin["chunk_size"]
    seq = 0
    futures = []
    for off in range(0, len(data), size):
        futures.append(dev.send_binary_chunk(begin["upload_id"], seq, data[off : off + size]))
        seq += 1
    answers = await asyncio.gather(*futures)
    assert all(a["status"] == "ok" for a in answers)
    assert answers[-1]["payload"] == {"next_seq": seq, "received_bytes": len(data)}
    out = await dev.request("UPLOAD_END", {"upload_id": begin["upload_id"]})
    assert out["checksum"] == sha256(data) and out["version"] == "1.0.0"
    assert hub.app.blobs.archive(game_id, "1.0.0").read_bytes() == data


async def test_binary_upload_wrong_seq_is_120_and_resume_continues(hub, tmp_path: Path) -> None:
    dev = await _dev(hub)
    game_id = await create_game(dev, "resumer")
    data = _package("resumer", 600_000)
    begin = await _begin_binary(dev, game_id, data)
    upload_id, size = begin["upload_id"], min(begin["chunk_size"], 200_000)  # several chunks
    assert (await _chunk(dev, upload_id, 0, data[:size]))["status"] == "ok"
    wrong = await _chunk(dev, upload_id, 5, data[size : 2 * size])
    assert wrong["code"] == 120 and wrong["payload"] == {"expected_seq": 1}
    await dev.close()
    # Another connection resumes the same upload in binary mode and finishes it.
    dev2 = await hub.dev(LP)
    await dev2.login_dev("dev1", "secret-pw")
    again = await _begin_binary(dev2, game_id, data, resume=True)
    assert again["resumed"] and again["next_seq"] == 1 and again["received_bytes"] == size
    seq = 1
    for off in range(size, len(data), size):
        assert (await _chunk(dev2, upload_id, seq, data[off : off + size]))["status"] == "ok"
        seq += 1
    assert (await dev2.request("UPLOAD_END", {"upload_id": upload_id}))["checksum"] == sha256(data)


async def test_binary_chunk_without_binary_begin_on_this_connection_is_105(hub) -> None:
    dev = await _dev(hub)
    game_id = await create_game(dev, "nobegin")
    data = good_package("nobegin")
    base64_begin = await dev.request(
        "UPLOAD_BEGIN",
        {"game_id": game_id, "version": "1.0.0", "size_bytes": len(data), "checksum": sha256(data)},
    )
    assert "encoding" not in base64_begin
    answer = await _chunk(dev, base64_begin["upload_id"], 0, data)
    assert answer["code"] == 105
    assert (await _chunk(dev, "f" * 32, 0, data))["code"] == 105


async def test_ndjson_connection_asking_binary_is_100(hub) -> None:
    dev = await _dev(hub, Framing.NDJSON)
    game_id = await create_game(dev, "ndjsongame")
    with pytest.raises(InvalidRequest, match="length-prefixed"):
        await _begin_binary(dev, game_id, good_package("ndjsongame"))
    player = await _player(hub, Framing.NDJSON)
    with pytest.raises(InvalidRequest, match="length-prefixed"):
        await player.request("DOWNLOAD_BEGIN", {"game_id": game_id, "encoding": "binary"})
    with pytest.raises(InvalidRequest, match="encoding"):
        await dev.request(
            "UPLOAD_BEGIN", {"game_id": game_id, "version": "1.0.0", "size_bytes": 5, "encoding": "zip"}
        )
    # A line starting with the binary marker on an NDJSON connection is refused, and the connection still works.
    await dev.send_raw(b"\xb1\x01\x02garbage\n")
    refused = await dev.request_raw("WHOAMI")  # the answer without id is matched to the oldest request
    assert refused["code"] == 100 and "length-prefixed" in refused["message"]
    assert (await dev.request("WHOAMI"))["username"] == "dev1"


async def test_bad_binary_frames_are_100_and_the_connection_goes_on(hub) -> None:
    dev = await _dev(hub)
    game_id = await create_game(dev, "badframes")
    data = good_package("badframes")
    begin = await _begin_binary(dev, game_id, data)
    for payload, message in (
        (b"\xb1\x01", "shorter than"),
        (b"\xb1\x07\x03" + struct.pack("!II", 0, 0) + b"abc", "unknown binary frame kind 7"),
        (
            binary_header(BINARY_DOWNLOAD_CHUNK, begin["upload_id"], 0) + b"x",
            "not accepted on the developer port",
        ),
    ):
        await dev.send_raw(_frame(payload))
        refused = await dev.request_raw("WHOAMI")  # the answer without id is matched to the oldest request
        assert refused["code"] == 100 and message in refused["message"], refused
    assert (await dev.request("WHOAMI"))["username"] == "dev1"
    # An empty chunk is 100 with the frame's request id, and the upload is untouched.
    empty = await _chunk(dev, begin["upload_id"], 0, b"")
    assert empty["code"] == 100
    too_big = await _chunk(dev, begin["upload_id"], 0, b"x" * (begin["chunk_size"] + 1))
    assert too_big["code"] == 100
    assert (await _chunk(dev, begin["upload_id"], 0, data))["payload"]["received_bytes"] == len(data)


async def test_binary_upload_checksum_mismatch_and_size_limit(hub) -> None:
    dev = await _dev(hub)
    game_id = await create_game(dev, "mismatch")
    data = good_package("mismatch")
    begin = await _begin_binary(dev, game_id, data, checksum=sha256(b"other bytes"))
    assert (await _chunk(dev, begin["upload_id"], 0, data))["status"] == "ok"
    with pytest.raises(ChecksumMismatch, match="discarded"):
        await dev.request("UPLOAD_END", {"upload_id": begin["upload_id"]})
    # Past the announced size: 121, nothing written.
    begin = await _begin_binary(dev, game_id, data)
    past = await _chunk(dev, begin["upload_id"], 0, data + b"extra")
    assert past["code"] == 121
    # Over max_package_bytes at BEGIN: 100.
    with pytest.raises(InvalidRequest, match="limit"):
        await _begin_binary(dev, game_id, data, size_bytes=hub.app.settings.max_package_bytes + 1)


async def test_binary_chunk_after_logout_is_refused(hub) -> None:
    dev = await _dev(hub)
    game_id = await create_game(dev, "loggedout")
    data = good_package("loggedout")
    begin = await _begin_binary(dev, game_id, data)
    await dev.logout()
    answer = await _chunk(dev, begin["upload_id"], 0, data)
    assert answer["code"] == 101


async def test_publish_folder_uses_binary_and_falls_back_to_base64(hub, tmp_path: Path) -> None:
    folder = make_game_folder(tmp_path, "pubbin", extra_bytes=300_000)
    dev = await _dev(hub)
    sent: list[str] = []
    real = dev.send_binary_chunk

    def spy(*args: Any) -> Any:
        sent.append("binary")
        return real(*args)

    dev.send_binary_chunk = spy  # type: ignore[method-assign]
    seen: list[tuple[int, int]] = []
    out = await publish_folder(dev, folder, "1.0.0", progress=lambda d, t: seen.append((d, t)))
    assert out["version"] == "1.0.0" and sent and seen[-1][0] == seen[-1][1]
    # A server that refuses the field (simulated by the refusal the real server gives on NDJSON) → base64 chunks.
    ndjson = await hub.dev(Framing.NDJSON)
    await ndjson.login_dev("dev1", "secret-pw")
    archive = tmp_path / "p.zip"
    archive.write_bytes(_package("pubbin", 200_000))
    out = await upload_file(ndjson, out["game_id"], "1.0.1", archive, encoding="binary")
    assert out["version"] == "1.0.1"


# --- downloads -------------------------------------------------------------------------------------------------------
async def _collect(client: Client, download_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    queue = client.subscribe(None)
    chunks: list[dict[str, Any]] = []
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


@pytest.mark.parametrize("sendfile", [True, False])
async def test_binary_download_round_trip_and_resume(make_hub, sendfile: bool) -> None:
    hub = await make_hub(download_chunk_size=16 * 1024, download_sendfile=sendfile)
    game = await publish(hub.app, "binrps", "1.0.0", payload_bytes=200_000)
    archive = hub.app.blobs.archive(game, "1.0.0").read_bytes()
    alice = await _player(hub)
    queue = alice.subscribe(None)
    answer = await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "encoding": "binary"})
    assert answer["encoding"] == "binary" and answer["checksum"] == hashlib.sha256(archive).hexdigest()
    alice.unsubscribe(queue)
    early = []
    while not queue.empty():
        msg = queue.get_nowait()
        if msg["type"] == "DOWNLOAD_CHUNK":
            early.append(msg["payload"])
    chunks, end = await _collect(alice, answer["download_id"])
    chunks = early + chunks
    assert end["type"] == "DOWNLOAD_END" and end["payload"]["checksum"] == answer["checksum"]
    assert [c["seq"] for c in chunks] == list(range(len(chunks)))
    assert b"".join(bytes(c["data"]) for c in chunks) == archive
    # Resume from chunk 5.
    queue = alice.subscribe(None)
    again = await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "encoding": "binary", "start_seq": 5})
    alice.unsubscribe(queue)
    early = []
    while not queue.empty():
        msg = queue.get_nowait()
        if msg["type"] == "DOWNLOAD_CHUNK":
            early.append(msg["payload"])
    rest, _ = await _collect(alice, again["download_id"])
    rest = early + rest
    assert rest[0]["seq"] == 5 and b"".join(bytes(c["data"]) for c in rest) == archive[5 * 16 * 1024 :]
    assert not hub.app.downloads.active


async def test_binary_download_interleaves_with_other_messages(make_hub) -> None:
    hub = await make_hub(download_chunk_size=8 * 1024)
    game = await publish(hub.app, "busy", "1.0.0", payload_bytes=400_000)
    alice = await _player(hub)
    library_root = hub.app.data_dir.parent / "lib"
    lib = LocalLibrary(library_root, "alice")
    # Two downloads on one connection plus requests in between: every frame must stay whole.
    task = asyncio.create_task(download_game(alice, lib, game))
    for _ in range(20):
        assert (await alice.request("WHOAMI"))["username"] == "alice"
    installed = await task
    assert installed.version == "1.0.0" and (installed.path / "manifest.json").is_file()


async def test_cancel_binary_download_mid_stream_frees_the_slot(make_hub) -> None:
    hub = await make_hub(download_chunk_size=4 * 1024, max_downloads_per_connection=1)
    game = await publish(hub.app, "cancelme", "1.0.0", payload_bytes=16 << 20)
    alice = await _player(hub)
    answer = await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "encoding": "binary"})
    with pytest.raises(RateLimited):
        await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "encoding": "binary"})
    await alice.wait_push("DOWNLOAD_CHUNK", lambda p: p["download_id"] == answer["download_id"])
    await alice.request("CANCEL_DOWNLOAD", {"download_id": answer["download_id"]})
    assert not hub.app.downloads.active
    # No chunk of the cancelled stream follows the answer; the connection still frames correctly.
    queue = alice.subscribe("DOWNLOAD_CHUNK")
    assert (await alice.request("WHOAMI"))["username"] == "alice"
    await asyncio.sleep(0.1)
    assert all(m["payload"]["download_id"] != answer["download_id"] for m in iter_queue(queue))
    second = await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "encoding": "binary", "start_seq": 4000})
    _, end = await _collect(alice, second["download_id"])
    assert end["type"] == "DOWNLOAD_END"


def iter_queue(queue: asyncio.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


async def test_binary_download_of_a_truncated_package_is_199(make_hub) -> None:
    hub = await make_hub()
    game = await publish(hub.app, "shortpkg", "1.0.0", payload_bytes=50_000)
    path = hub.app.blobs.archive(game, "1.0.0")
    path.write_bytes(path.read_bytes()[:1000])
    alice = await _player(hub)
    answer = await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "encoding": "binary"})
    _, end = await _collect(alice, answer["download_id"])
    assert end["type"] == "DOWNLOAD_ERROR" and end["payload"]["code"] == 199
    assert not hub.app.downloads.active


async def test_download_game_binary_checks_the_checksum(make_hub) -> None:
    hub = await make_hub(download_chunk_size=16 * 1024)
    game = await publish(hub.app, "corrupt", "1.0.0", payload_bytes=100_000)
    path = hub.app.blobs.archive(game, "1.0.0")
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # same size, other bytes than the catalogue's checksum
    path.write_bytes(bytes(data))
    alice = await _player(hub)
    lib = LocalLibrary(hub.app.data_dir.parent / "lib", "alice")
    with pytest.raises(ChecksumMismatch):
        await download_game(alice, lib, game)
    assert lib.get("corrupt") is None and not lib.part_path("corrupt", "1.0.0").exists()


def test_length_prefixed_decoder_gives_the_same_frames_however_the_bytes_are_cut() -> None:
    # Frames of every size class (empty, tiny, header-only binary, larger than one read), cut at random places,
    # including inside the 4-byte length prefix: the decoder must give back exactly the frames sent.
    import random

    rng = random.Random(7)
    payloads = [
        b"",
        b"{}",
        b'{"type":"WHOAMI"}',
        bytes(range(256)) * 3000,
        b"\xb1" + bytes(50),
        b"x" * 70_000,
    ]
    payloads += [rng.randbytes(rng.randrange(0, 5000)) for _ in range(40)]
    stream = b"".join(_frame(p) for p in payloads)
    for _ in range(30):
        decoder = FrameDecoder(1 << 20, Framing.LENGTH_PREFIXED)
        out: list[bytes] = []
        pos = 0
        while pos < len(stream):
            step = rng.choice((1, 2, 3, 5, 4096, 65536, 300_000))
            piece = stream[pos : pos + step]
            out += decoder.feed(bytearray(piece) if step == 3 else piece)
            pos += step
            if pos < len(stream):
                assert decoder.buffered > 0 or out[-1:] == [payloads[len(out) - 1]]
        assert out == payloads and all(type(f) is bytes for f in out)
        assert decoder.buffered == 0


async def test_binary_download_to_a_reader_that_pauses_keeps_every_frame_whole(make_hub) -> None:
    # A client that stops reading fills the socket: sendfile then sends part of a chunk, the rest is queued, and the
    # answers to requests sent meanwhile are held behind the frame in progress. Nothing may be cut or reordered.
    hub = await make_hub(download_chunk_size=64 * 1024)
    game = await publish(hub.app, "pauser", "1.0.0", payload_bytes=6 << 20)
    archive = hub.app.blobs.archive(game, "1.0.0").read_bytes()
    alice = await _player(hub)
    queue = alice.subscribe(None)
    answer = await alice.request("DOWNLOAD_BEGIN", {"game_id": game, "encoding": "binary"})
    alice.writer.transport.pause_reading()
    pending = [alice.send_request("WHOAMI") for _ in range(5)]
    await alice.writer.drain()
    await asyncio.sleep(0.3)
    alice.writer.transport.resume_reading()
    answers = await asyncio.wait_for(asyncio.gather(*pending), 10)
    assert all(a["payload"]["username"] == "alice" for a in answers)
    chunks: list[bytes] = []
    while True:
        msg = await asyncio.wait_for(queue.get(), 10)
        if msg["payload"].get("download_id") != answer["download_id"]:
            continue
        if msg["type"] == "DOWNLOAD_CHUNK":
            assert msg["payload"]["seq"] == len(chunks)
            chunks.append(bytes(msg["payload"]["data"]))
        else:
            assert msg["type"] == "DOWNLOAD_END"
            break
    assert b"".join(chunks) == archive


async def test_binary_frame_over_max_frame_bytes_is_100_and_closes(make_hub) -> None:
    hub = await make_hub(max_frame_bytes=64 * 1024)
    dev = await _dev(hub)
    game_id = await create_game(dev, "toolarge")
    data = _package("toolarge", 100_000)
    begin = await _begin_binary(dev, game_id, data)
    answer = await asyncio.wait_for(dev.send_binary_chunk(begin["upload_id"], 0, data[:70_000]), 10)
    assert answer["code"] == 100 and "exceeds the limit" in answer["message"]
    await asyncio.wait_for(dev.wait_closed(), 10)


async def test_a_failed_chunk_write_is_199_and_the_upload_resumes_from_durable_progress(hub) -> None:
    dev = await _dev(hub)
    game_id = await create_game(dev, "diskfull")
    data = _package("diskfull", 1_300_000)
    begin = await _begin_binary(dev, game_id, data)
    upload_id, size = begin["upload_id"], min(begin["chunk_size"], 262_144)  # several chunks
    assert (await _chunk(dev, upload_id, 0, data[:size]))["status"] == "ok"
    await asyncio.sleep(0.6)  # past the persistence interval: chunk 1 is saved as durable progress
    assert (await _chunk(dev, upload_id, 1, data[size : 2 * size]))["status"] == "ok"
    live = hub.app.uploads._live[upload_id]
    real = live.fh

    class Full:
        """The part file on a full disk."""

        def write(self, _data: object) -> int:
            raise OSError(28, "No space left on device")

        def flush(self) -> None:
            real.flush()

        def close(self) -> None:
            real.close()

    live.fh = Full()  # type: ignore[assignment]
    # The answer does not wait for the disk: the failed write is reported to the next request of the upload.
    assert (await _chunk(dev, upload_id, 2, data[2 * size : 3 * size]))["status"] == "ok"
    await asyncio.sleep(0.2)
    failed = await _chunk(dev, upload_id, 3, data[3 * size : 4 * size])
    assert failed["code"] == 199 and "No space left" in failed["message"]
    assert upload_id not in hub.app.uploads._live
    real.close()
    # A resume reloads the upload from its row, which never counted the lost bytes.
    again = await _begin_binary(dev, game_id, data, resume=True)
    assert again["next_seq"] == 2 and again["received_bytes"] == 2 * size
    seq = 2
    for off in range(2 * size, len(data), size):
        assert (await _chunk(dev, upload_id, seq, data[off : off + size]))["status"] == "ok"
        seq += 1
    assert (await dev.request("UPLOAD_END", {"upload_id": upload_id}))["checksum"] == sha256(data)


async def test_binary_uploads_get_larger_chunks_capped_by_the_frame_limit(make_hub) -> None:
    hub = await make_hub(upload_binary_chunk_size=600_000, max_frame_bytes=400_000)
    dev = await _dev(hub)
    game_id = await create_game(dev, "bigchunks")
    data = _package("bigchunks", 900_000)
    begin = await _begin_binary(dev, game_id, data)
    limit = 400_000 - 11 - 64  # the frame header with the longest transfer id still fits max_frame_bytes
    assert begin["chunk_size"] == limit
    over = await _chunk(dev, begin["upload_id"], 0, data[: limit + 1])
    assert over["code"] == 100 and f"larger than chunk_size ({limit})" in over["message"]
    # The same upload's base64 chunks keep the base64 limit.
    with pytest.raises(InvalidRequest, match=r"larger than chunk_size \(262144\)"):
        await dev.request(
            "UPLOAD_CHUNK",
            {"upload_id": begin["upload_id"], "seq": 0, "data_b64": base64.b64encode(data[:262145]).decode()},
        )
    assert (await _chunk(dev, begin["upload_id"], 0, data[:limit]))["payload"]["received_bytes"] == limit
    base = await hub.dev(LP)
    await base.register_dev("dev2", "secret-pw")
    game2 = await create_game(base, "smallchunks")
    plain = await base.request(
        "UPLOAD_BEGIN", {"game_id": game2, "version": "1.0.0", "size_bytes": 10, "checksum": sha256(b"0" * 10)}
    )
    assert plain["chunk_size"] == 262144


async def test_checksum_given_at_upload_end(hub, tmp_path: Path) -> None:
    dev = await _dev(hub)
    game_id = await create_game(dev, "latesum")
    data = _package("latesum", 300_000)

    async def begin_and_send(version: str, checksum: str | None = None) -> str:
        payload = {"game_id": game_id, "version": version, "size_bytes": len(data), "encoding": "binary"}
        if checksum is not None:
            payload["checksum"] = checksum
        upload_id = (await dev.request("UPLOAD_BEGIN", payload))["upload_id"]
        assert (await _chunk(dev, upload_id, 0, data))["status"] == "ok"
        return upload_id

    upload_id = await begin_and_send("1.0.0")
    # A malformed checksum is 100 and leaves the upload as it was.
    with pytest.raises(InvalidRequest, match="SHA-256 digest"):
        await dev.request("UPLOAD_END", {"upload_id": upload_id, "checksum": "abc"})
    # A wrong one is 121 and discards the upload.
    with pytest.raises(ChecksumMismatch, match="not the announced") as wrong:
        await dev.request("UPLOAD_END", {"upload_id": upload_id, "checksum": "0" * 64})
    assert wrong.value.code == 121
    with pytest.raises(BadState):
        await dev.request("UPLOAD_END", {"upload_id": upload_id})
    # Announced at BEGIN and given again at END: both must match the bytes.
    upload_id = await begin_and_send("1.0.0", sha256(data))
    with pytest.raises(ChecksumMismatch):
        await dev.request("UPLOAD_END", {"upload_id": upload_id, "checksum": "f" * 64})
    upload_id = await begin_and_send("1.0.0")
    out = await dev.request("UPLOAD_END", {"upload_id": upload_id, "checksum": "SHA256:" + sha256(data).upper()})
    assert out["checksum"] == sha256(data)


async def test_upload_file_hashes_while_sending_and_restarts_a_resume_of_other_bytes(hub, tmp_path: Path) -> None:
    dev = await _dev(hub)
    game_id = await create_game(dev, "rehash")
    old = _package("rehash", 500_000)
    new = bytes(old)
    while new[:100_000] == old[:100_000]:  # same size, other bytes from the first chunk on
        new = _package_with("rehash", os.urandom(500_000))
    assert len(new) == len(old)
    # An upload of the old bytes, begun without a checksum and left half-way.
    begin = await dev.request(
        "UPLOAD_BEGIN",
        {"game_id": game_id, "version": "1.0.0", "size_bytes": len(old), "encoding": "binary"},
    )
    assert (await _chunk(dev, begin["upload_id"], 0, old[:100_000]))["status"] == "ok"
    archive = tmp_path / "new.zip"
    archive.write_bytes(new)
    # upload_file resumes it, sends the rest of the new file, and the checksum at END tells the two apart: the
    # server discards the mix and upload_file sends the new file again from the start.
    out = await upload_file(dev, game_id, "1.0.0", archive, encoding="binary")
    assert out["checksum"] == sha256(new)
    assert hub.app.blobs.archive(game_id, "1.0.0").read_bytes() == new

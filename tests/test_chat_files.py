"""Files in chat channels over real sockets: chunked upload, FILE_AVAILABLE, downloads, limits and quotas."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os

import pytest

from playhub.client.chat import ChatClient
from playhub.protocol.errors import (
    BadState,
    ChecksumMismatch,
    ChunkOutOfOrder,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
)
from playhub.protocol.pushes import ChatFileAvailable, ChatMessage
from tests.helpers import Harness


async def _chat(hub: Harness, name: str) -> ChatClient:
    chat = ChatClient(await hub.player(name))
    await chat.open()
    return chat


async def test_share_a_file_and_every_member_downloads_it(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chat_file_chunk_size=1000)
    alice, bob = await _chat(hub, "alice"), await _chat(hub, "bob")
    await alice.join("share")
    await bob.join("share")
    data = os.urandom(4321)
    available = asyncio.ensure_future(bob.wait(ChatFileAvailable))
    message = asyncio.ensure_future(bob.wait(ChatMessage, lambda m: m.file_id is not None))
    await asyncio.sleep(0)
    shared = await alice.share_bytes("share", "notes ✓.bin", data)
    digest = hashlib.sha256(data).hexdigest()
    assert (shared.file.size_bytes, shared.file.sha256, shared.file.pieces) == (4321, digest, 5)
    push = await available
    assert (push.file_id, push.filename, push.uploader, push.size_bytes) == (
        shared.file.file_id,
        "notes ✓.bin",
        "alice",
        4321,
    )
    msg = await message
    assert msg.file_id == shared.file.file_id and msg.text == "notes ✓.bin" and msg.id == shared.message.id
    assert await bob.fetch_bytes(push.file_id, push.sha256) == data
    listed = await bob.files("share")
    assert [f.file_id for f in listed] == [push.file_id]
    # In the history, the file's message carries its id.
    page = await bob.history("share")
    assert page.messages[-1].file_id == push.file_id
    # A non-member cannot fetch it; unknown files and pieces are 103.
    carol = await _chat(hub, "carol")
    with pytest.raises(Forbidden) as exc:
        await carol.file_piece(push.file_id, 0)
    assert exc.value.code == 102
    with pytest.raises(NotFound) as exc2:
        await bob.file_piece(push.file_id + 100, 0)
    assert exc2.value.code == 103
    with pytest.raises(NotFound):
        await bob.file_piece(push.file_id, 5)
    with pytest.raises(Forbidden):
        await carol.files("share")


async def test_upload_errors_have_exact_codes(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chat_file_max_bytes=5000, chat_file_chunk_size=1000, chat_open_uploads_per_user=2)
    alice, bob = await _chat(hub, "alice"), await _chat(hub, "bob")
    await bob.join("bobs")
    with pytest.raises(NotFound):
        await alice.file_begin("nowhere", "a.txt", 10)
    with pytest.raises(Forbidden):
        await alice.file_begin("bobs", "a.txt", 10)
    for name in ["", "a/b", "a\\b", "bell\x07", "x" * 129, ".."]:
        with pytest.raises(InvalidRequest):
            await alice.file_begin("general", name, 10)
    for size in (0, -1, 5001):
        with pytest.raises(InvalidRequest):
            await alice.file_begin("general", "a.txt", size)
    with pytest.raises(InvalidRequest):
        await alice.file_begin("general", "a.txt", 10, "not-hex")
    up = await alice.file_begin("general", "a.txt", 1500, "sha256:" + hashlib.sha256(b"x" * 1500).hexdigest())
    assert up.chunk_size == 1000
    with pytest.raises(ChunkOutOfOrder) as exc:
        await alice.file_chunk(up.upload_id, 1, b"x")
    assert exc.value.code == 120 and exc.value.payload["expected_seq"] == 0
    with pytest.raises(InvalidRequest):
        await alice.file_chunk(up.upload_id, 0, b"x" * 1001)  # over the chunk size
    raw = await alice.client.request_raw("CHAT_FILE_CHUNK", {"upload_id": up.upload_id, "seq": 0, "data_b64": "!!"})
    assert raw["code"] == 100
    await alice.file_chunk(up.upload_id, 0, b"x" * 1000)
    with pytest.raises(InvalidRequest):
        await alice.file_chunk(up.upload_id, 1, b"x" * 501)  # more than announced
    with pytest.raises(ChecksumMismatch) as exc2:
        await alice.file_end(up.upload_id)  # short
    assert exc2.value.code == 121
    # Someone else's upload id is not theirs to use.
    with pytest.raises(BadState) as exc3:
        await bob.file_chunk(up.upload_id, 1, b"x")
    assert exc3.value.code == 105
    await alice.file_chunk(up.upload_id, 1, b"x" * 500)
    # Two uploads open at most.
    second = await alice.file_begin("general", "b.txt", 10)
    with pytest.raises(BadState):
        await alice.file_begin("general", "c.txt", 10)
    await alice.file_cancel(second.upload_id)
    with pytest.raises(BadState):
        await alice.file_cancel(second.upload_id)
    shared = await alice.file_end(up.upload_id)
    assert shared.file.size_bytes == 1500
    with pytest.raises(BadState):
        await alice.file_end(up.upload_id)  # finished: gone
    # A wrong SHA-256 drops the upload.
    bad = await alice.file_begin("general", "d.txt", 3, "0" * 64)
    await alice.file_chunk(bad.upload_id, 0, b"abc")
    with pytest.raises(ChecksumMismatch):
        await alice.file_end(bad.upload_id)
    with pytest.raises(BadState):
        await alice.file_chunk(bad.upload_id, 1, b"")


async def test_quota_and_flood_apply_to_files(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chat_file_quota_bytes=3000, chat_file_chunk_size=1000, chat_user_rate=0.01, chat_user_burst=2)
    alice = await _chat(hub, "alice")
    await alice.share_bytes("general", "one", b"1" * 2000)
    with pytest.raises(BadState) as exc:
        await alice.file_begin("general", "two", 1001)
    assert exc.value.code == 105 and "quota" in exc.value.message
    await alice.send("general", "a message takes the last token")
    up = await alice.file_begin("general", "three", 10)
    await alice.file_chunk(up.upload_id, 0, b"3" * 10)
    with pytest.raises(RateLimited) as exc2:
        await alice.file_end(up.upload_id)
    assert exc2.value.code == 106


async def test_files_go_with_retention(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chat_retention_messages=2, chat_user_rate=0)
    alice = await _chat(hub, "alice")
    shared = await alice.share_bytes("general", "old.txt", b"old bytes")
    await alice.send("general", "one")
    await alice.send("general", "two")
    assert await hub.app.chat.apply_retention() == 1
    with pytest.raises(NotFound):
        await alice.file_piece(shared.file.file_id, 0)
    assert [m.text for m in (await alice.history("general")).messages] == ["one", "two"]
    assert await alice.files("general") == []
    # Its bytes no longer count against the quota.
    assert await hub.app.chat.writer.call(_uploader_bytes, "alice") == 0


def _uploader_bytes(conn, key):  # type: ignore[no-untyped-def]
    from playhub.store import chat

    return chat.uploader_bytes(conn, key)


async def test_base64_pieces_on_the_wire(hub: Harness) -> None:
    alice = await _chat(hub, "alice")
    shared = await alice.share_bytes("general", "w.bin", b"\x00\xff" * 10)
    raw = await alice.client.request("CHAT_FILE_GET", {"file_id": shared.file.file_id})
    assert base64.b64decode(raw["data_b64"]) == b"\x00\xff" * 10 and raw["last"] is True and raw["seq"] == 0

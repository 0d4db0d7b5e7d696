"""Crashes: the server SIGKILLed mid-upload and during publication, and startup recovery of what a crash leaves."""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
from hashlib import shake_256
from pathlib import Path

from playhub.client import Client
from playhub.server.app import PlayHubApp
from tests.helpers import ServerProcess, settings_for_tests
from tests.publishing_helpers import (
    begin,
    create_game,
    good_package,
    manifest,
    send_chunks,
    upload,
    zip_bytes,
)


def big_package(name: str, size: int, files: int = 1) -> bytes:
    entries: dict[str, bytes | str] = {"server.py": "print(1)\n", "client.py": "print(2)\n"}
    for i in range(files):
        entries[f"assets/a{i}.bin"] = shake_256(f"{name}{i}".encode()).digest(size // files)
    return zip_bytes(entries, manifest_data=manifest(name))


def check_db(path: Path) -> list[tuple[str, str]]:
    """Integrity check plus the published versions, read with a plain sqlite3 connection (server not running)."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute("SELECT game_id, version FROM versions ORDER BY version").fetchall()
    finally:
        conn.close()


async def dev_client(server: ServerProcess, register: bool = False) -> Client:
    client = await Client.connect("127.0.0.1", server.dev_port)
    if register:
        await client.register_dev("ann", "secret-pw")
    else:
        await client.login_dev("ann", "secret-pw")
    return client


async def chunk(client: Client, upload_id: str, seq: int, data: bytes, size: int) -> None:
    piece = base64.b64encode(data[seq * size : (seq + 1) * size]).decode()
    await client.request("UPLOAD_CHUNK", {"upload_id": upload_id, "seq": seq, "data_b64": piece})


async def test_server_sigkilled_mid_upload_then_resumes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir).start()
    try:
        c = await dev_client(server, register=True)
        game_id = await create_game(c, "snake")
        await upload(c, game_id, "1.0.0", good_package("snake"))
        data = big_package("snake", 3_000_000)
        b = await begin(c, game_id, "1.0.1", data)
        uid, size = b["upload_id"], b["chunk_size"]
        total_chunks = -(-len(data) // size)
        for seq in range(5):
            await chunk(c, uid, seq, data, size)
        await asyncio.sleep(0.6)  # the next chunk is then recorded in the database
        await chunk(c, uid, 5, data, size)
        for seq in (6, 7):
            await chunk(c, uid, seq, data, size)
        server.kill()  # SIGKILL: no shutdown hook runs
        await c.close()
        assert check_db(data_dir / "playhub.sqlite3") == [(game_id, "1.0.0")]

        server.start()
        c = await dev_client(server)
        versions = (await c.request("LIST_VERSIONS", {"game_id": game_id}))["versions"]
        assert [v["version"] for v in versions] == ["1.0.0"]
        assert not (data_dir / "uploadedGame" / game_id / "1.0.1").exists()
        again = await begin(c, game_id, "1.0.1", data, resume=True)
        assert again["upload_id"] == uid
        assert 6 <= again["next_seq"] <= 8 and again["received_bytes"] == again["next_seq"] * size
        for seq in range(again["next_seq"], total_chunks):
            await chunk(c, uid, seq, data, size)
        out = await c.request("UPLOAD_END", {"upload_id": uid})
        assert out["version"] == "1.0.1"
        assert (data_dir / "uploadedGame" / game_id / "1.0.1.zip").read_bytes() == data
        await c.close()
    finally:
        server.stop()
    assert check_db(data_dir / "playhub.sqlite3") == [(game_id, "1.0.0"), (game_id, "1.0.1")]


async def test_server_sigkilled_during_publication_leaves_all_or_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir).start()
    try:
        c = await dev_client(server, register=True)
        game_id = await create_game(c, "snake")
        data = big_package("snake", 2_000_000, files=400)  # many files: unpacking takes a while
        b = await begin(c, game_id, "1.0.0", data)
        await send_chunks(c, b["upload_id"], data, b["chunk_size"])
        c.send_request("UPLOAD_END", {"upload_id": b["upload_id"]})
        await c.writer.drain()
        await asyncio.sleep(0.05)
        server.kill()
        await c.close()
        published = check_db(data_dir / "playhub.sqlite3")

        server.start()
        version_dir = data_dir / "uploadedGame" / game_id / "1.0.0"
        c = await dev_client(server)
        listed = [v["version"] for v in (await c.request("LIST_VERSIONS", {"game_id": game_id}))["versions"]]
        if published:  # the commit happened before the kill: everything is there
            assert listed == ["1.0.0"] and (version_dir / "manifest.json").is_file()
        else:  # it did not: nothing is visible, and the upload can still be finished
            assert listed == [] and not version_dir.exists()
            again = await begin(c, game_id, "1.0.0", data, resume=True)
            if again["received_bytes"] < len(data):
                await send_chunks(
                    c, again["upload_id"], data, again["chunk_size"], start_seq=again["next_seq"]
                )
            assert (await c.request("UPLOAD_END", {"upload_id": again["upload_id"]}))["version"] == "1.0.0"
        assert len(list((version_dir / "assets").iterdir())) == 400
        assert [p.name for p in (data_dir / "tmp").iterdir()] == []
        await c.close()
    finally:
        server.stop()


async def test_startup_recovery_removes_orphans_and_restores_an_interrupted_commit(tmp_path: Path) -> None:
    settings = settings_for_tests(tmp_path / "data", chunk_size=1024)
    app = PlayHubApp(settings)
    await app.start()
    c = await Client.connect("127.0.0.1", app.dev_port)
    await c.register_dev("ann", "secret-pw")
    game_id = await create_game(c, "snake")
    await upload(c, game_id, "1.0.0", good_package("snake"))
    data = big_package("snake", 5000)
    b = await begin(c, game_id, "1.0.1", data)
    await send_chunks(c, b["upload_id"], data, 1024)  # every byte sent, UPLOAD_END never answered
    await c.close()
    await app.stop()

    blobs = app.blobs
    # What a crash between the renames and the commit of 1.0.1 leaves: the tree and the archive in place, no row.
    os.replace(blobs.upload_part(b["upload_id"]), blobs.archive(game_id, "1.0.1"))
    (blobs.version_dir(game_id, "1.0.1")).mkdir()
    (blobs.version_dir(game_id, "1.0.1") / "manifest.json").write_text("{}")
    # Other debris: a staging folder, a part without a row, a version and an archive nobody recorded.
    (blobs.tmp / "stage-deadbeef" / "x").mkdir(parents=True)
    (blobs.tmp / "upload-0123.part").write_bytes(b"junk")
    (blobs.version_dir(game_id, "9.9.9")).mkdir()
    blobs.archive(game_id, "9.9.9").write_bytes(b"junk")

    app = PlayHubApp(settings)
    await app.start()
    try:
        assert not blobs.version_dir(game_id, "1.0.1").exists()
        assert (
            not blobs.version_dir(game_id, "9.9.9").exists() and not blobs.archive(game_id, "9.9.9").exists()
        )
        assert sorted(p.name for p in blobs.tmp.iterdir()) == [f"upload-{b['upload_id']}.part"]
        assert (blobs.version_dir(game_id, "1.0.0") / "manifest.json").is_file()  # published ones untouched
        c = await Client.connect("127.0.0.1", app.dev_port)
        await c.login_dev("ann", "secret-pw")
        again = await begin(c, game_id, "1.0.1", data, resume=True)
        assert again["upload_id"] == b["upload_id"] and again["received_bytes"] == len(data)
        assert (await c.request("UPLOAD_END", {"upload_id": b["upload_id"]}))["version"] == "1.0.1"
        assert blobs.archive(game_id, "1.0.1").read_bytes() == data
        await c.close()
    finally:
        await app.stop()

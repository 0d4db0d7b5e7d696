"""The chunked upload flow and package checks, every error code over real sockets."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
import zipfile
from pathlib import Path

import pytest

from playhub.client.publishing import publish_folder
from playhub.protocol.errors import (
    BadState,
    ChecksumMismatch,
    ChunkOutOfOrder,
    Conflict,
    Forbidden,
    InvalidRequest,
)
from tests.helpers import Harness
from tests.publishing_helpers import (
    begin,
    create_game,
    good_package,
    make_game_folder,
    manifest,
    send_chunks,
    sha256,
    upload,
    zip_bytes,
)

CHUNK = 1024


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def package_of(name: str, size: int) -> bytes:
    """A valid package of at least ``size`` bytes (an incompressible asset makes it big)."""
    from hashlib import shake_256

    return zip_bytes(
        {
            "server.py": "print(1)\n",
            "client.py": "print(2)\n",
            "asset.bin": shake_256(name.encode()).digest(size),
        },
        manifest_data=manifest(name),
    )


@pytest.fixture
async def small_hub(make_hub):  # type: ignore[no-untyped-def]
    return await make_hub(chunk_size=CHUNK)


async def test_upload_publishes_files_and_row(small_hub: Harness) -> None:
    hub = small_hub
    changed: list[str] = []
    hub.app.events.on("catalog_changed", changed.append)
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    data = package_of("tetris", 5000)
    b = await dev.request(
        "UPLOAD_BEGIN",
        {
            "game_id": game_id,
            "version": "1.0.0",
            "size_bytes": len(data),
            "checksum": "SHA256:" + sha256(data).upper(),
        },
    )
    assert b["chunk_size"] == CHUNK and b["next_seq"] == 0
    assert await send_chunks(dev, b["upload_id"], data, CHUNK) == -(-len(data) // CHUNK)
    out = await dev.request("UPLOAD_END", {"upload_id": b["upload_id"]})
    assert out["version"] == "1.0.0" and out["is_latest"] is True and out["checksum"] == sha256(data)
    assert changed == [game_id, game_id]  # CREATE_GAME, UPLOAD_END
    blobs = hub.app.blobs
    assert blobs.archive(game_id, "1.0.0").read_bytes() == data
    assert json.loads((blobs.version_dir(game_id, "1.0.0") / "manifest.json").read_text())["name"] == "tetris"
    assert (blobs.version_dir(game_id, "1.0.0") / "asset.bin").stat().st_size == 5000
    assert list(blobs.tmp.iterdir()) == []
    rows = await hub.app.db.run(lambda c: c.execute("SELECT COUNT(*) FROM uploads").fetchone()[0])
    assert rows == 0
    stored = await hub.app.db.run(
        lambda c: c.execute(
            "SELECT manifest, checksum FROM versions WHERE game_id = ?", (game_id,)
        ).fetchone()
    )
    assert json.loads(stored[0])["entry_server"] == "server.py" and stored[1] == sha256(data)
    with pytest.raises(BadState):  # the upload is gone once published
        await dev.request("UPLOAD_END", {"upload_id": b["upload_id"]})


async def test_upload_without_checksum_records_the_computed_one(small_hub: Harness) -> None:
    dev = await small_hub.developer()
    game_id = await create_game(dev, "tetris")
    data = good_package("tetris")
    b = await dev.request("UPLOAD_BEGIN", {"game_id": game_id, "version": "1.0.0", "size_bytes": len(data)})
    await send_chunks(dev, b["upload_id"], data, CHUNK)
    assert (await dev.request("UPLOAD_END", {"upload_id": b["upload_id"]}))["checksum"] == sha256(data)


async def test_wrong_seq_is_120_with_expected_seq(small_hub: Harness) -> None:
    dev = await small_hub.developer()
    game_id = await create_game(dev, "tetris")
    data = package_of("tetris", 3000)
    uid = (await begin(dev, game_id, "1.0.0", data))["upload_id"]
    with pytest.raises(ChunkOutOfOrder) as info:
        await dev.request("UPLOAD_CHUNK", {"upload_id": uid, "seq": 1, "data_b64": b64(data[:CHUNK])})
    assert info.value.payload == {"expected_seq": 0}
    await dev.request("UPLOAD_CHUNK", {"upload_id": uid, "seq": 0, "data_b64": b64(data[:CHUNK])})
    resp = await dev.request_raw("UPLOAD_CHUNK", {"upload_id": uid, "seq": 0, "data_b64": b64(data[:CHUNK])})
    assert resp["code"] == 120 and resp["payload"]["expected_seq"] == 1
    await send_chunks(dev, uid, data, CHUNK, start_seq=1)
    assert (await dev.request("UPLOAD_END", {"upload_id": uid}))["version"] == "1.0.0"


async def test_short_upload_at_end_is_121_and_can_continue(small_hub: Harness) -> None:
    dev = await small_hub.developer()
    game_id = await create_game(dev, "tetris")
    data = package_of("tetris", 3000)
    uid = (await begin(dev, game_id, "1.0.0", data))["upload_id"]
    await dev.request("UPLOAD_CHUNK", {"upload_id": uid, "seq": 0, "data_b64": b64(data[:CHUNK])})
    with pytest.raises(ChecksumMismatch) as info:
        await dev.request("UPLOAD_END", {"upload_id": uid})
    assert info.value.payload == {"received_bytes": CHUNK, "next_seq": 1}
    await send_chunks(dev, uid, data, CHUNK, start_seq=1)
    assert (await dev.request("UPLOAD_END", {"upload_id": uid}))["version"] == "1.0.0"


async def test_checksum_mismatch_is_121_and_discards(small_hub: Harness) -> None:
    dev = await small_hub.developer()
    game_id = await create_game(dev, "tetris")
    data = good_package("tetris")
    b = await dev.request(
        "UPLOAD_BEGIN",
        {"game_id": game_id, "version": "1.0.0", "size_bytes": len(data), "checksum": "0" * 64},
    )
    await send_chunks(dev, b["upload_id"], data, CHUNK)
    with pytest.raises(ChecksumMismatch):
        await dev.request("UPLOAD_END", {"upload_id": b["upload_id"]})
    with pytest.raises(BadState):
        await dev.request("UPLOAD_END", {"upload_id": b["upload_id"]})
    assert list(small_hub.app.blobs.tmp.iterdir()) == []
    assert (await dev.request("LIST_VERSIONS", {"game_id": game_id}))["versions"] == []


@pytest.mark.parametrize("version", ["1.0", "01.0.0", "1.0.0-beta", "v1.0.0", "", "1..0", "1.0.0.0"])
async def test_malformed_version_is_100(small_hub: Harness, version: str) -> None:
    dev = await small_hub.developer()
    game_id = await create_game(dev, "tetris")
    with pytest.raises(InvalidRequest) as info:
        await begin(dev, game_id, version, b"x" * 10)
    assert "major.minor.patch" in info.value.message


async def test_begin_errors(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chunk_size=CHUNK, max_package_bytes=10_000, max_open_uploads_per_developer=2)
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    await upload(dev, game_id, "1.1.0", good_package("tetris"))
    data = package_of("tetris", 3000)
    for v in ("1.1.0", "1.0.9", "0.9.0"):  # not newer than the latest
        with pytest.raises(Conflict) as info:
            await begin(dev, game_id, v, data)
        assert info.value.payload == {"latest_version": "1.1.0", "suggested_version": "1.1.1"}
    base = {"game_id": game_id, "version": "2.0.0"}
    for size in (0, -5, 10_001):
        with pytest.raises(InvalidRequest):
            await dev.request("UPLOAD_BEGIN", {**base, "size_bytes": size})
    for checksum in ("abc", "sha256:" + "g" * 64, "md5:" + "0" * 64):
        with pytest.raises(InvalidRequest):
            await dev.request("UPLOAD_BEGIN", {**base, "size_bytes": 10, "checksum": checksum})
    with pytest.raises(InvalidRequest):  # schema: size_bytes must be an int
        await dev.request("UPLOAD_BEGIN", {**base, "size_bytes": "10"})
    first = await begin(dev, game_id, "2.0.0", data)
    await dev.request(
        "UPLOAD_CHUNK", {"upload_id": first["upload_id"], "seq": 0, "data_b64": b64(data[:CHUNK])}
    )
    with pytest.raises(Conflict) as info:  # already open
        await begin(dev, game_id, "2.0.0", data)
    assert info.value.payload == {"upload_id": first["upload_id"]}
    again = await begin(dev, game_id, "2.0.0", data, resume=True)
    assert (
        again["upload_id"] == first["upload_id"]
        and again["next_seq"] == 1
        and again["received_bytes"] == CHUNK
    )
    with pytest.raises(Conflict) as info:  # resume, but other bytes announced
        await dev.request(
            "UPLOAD_BEGIN", {**base, "size_bytes": len(data), "checksum": "1" * 64, "resume": True}
        )
    assert info.value.payload == {"upload_id": first["upload_id"]}
    await begin(dev, game_id, "2.0.1", data)
    with pytest.raises(BadState):  # max_open_uploads_per_developer
        await begin(dev, game_id, "2.0.2", data)


async def test_chunk_and_end_errors(small_hub: Harness) -> None:
    hub = small_hub
    dev = await hub.developer("ann")
    bob = await hub.developer("bob")
    game_id = await create_game(dev, "tetris")
    data = package_of("tetris", 1500)
    uid = (await begin(dev, game_id, "1.0.0", data))["upload_id"]
    for name, payload in (
        ("UPLOAD_CHUNK", {"upload_id": "nope", "seq": 0, "data_b64": b64(b"abc")}),
        ("UPLOAD_END", {"upload_id": "nope"}),
        ("CANCEL_UPLOAD", {"upload_id": "nope"}),
    ):
        with pytest.raises(BadState):  # no BEGIN for this id
            await dev.request(name, payload)
    for name, payload in (
        ("UPLOAD_CHUNK", {"upload_id": uid, "seq": 0, "data_b64": b64(b"abc")}),
        ("UPLOAD_END", {"upload_id": uid}),
        ("CANCEL_UPLOAD", {"upload_id": uid}),
    ):
        with pytest.raises(Forbidden):  # another developer's upload
            await bob.request(name, payload)
    for bad in ("!!!!", "abc", "YWJj\n===", "YW Jj"):
        with pytest.raises(InvalidRequest) as info:
            await dev.request("UPLOAD_CHUNK", {"upload_id": uid, "seq": 0, "data_b64": bad})
        assert "base64" in info.value.message
    with pytest.raises(InvalidRequest):
        await dev.request("UPLOAD_CHUNK", {"upload_id": uid, "seq": 0, "data_b64": ""})
    with pytest.raises(InvalidRequest) as info:  # bigger than chunk_size
        await dev.request("UPLOAD_CHUNK", {"upload_id": uid, "seq": 0, "data_b64": b64(b"x" * (CHUNK + 1))})
    assert "chunk_size" in info.value.message
    await dev.request("UPLOAD_CHUNK", {"upload_id": uid, "seq": 0, "data_b64": b64(data[:CHUNK])})
    with pytest.raises(ChecksumMismatch):  # more bytes than size_bytes
        await dev.request("UPLOAD_CHUNK", {"upload_id": uid, "seq": 1, "data_b64": b64(b"y" * CHUNK)})
    # The refused chunks changed nothing: the rest still completes the upload.
    await send_chunks(dev, uid, data, CHUNK, start_seq=1)
    assert (await dev.request("UPLOAD_END", {"upload_id": uid}))["version"] == "1.0.0"


async def test_cancel_upload(small_hub: Harness) -> None:
    dev = await small_hub.developer()
    game_id = await create_game(dev, "tetris")
    data = package_of("tetris", 2000)
    uid = (await begin(dev, game_id, "1.0.0", data))["upload_id"]
    await dev.request("UPLOAD_CHUNK", {"upload_id": uid, "seq": 0, "data_b64": b64(data[:CHUNK])})
    assert await dev.request("CANCEL_UPLOAD", {"upload_id": uid}) == {"upload_id": uid, "cancelled": True}
    with pytest.raises(BadState):
        await dev.request("UPLOAD_CHUNK", {"upload_id": uid, "seq": 1, "data_b64": b64(data[CHUNK:])})
    assert list(small_hub.app.blobs.tmp.iterdir()) == []
    again = await begin(dev, game_id, "1.0.0", data)  # the version is free again
    assert again["upload_id"] != uid


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes | str]], with_manifest: bool = True) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if with_manifest:
            zf.writestr("manifest.json", json.dumps(manifest("tetris")))
            zf.writestr("server.py", "print(1)\n")
            zf.writestr("client.py", "print(2)\n")
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


def _symlink() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _hostile(kind: str) -> tuple[bytes, str]:
    if kind == "zip-slip":
        return _zip([("../evil.py", "x")]), "zip-slip"
    if kind == "zip-slip-nested":
        return _zip([("assets/../../evil.py", "x")]), "zip-slip"
    if kind == "absolute":
        return _zip([("/tmp/evil.py", "x")]), "absolute"
    if kind == "windows-absolute":
        return _zip([("C:/evil.py", "x")]), "absolute"
    if kind == "symlink":
        return _zip([(_symlink(), "/etc/passwd")]), "link"
    if kind == "too-many-files":
        return _zip([(f"f{i}.txt", "x") for i in range(30)]), "entries"
    if kind == "bomb":
        return _zip([("zeros.bin", b"\0" * (8 << 20))]), "zip bomb"
    if kind == "too-large":
        return _zip([("big.bin", bytes(range(256)) * 400)]), "unpacks"
    if kind == "not-a-zip":
        return b"this is not a zip archive at all", "not a valid zip"
    if kind == "no-manifest":
        return _zip([("server.py", "x")], with_manifest=False), "no manifest.json"
    if kind == "bad-json":
        return _zip([("manifest.json", "{nope")], with_manifest=False), "not valid JSON"
    if kind == "other-name":
        return zip_bytes(
            {"server.py": "1", "client.py": "2"}, manifest_data=manifest("othergame")
        ), "othergame"
    if kind == "missing-entry":
        return zip_bytes({"client.py": "2"}, manifest_data=manifest("tetris")), "entry_server"
    if kind == "unsafe-entry":
        return zip_bytes(
            {"client.py": "2"}, manifest_data=manifest("tetris", entry_server="../x.py")
        ), "entry_server"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "zip-slip",
        "zip-slip-nested",
        "absolute",
        "windows-absolute",
        "symlink",
        "too-many-files",
        "bomb",
        "too-large",
        "not-a-zip",
        "no-manifest",
        "bad-json",
        "other-name",
        "missing-entry",
        "unsafe-entry",
    ],
)
async def test_hostile_or_broken_packages_are_100_and_leave_nothing(make_hub, kind: str) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chunk_size=64 * 1024, max_package_files=20, max_unpacked_bytes=100_000)
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    data, fragment = _hostile(kind)
    uid = (await begin(dev, game_id, "1.0.0", data))["upload_id"]
    await send_chunks(dev, uid, data, 64 * 1024)
    with pytest.raises(InvalidRequest) as info:
        await dev.request("UPLOAD_END", {"upload_id": uid})
    assert fragment in info.value.message
    assert (await dev.request("LIST_VERSIONS", {"game_id": game_id}))["versions"] == []
    blobs = hub.app.blobs
    assert not blobs.game_dir(game_id).exists() or list(blobs.game_dir(game_id).iterdir()) == []
    assert list(blobs.tmp.iterdir()) == []
    assert not (blobs.root.parent / "evil.py").exists()
    with pytest.raises(BadState):  # a refused package is discarded
        await dev.request("UPLOAD_END", {"upload_id": uid})
    # The version is still free for a good package.
    await upload(dev, game_id, "1.0.0", good_package("tetris"))


async def test_missing_manifest_keys_are_all_named(small_hub: Harness) -> None:
    dev = await small_hub.developer()
    game_id = await create_game(dev, "tetris")
    data = zip_bytes(
        {"server.py": "1", "client.py": "2"},
        manifest_data=manifest("tetris", display_name=None, entry_client=None, max_players="lots"),
    )
    uid = (await begin(dev, game_id, "1.0.0", data))["upload_id"]
    await send_chunks(dev, uid, data, CHUNK)
    with pytest.raises(InvalidRequest) as info:
        await dev.request("UPLOAD_END", {"upload_id": uid})
    for key in ("display_name", "entry_client", "max_players"):
        assert key in info.value.message


async def test_newer_version_landing_first_makes_older_upload_104(small_hub: Harness) -> None:
    dev = await small_hub.developer()
    game_id = await create_game(dev, "tetris")
    data = good_package("tetris")
    old = (await begin(dev, game_id, "1.0.1", data))["upload_id"]
    await send_chunks(dev, old, data, CHUNK)
    await upload(dev, game_id, "1.0.2", data)
    with pytest.raises(Conflict):
        await dev.request("UPLOAD_END", {"upload_id": old})
    versions = (await dev.request("LIST_VERSIONS", {"game_id": game_id}))["versions"]
    assert [v["version"] for v in versions] == ["1.0.2"]
    assert not small_hub.app.blobs.version_dir(game_id, "1.0.1").exists()


async def test_abandoned_uploads_expire(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chunk_size=CHUNK, upload_expiry_s=0.4)
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    data = package_of("tetris", 3000)
    uid = (await begin(dev, game_id, "1.0.0", data))["upload_id"]
    await dev.request("UPLOAD_CHUNK", {"upload_id": uid, "seq": 0, "data_b64": b64(data[:CHUNK])})
    part = hub.app.blobs.upload_part(uid)
    assert part.exists()
    for _ in range(50):
        await asyncio.sleep(0.1)
        if not part.exists():
            break
    assert not part.exists()
    with pytest.raises(BadState):
        await dev.request(
            "UPLOAD_CHUNK", {"upload_id": uid, "seq": 1, "data_b64": b64(data[CHUNK : 2 * CHUNK])}
        )
    assert await hub.app.db.run(lambda c: c.execute("SELECT COUNT(*) FROM uploads").fetchone()[0]) == 0


async def test_publish_folder_resumes_after_the_client_is_killed(make_hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chunk_size=16 * 1024)
    folder = make_game_folder(tmp_path, "snake", extra_bytes=400_000)
    first = await hub.developer("ann")
    seen: list[int] = []

    def kill_midway(done: int, total: int) -> None:
        seen.append(done)
        if done > total // 3:
            first.writer.transport.abort()  # the client process "dies" with chunks in flight

    with pytest.raises(ConnectionError):
        await publish_folder(first, folder, "1.0.0", progress=kill_midway)
    second = await hub.dev()
    await second.login_dev("ann", "secret-pw")
    resumed: list[int] = []
    out = await publish_folder(second, folder, "1.0.0", progress=lambda d, t: resumed.append(d))
    assert out == {"game_id": out["game_id"], "version": "1.0.0", "is_latest": True, "created": False}
    assert resumed[0] > 0  # continued where the first attempt stopped, not from byte 0
    archive = hub.app.blobs.archive(out["game_id"], "1.0.0")
    assert (hub.app.blobs.version_dir(out["game_id"], "1.0.0") / "assets.bin").read_bytes() == (
        folder / "assets.bin"
    ).read_bytes()
    assert archive.stat().st_size == resumed[-1]


async def test_publish_folder_asks_whether_the_version_landed_when_end_drops(
    small_hub: Harness, tmp_path: Path
) -> None:
    hub = small_hub
    folder = make_game_folder(tmp_path, "snake")
    dev = await hub.developer("ann")

    def drop_connections(game_id: str) -> None:
        # Emitted after the commit and before the answer goes out: the answer is lost with the connection.
        for conn in list(hub.app._connections):
            conn.abort()

    await publish_folder(dev, folder, "1.0.0")
    hub.app.events.on("catalog_changed", drop_connections)
    out = await publish_folder(dev, folder, "1.0.1")
    assert out["version"] == "1.0.1" and out["is_latest"] is True and out["created"] is False


async def test_publish_folder_local_checks_and_new_game(hub: Harness, tmp_path: Path) -> None:
    from playhub.packages import PackageError

    dev = await hub.developer("ann")
    with pytest.raises(PackageError, match="does not exist"):
        await publish_folder(dev, tmp_path / "missing")
    broken = make_game_folder(tmp_path, "broken", entry_client=None, type=None)
    with pytest.raises(PackageError) as info:
        await publish_folder(dev, broken)
    assert "entry_client" in str(info.value) and "type" in str(info.value)
    folder = make_game_folder(tmp_path, "snake", max_players=4, min_players=2)
    with pytest.raises(PackageError, match="major.minor.patch"):
        await publish_folder(dev, folder, "1.0")
    out = await publish_folder(dev, folder)
    assert out["created"] is True and out["version"] == "1.0.0"
    game = (await dev.request("LIST_MY_GAMES", {}))["games"][0]
    assert (game["name"], game["display_name"], game["max_players"], game["min_players"]) == (
        "snake",
        "Snake",
        4,
        2,
    )
    # A new version carries manifest changes into the game's description.
    (folder / "manifest.json").write_text(
        json.dumps(manifest("snake", description="Now faster.", max_players=4))
    )
    assert (await publish_folder(dev, folder))["version"] == "1.0.1"
    assert (await dev.request("LIST_MY_GAMES", {}))["games"][0]["description"] == "Now faster."
    bob = await hub.developer("bob")
    with pytest.raises(Conflict, match="another developer"):
        await publish_folder(bob, folder)


async def test_publish_folder_resyncs_when_another_connection_sends_chunks(make_hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two connections of one developer feed the same upload; the library catches up instead of failing."""
    hub = await make_hub(chunk_size=8 * 1024)
    folder = make_game_folder(tmp_path, "snake", extra_bytes=100_000)
    first = await hub.developer("ann")
    await publish_folder(first, folder, "1.0.0")
    other = await hub.dev()
    other.token = first.token  # the same session, from a second connection
    from playhub import packages

    archive = tmp_path / "snake.zip"
    packages.zip_folder(folder, archive)
    data = archive.read_bytes()
    game_id = (await first.request("LIST_MY_GAMES", {}))["games"][0]["game_id"]
    upload_id = (await begin(other, game_id, "1.0.1", data))["upload_id"]
    sent: list[asyncio.Future[dict]] = []

    def interfere(done: int, total: int) -> None:
        if not sent:  # right after BEGIN, before our first chunk: the other connection sends chunk 0
            sent.append(
                other.send_request(
                    "UPLOAD_CHUNK", {"upload_id": upload_id, "seq": 0, "data_b64": data[:8192]}
                )
            )

    resumed = await publish_folder(first, folder, "1.0.1", progress=interfere)
    assert (await sent[0])["status"] == "ok"  # so our chunk 0 was refused with 120 and the library caught up
    assert resumed["version"] == "1.0.1"
    assert hub.app.blobs.archive(game_id, "1.0.1").read_bytes() == data

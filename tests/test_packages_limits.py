"""Package limits over real sockets: manifest size, unpacked size and ratio, per-developer quota, hostile shapes."""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from playhub import packages
from playhub.protocol.errors import InvalidRequest
from tests.publishing_helpers import begin, create_game, good_package, manifest, send_chunks, upload

CHUNK = 64 * 1024


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes | str]], name: str = "tetris", **kw: object) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest(name, **kw)))
        zf.writestr("server.py", "print(1)\n")
        zf.writestr("client.py", "print(2)\n")
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


def _big_manifest_zip(size: int) -> bytes:
    """A valid manifest whose description makes it ``size`` bytes (text that does not compress to nothing)."""
    words = " ".join(f"w{i}" for i in range(size // 4))[:size]
    return _zip([], description=words)


async def _end(dev, game_id: str, data: bytes, version: str = "1.0.0"):  # type: ignore[no-untyped-def]
    uid = (await begin(dev, game_id, version, data))["upload_id"]
    await send_chunks(dev, uid, data, CHUNK)
    return await dev.request("UPLOAD_END", {"upload_id": uid})


async def test_large_manifest_is_100(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chunk_size=CHUNK)
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    with pytest.raises(InvalidRequest) as info:
        await _end(dev, game_id, _big_manifest_zip(3 << 20))
    assert "manifest.json is larger than the limit of 65536 bytes" in info.value.message
    assert list(hub.app.blobs.tmp.iterdir()) == []
    await upload(dev, game_id, "1.0.0", good_package("tetris"))


def test_manifest_is_read_bounded(tmp_path: Path) -> None:
    """A 3 MB manifest never enters memory: the declared size is refused before reading."""
    archive = tmp_path / "p.zip"
    archive.write_bytes(_big_manifest_zip(3 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(packages.PackageError, match="manifest.json is larger"):
            packages.inspect_zip(archive, packages.ZipLimits())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 512 << 10, peak


def _lie_about_size(data: bytes, member: str, declared: int) -> bytes:
    """Rewrite the uncompressed size recorded for ``member`` in both its local and central headers."""
    buf = bytearray(data)
    name = member.encode()
    pos = 0
    while (pos := buf.find(name, pos + 1)) != -1:
        if buf[pos - 30 : pos - 26] == b"PK\x03\x04":
            struct.pack_into("<I", buf, pos - 30 + 22, declared)
        elif buf[pos - 46 : pos - 42] == b"PK\x01\x02":
            struct.pack_into("<I", buf, pos - 46 + 24, declared)
    return bytes(buf)


def test_manifest_with_a_lying_size_is_still_bounded(tmp_path: Path) -> None:
    archive = tmp_path / "p.zip"
    archive.write_bytes(_lie_about_size(_big_manifest_zip(200_000), "manifest.json", 100))
    with pytest.raises(packages.PackageError):
        packages.inspect_zip(archive, packages.ZipLimits())
    archive.write_bytes(_lie_about_size(_big_manifest_zip(200_000), "manifest.json", 70_000))
    with pytest.raises(packages.PackageError, match="larger than the limit"):
        packages.inspect_zip(archive, packages.ZipLimits(max_manifest_bytes=65_536))


def _many_small_bombs(members: int, each: int) -> bytes:
    """Members that each stay under the per-member ratio check but add up to far more than the archive."""
    return _zip([(f"pad/{i}.bin", b"\0" * each) for i in range(members)])


async def test_package_ratio_is_100(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chunk_size=CHUNK)
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    data = _many_small_bombs(100, 200_000)  # ~20 MB unpacked from ~40 KB
    assert len(data) < 100_000
    with pytest.raises(InvalidRequest) as info:
        await _end(dev, game_id, data)
    assert "zip bomb" in info.value.message and "50 times" in info.value.message
    assert list(hub.app.blobs.tmp.iterdir()) == []
    assert not hub.app.blobs.game_dir(game_id).exists() or not any(hub.app.blobs.game_dir(game_id).iterdir())


async def test_storage_quota_at_begin_and_end(make_hub) -> None:  # type: ignore[no-untyped-def]
    from hashlib import shake_256

    hub = await make_hub(chunk_size=CHUNK, developer_storage_quota_bytes=300_000)
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    first = _zip([("a.bin", shake_256(b"a").digest(100_000))])
    await upload(dev, game_id, "1.0.0", first)
    rows = hub.app.db.run_sync(
        lambda c: c.execute("SELECT size_bytes, unpacked_bytes FROM versions").fetchall()
    )
    (size, unpacked), = rows
    assert size == len(first) and 100_000 < unpacked < 100_400
    used = size + unpacked
    # BEGIN refuses what cannot fit even packed.
    big = _zip([("b.bin", shake_256(b"b").digest(120_000))])
    with pytest.raises(InvalidRequest) as info:
        await begin(dev, game_id, "1.0.1", big)
    assert info.value.payload == {"limit": 300_000, "used": used, "needed": len(big)}
    # END refuses what fits packed but not once unpacked; the version stays free.
    middle = _zip([("c.bin", b"c" * 60_000 + shake_256(b"c").digest(40_000))])
    assert used + len(middle) <= 300_000 < used + len(middle) + 100_000
    with pytest.raises(InvalidRequest) as info:
        await _end(dev, game_id, middle, "1.0.1")
    assert info.value.payload["used"] == used and info.value.payload["limit"] == 300_000
    assert info.value.payload["needed"] > len(middle)
    assert list(hub.app.blobs.tmp.iterdir()) == []
    assert (await dev.request("LIST_VERSIONS", {"game_id": game_id}))["versions"][-1]["version"] == "1.0.0"
    await upload(dev, game_id, "1.0.1", good_package("tetris"))


def _raw_member(name: bytes, data: bytes, *, flags: int = 0, method: int = 0, crc: int | None = None) -> bytes:
    """A one-member stored zip built by hand, for shapes zipfile refuses to write."""
    import zlib

    crc = zlib.crc32(data) if crc is None else crc
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, flags, method, 0, 0, crc, len(data), len(data), len(name), 0)
    central = struct.pack(
        "<4s6H3I5H2I", b"PK\x01\x02", 20, 20, flags, method, 0, 0, crc, len(data), len(data), len(name), 0, 0, 0, 0,
        0, 0,
    )
    body = local + name + data
    cd = central + name
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(cd), len(body), 0)
    return body + cd + end


def _hostile(kind: str) -> bytes:
    m = json.dumps(manifest("tetris")).encode()
    if kind == "file-then-folder":
        return _zip([("assets", "x"), ("assets/a.png", "y")])
    if kind == "folder-then-file":
        return _zip([("assets/a.png", "y"), ("assets", "x")])
    if kind == "duplicate":
        return _zip([("server.py", "print(3)\n")])
    if kind == "folder-with-data":
        return _zip([(zipfile.ZipInfo("dir/"), "data")])
    if kind == "bad-utf8-name":
        return _raw_member(b"\xff\xfe.py", b"x", flags=0x800)
    if kind == "encrypted":
        return _raw_member(b"manifest.json", m, flags=0x1)
    if kind == "unknown-method":
        return _raw_member(b"manifest.json", m, method=99)
    if kind == "bad-crc":
        return _raw_member(b"manifest.json", m, crc=1234)
    if kind == "truncated":
        return _zip([("a.bin", b"x" * 5000)])[:-30]
    if kind == "control-name":
        return _zip([("\x1b[2J.py", "x")])
    if kind == "empty-name":
        return _raw_member(b"", b"x")
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "file-then-folder",
        "folder-then-file",
        "duplicate",
        "folder-with-data",
        "bad-utf8-name",
        "encrypted",
        "unknown-method",
        "bad-crc",
        "truncated",
        "control-name",
        "empty-name",
    ],
)
async def test_hostile_shapes_are_100_not_199(make_hub, kind: str) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chunk_size=CHUNK)
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    with pytest.raises(InvalidRequest):
        await _end(dev, game_id, _hostile(kind))
    assert list(hub.app.blobs.tmp.iterdir()) == []
    assert (await dev.request("LIST_VERSIONS", {"game_id": game_id}))["versions"] == []


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM): a buffer read and freed again still shows."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _manifest_bomb(path: Path, megabytes: int) -> None:
    """A manifest of ``megabytes`` MB that deflates ~150x: under the per-member ratio check, streamed to the zip."""
    import random

    rng = random.Random(1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("server.py", "print(1)\n")
        zf.writestr("client.py", "print(2)\n")
        with zf.open("manifest.json", "w") as out:
            out.write(b'{"name": "tetris", "pad": "')
            block = bytearray()
            for _ in range(megabytes * 2000):
                block += b" " * 480 + bytes([rng.randrange(97, 123)])
                if len(block) > 1 << 20:
                    out.write(bytes(block))
                    block.clear()
            out.write(bytes(block) + b'"}')


async def test_large_manifest_does_not_grow_server_memory(tmp_path: Path) -> None:
    """Over a real ``playhub serve`` process: a 60 MB manifest in a ~0.4 MB upload. The old server read it whole (and
    decoded it: +112 MiB peak RSS); now the declared size is refused before any of it is read."""
    import asyncio

    from playhub.client import Client
    from tests.helpers import ServerProcess

    archive = tmp_path / "bomb.zip"
    await asyncio.to_thread(_manifest_bomb, archive, 60)
    data = archive.read_bytes()
    assert len(data) < 1 << 20
    # The package ratio alone would refuse this archive; lift it to reach the manifest's own cap.
    server = await asyncio.to_thread(ServerProcess(tmp_path / "data", "--set", "max_package_ratio=100000").start)
    try:
        dev = await Client.connect("127.0.0.1", server.dev_port)
        await dev.register_dev("dev1", "secret-pw")
        game_id = await create_game(dev, "tetris")
        assert server.proc is not None
        before = _peak_rss(server.proc.pid)
        with pytest.raises(InvalidRequest) as info:
            await _end(dev, game_id, data)
        assert "manifest.json is larger than the limit" in info.value.message
        growth = _peak_rss(server.proc.pid) - before
        assert growth < 16 << 20, growth
        await dev.close()
    finally:
        server.kill()


async def test_open_uploads_count_against_the_quota(make_hub) -> None:  # type: ignore[no-untyped-def]
    """Parallel unfinished uploads cannot reserve more than the quota: their announced sizes are counted."""
    from hashlib import shake_256

    hub = await make_hub(chunk_size=CHUNK, developer_storage_quota_bytes=300_000)
    dev = await hub.developer()
    first = await create_game(dev, "tetris")
    second = await create_game(dev, "snake")
    a = _zip([("a.bin", shake_256(b"a").digest(200_000))])
    b = _zip([("b.bin", shake_256(b"b").digest(150_000))], name="snake")
    await begin(dev, first, "1.0.0", a)
    with pytest.raises(InvalidRequest) as info:
        await begin(dev, second, "1.0.0", b)
    assert info.value.payload == {"limit": 300_000, "used": len(a), "needed": len(b)}
    # Another developer has a quota of their own.
    other = await hub.developer("dev2")
    third = await create_game(other, "pong")
    await upload(other, third, "1.0.0", good_package("pong"))

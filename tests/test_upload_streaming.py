"""Unpacking an upload while it arrives: what the central directory does not confirm is extracted again at the end,
and a refused archive is refused with the same code and message as without streaming."""

from __future__ import annotations

import io
import json
import os
import random
import zipfile
from pathlib import Path

import pytest

from playhub import packages
from playhub.protocol.errors import InvalidRequest
from tests.publishing_helpers import begin, create_game, manifest, send_chunks, sha256

LIMITS = packages.ZipLimits()


def _zip(extra: dict[str, bytes] | None = None, hide: str | None = None, name: str = "streamgame") -> bytes:
    """A good package (stored and deflated members, a folder entry); ``hide`` leaves a member out of the central
    directory while its local header and data stay in the stream."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest(name)), zipfile.ZIP_DEFLATED)
        zf.writestr("server.py", "print(1)\n", zipfile.ZIP_STORED)
        zf.writestr("client.py", "print(2)\n" * 50, zipfile.ZIP_DEFLATED)
        zf.writestr("assets/", b"")
        info = zipfile.ZipInfo("assets/run.sh")
        info.external_attr = 0o755 << 16
        zf.writestr(info, b"#!/bin/sh\n", zipfile.ZIP_DEFLATED)
        for member, data in (extra or {}).items():
            zf.writestr(member, data, zipfile.ZIP_STORED)
        if hide is not None:
            hidden = zf.getinfo(hide)
            zf.filelist.remove(hidden)
            del zf.NameToInfo[hide]
    return buf.getvalue()


def _stream(data: bytes, dest: Path, limits: packages.ZipLimits = LIMITS) -> packages.StreamExtractor:
    stream = packages.StreamExtractor(dest, len(data), limits)
    rng = random.Random(7)
    pos = 0
    while pos < len(data):  # pieces of any size, as chunks arrive
        step = rng.choice((1, 3, 30, 1000, 70_000))
        stream.feed(memoryview(data)[pos : pos + step])
        pos += step
    return stream


def _tree(root: Path) -> dict[str, tuple[bytes | None, int]]:
    out = {}
    for path in sorted(root.rglob("*")):
        mode = path.stat().st_mode & 0o777
        out[path.relative_to(root).as_posix()] = (path.read_bytes() if path.is_file() else None, mode)
    return out


def test_streamed_tree_equals_safe_extract(tmp_path: Path) -> None:
    data = _zip({"big.bin": os.urandom(300_000)})
    archive = tmp_path / "p.zip"
    archive.write_bytes(data)
    stream = _stream(data, tmp_path / "streamed")
    assert stream.failed is None and stream.done
    unpacked = stream.confirm(archive)
    expected = packages.safe_extract(archive, tmp_path / "extracted", LIMITS)
    assert unpacked == expected
    assert _tree(tmp_path / "streamed") == _tree(tmp_path / "extracted")
    assert _tree(tmp_path / "streamed")["assets/run.sh"][1] == 0o755


def test_a_member_missing_from_the_central_directory_is_not_confirmed(tmp_path: Path) -> None:
    data = _zip({"hidden.bin": b"x" * 5000}, hide="hidden.bin")
    archive = tmp_path / "p.zip"
    archive.write_bytes(data)
    stream = _stream(data, tmp_path / "streamed")
    assert (tmp_path / "streamed" / "hidden.bin").exists()  # it was in the stream ...
    assert stream.confirm(archive) is None  # ... but the central directory does not list it


def test_a_local_header_that_disagrees_with_the_central_directory_is_not_confirmed(tmp_path: Path) -> None:
    data = bytearray(_zip())
    first = data.find(b"server.py")  # the local header's copy of the name comes before the central directory's
    data[first : first + 9] = b"sexver.py"
    archive = tmp_path / "p.zip"
    archive.write_bytes(data)
    assert _stream(bytes(data), tmp_path / "streamed").confirm(archive) is None
    with pytest.raises(packages.PackageError, match="corrupt at 'server.py'"):
        packages.safe_extract(archive, tmp_path / "extracted", LIMITS)


def test_streaming_stops_at_a_limit_and_unsupported_members(tmp_path: Path) -> None:
    data = _zip()
    few = packages.ZipLimits(max_files=2)
    stream = _stream(data, tmp_path / "few", few)
    assert stream.failed == "too many members" and len(list((tmp_path / "few").rglob("*"))) <= 2
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_BZIP2) as zf:
        zf.writestr("manifest.json", "{}")
    assert _stream(buf.getvalue(), tmp_path / "bz").failed == "compression method 12"
    assert _stream(b"not a zip at all", tmp_path / "junk").failed == "no local header where one was expected"


async def test_upload_with_a_hidden_member_publishes_what_the_central_directory_lists(hub) -> None:
    dev = await hub.dev()
    await dev.register_dev("dev1", "secret-pw")
    game_id = await create_game(dev, "streamgame")
    data = _zip({"hidden.bin": b"h" * 4096}, hide="hidden.bin")
    upload_id = (await begin(dev, game_id, "1.0.0", data))["upload_id"]
    await send_chunks(dev, upload_id, data, 1000)
    out = await dev.request("UPLOAD_END", {"upload_id": upload_id})
    assert out["checksum"] == sha256(data)
    version_dir = hub.app.blobs.version_dir(game_id, "1.0.0")
    assert (version_dir / "server.py").read_text() == "print(1)\n"
    assert not (version_dir / "hidden.bin").exists()
    assert not [p for p in hub.app.blobs.tmp.iterdir() if p.name.startswith("stage-")]


async def test_upload_whose_headers_disagree_is_100_with_the_usual_message(hub, tmp_path: Path) -> None:
    dev = await hub.dev()
    await dev.register_dev("dev1", "secret-pw")
    game_id = await create_game(dev, "streamgame")
    data = bytearray(_zip())
    first = data.find(b"server.py")
    data[first : first + 9] = b"sexver.py"
    archive = tmp_path / "p.zip"
    archive.write_bytes(data)
    with pytest.raises(packages.PackageError) as expected:
        packages.safe_extract(archive, tmp_path / "extracted", LIMITS)
    upload_id = (await begin(dev, game_id, "1.0.0", bytes(data)))["upload_id"]
    await send_chunks(dev, upload_id, bytes(data), 1000)
    with pytest.raises(InvalidRequest) as refused:
        await dev.request("UPLOAD_END", {"upload_id": upload_id})
    assert refused.value.code == 100 and refused.value.message == str(expected.value)
    assert not hub.app.blobs.version_dir(game_id, "1.0.0").exists()
    assert not [p for p in hub.app.blobs.tmp.iterdir() if p.name.startswith(("stage-", "upload-"))]


async def test_a_plain_upload_is_published_from_the_streamed_files(hub, caplog: pytest.LogCaptureFixture) -> None:
    dev = await hub.dev()
    await dev.register_dev("dev1", "secret-pw")
    game_id = await create_game(dev, "streamgame")
    data = _zip({"big.bin": os.urandom(600_000)})
    upload_id = (await begin(dev, game_id, "1.0.0", data))["upload_id"]
    await send_chunks(dev, upload_id, data, 100_000)
    with caplog.at_level("INFO", logger="playhub.uploads"):
        await dev.request("UPLOAD_END", {"upload_id": upload_id})
    assert "unpacking again" not in caplog.text and "published" in caplog.text
    version_dir = hub.app.blobs.version_dir(game_id, "1.0.0")
    assert (version_dir / "assets" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert len((version_dir / "big.bin").read_bytes()) == 600_000

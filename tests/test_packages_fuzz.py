"""Generated hostile archives: the package checks and the extraction refuse with PackageError (100 on the wire),
never with another exception (199), and never write outside the destination."""

from __future__ import annotations

import io
import json
import random
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playhub import packages
from playhub.protocol.errors import InvalidRequest
from tests.publishing_helpers import begin, create_game, manifest, send_chunks

LIMITS = packages.ZipLimits(max_unpacked_bytes=2 << 20, max_files=40, max_manifest_bytes=4096)
MANIFEST = json.dumps(manifest("tetris")).encode()

_names = st.one_of(
    st.sampled_from(
        [
            "manifest.json", "server.py", "client.py", "a", "a/", "a/b", "a/b/", "../x", "a/../../x", "/abs", "C:/x",
            "a\\..\\..\\x", "", ".", "./", "dir//f", "\x1b[2J", "é.py", "E\u0301.py", "CON", "x\x00y", "a/./b",
            "ünïcode/名前.txt", "nested.zip",
        ]
    ),
    st.text(min_size=0, max_size=12),
)
_data = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([MANIFEST, b"{", b"[" * 5000, b"\0" * 300_000, b'{"name": "\xff"}']),
)


@st.composite
def _archive(draw: st.DrawFn) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for _ in range(draw(st.integers(0, 8))):
            name = draw(_names)
            info = zipfile.ZipInfo(name or "x")
            if name == "":
                info.filename = ""
            info.compress_type = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
            info.external_attr = draw(st.sampled_from([0, 0o644 << 16, (0o120777) << 16, (0o020644) << 16, 0x10]))
            info.flag_bits |= draw(st.sampled_from([0, 0, 0x800]))
            data = draw(_data)
            if draw(st.booleans()):
                inner = io.BytesIO()
                with zipfile.ZipFile(inner, "w") as nested:
                    nested.writestr("manifest.json", MANIFEST)
                data = inner.getvalue()
            with zf.open(info, "w") as out:  # writestr refuses some of these names; open() does not check
                out.write(data)
    raw = bytearray(buf.getvalue())
    for _ in range(draw(st.integers(0, 3))):  # corrupt: flip bytes, lie about sizes, cut the end
        if not raw:
            break
        kind = draw(st.sampled_from(["flip", "size", "cut", "method"]))
        pos = draw(st.integers(0, len(raw) - 1))
        if kind == "flip":
            raw[pos] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del raw[pos:]
        else:
            sig = raw.find(b"PK\x01\x02", pos)
            if sig != -1 and sig + 28 <= len(raw):
                if kind == "size":
                    struct.pack_into("<I", raw, sig + 24, draw(st.sampled_from([0, 1, 1 << 31, 0xFFFFFFFF])))
                else:
                    struct.pack_into("<H", raw, sig + 10, draw(st.sampled_from([1, 9, 12, 14, 99])))
    return bytes(raw)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_archive())
def test_any_archive_is_accepted_or_refused_with_package_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = root / "p.zip"
        archive.write_bytes(data)
        dest = root / "out" / "pkg"
        try:
            packages.inspect_zip(archive, LIMITS)
        except packages.PackageError:
            pass
        try:
            packages.safe_extract(archive, dest, LIMITS)
        except packages.PackageError:
            pass
        written = {p for p in root.rglob("*")} - {archive, root / "out"}
        assert all(dest == p or dest in p.parents for p in written), written
        shutil.rmtree(root / "out", ignore_errors=True)


def _mutants(count: int, seed: int) -> list[bytes]:
    """Seeded corruptions of a valid package, for the end-to-end run (one server, many uploads)."""
    rng = random.Random(seed)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", MANIFEST)
        zf.writestr("server.py", "print(1)\n" * 50)
        zf.writestr("client.py", "print(2)\n" * 50)
        zf.writestr("a/", "")
        zf.writestr("a", "file over folder")
    base = buf.getvalue()
    out = []
    for _ in range(count):
        raw = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(raw))
            if rng.random() < 0.2:
                del raw[pos:]
                if not raw:
                    raw = bytearray(b"PK")
            else:
                raw[pos] ^= rng.randint(1, 255)
        out.append(bytes(raw))
    return out


@pytest.mark.filterwarnings("ignore::UserWarning")
async def test_mutated_packages_over_the_wire_answer_100(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chunk_size=64 * 1024)
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    refused = 0
    for i, data in enumerate(_mutants(40, seed=10)):
        uid = (await begin(dev, game_id, f"1.0.{i}", data))["upload_id"]
        await send_chunks(dev, uid, data, 64 * 1024)
        try:  # a flip in a field nobody reads may leave a valid package; anything but 100 or success fails here
            await dev.request("UPLOAD_END", {"upload_id": uid})
        except InvalidRequest:
            refused += 1
    assert refused >= 30
    assert list(hub.app.blobs.tmp.iterdir()) == []

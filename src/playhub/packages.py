"""Game packages: the manifest contract, version strings, and safe zip handling.

Used by the server (publishing), the developer client (local checks before sending) and the player client (unpacking
downloads), so all three apply the same rules.
"""

from __future__ import annotations

import contextlib
import json
import lzma
import os
import re
import shutil
import stat
import struct
import zipfile
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from playhub.names import find_unsafe

GAME_TYPES = ("cli", "gui", "multi")
REQUIRED_KEYS = ("name", "display_name", "type", "max_players", "entry_server", "entry_client", "description")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{1,63}")
_VERSION_RE = re.compile(r"(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})")


MAX_MANIFEST_BYTES = 64 << 10  # the server's default cap (max_manifest_bytes); checked locally before sending


class PackageError(ValueError):
    """A package or manifest that cannot be accepted; the message says what to fix."""


# --- versions --------------------------------------------------------------------------------------------------------
def parse_version(text: str) -> tuple[int, int, int]:
    """``major.minor.patch`` with no leading zeros; raises PackageError otherwise."""
    m = _VERSION_RE.fullmatch(text)
    if not m:
        raise PackageError(f"version '{text}' is not of the form major.minor.patch (for example 1.0.0)")
    return int(m[1]), int(m[2]), int(m[3])


def is_version(text: str) -> bool:
    return _VERSION_RE.fullmatch(text) is not None


def next_version(latest: str | None) -> str:
    """The suggested next version: 1.0.0 for a new game, else the patch bump."""
    if latest is None:
        return "1.0.0"
    major, minor, patch = parse_version(latest)
    return f"{major}.{minor}.{patch + 1}"


# --- manifest --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Manifest:
    name: str
    display_name: str
    type: str
    max_players: int
    min_players: int
    entry_server: str
    entry_client: str
    description: str
    raw: dict[str, Any]


def _safe_entry(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PackageError(f"manifest key '{key}' must be a non-empty string path")
    path = PurePosixPath(value.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", value):
        raise PackageError(f"manifest key '{key}' must be a relative path inside the package")
    return str(path)


def validate_manifest(data: Any, max_players_limit: int = 64) -> Manifest:
    """Check a decoded manifest; the error names every missing or invalid key at once."""
    if not isinstance(data, dict):
        raise PackageError("manifest.json must contain a JSON object")
    problems: list[str] = []
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        problems.append("missing key(s): " + ", ".join(missing))
    name = data.get("name")
    if "name" in data and (not isinstance(name, str) or not NAME_RE.fullmatch(name)):
        problems.append(
            "'name' must be 2-64 characters of lowercase letters, digits, '_' or '-', starting alphanumeric"
        )
    for key in ("display_name", "description"):
        if key in data and (not isinstance(data[key], str) or not data[key].strip()):
            problems.append(f"'{key}' must be a non-empty string")
        elif key in data and find_unsafe(data[key], multiline=key == "description") is not None:
            problems.append(f"'{key}' must not contain control or bidirectional-override characters")
    gtype = data.get("type")
    if "type" in data and (not isinstance(gtype, str) or gtype.lower() not in GAME_TYPES):
        problems.append(f"'type' must be one of {', '.join(GAME_TYPES)}")
    maxp = data.get("max_players")
    if "max_players" in data and (type(maxp) is not int or not 1 <= maxp <= max_players_limit):
        problems.append(f"'max_players' must be an integer from 1 to {max_players_limit}")
    minp = data.get("min_players", maxp)
    if "min_players" in data and (type(minp) is not int or minp < 1 or (type(maxp) is int and minp > maxp)):
        problems.append("'min_players' must be an integer from 1 to max_players")
    entries = {}
    for key in ("entry_server", "entry_client"):
        if key in data:
            try:
                entries[key] = _safe_entry(data[key], key)
            except PackageError as exc:
                problems.append(str(exc).removeprefix("manifest "))
    if problems:
        raise PackageError("invalid manifest.json: " + "; ".join(problems))
    return Manifest(
        name=name,  # type: ignore[arg-type]
        display_name=data["display_name"].strip(),
        type=gtype.lower(),  # type: ignore[union-attr]
        max_players=maxp,  # type: ignore[arg-type]
        min_players=minp if type(minp) is int else maxp,  # type: ignore[arg-type]
        entry_server=entries["entry_server"],
        entry_client=entries["entry_client"],
        description=data["description"].strip(),
        raw=data,
    )


def read_manifest_file(folder: Path, max_players_limit: int = 64) -> Manifest:
    path = folder / "manifest.json"
    if not folder.is_dir():
        raise PackageError(f"folder '{folder}' does not exist")
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise PackageError(f"manifest.json is larger than the limit of {MAX_MANIFEST_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackageError(f"'{folder}' has no manifest.json at its root") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PackageError(f"manifest.json is not valid JSON: {exc}") from None
    return validate_manifest(data, max_players_limit)


# --- zip archives ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ZipLimits:
    max_unpacked_bytes: int = 1 << 30
    max_files: int = 5_000
    max_ratio: int = 200  # a member that expands more than this per stored byte is treated as a bomb
    max_manifest_bytes: int = MAX_MANIFEST_BYTES  # manifest.json is read into memory, so it gets a small cap of its own
    # The whole package may unpack to at most this many times its archive size (or RATIO_FLOOR_BYTES, if larger):
    # many members each just under ``max_ratio`` would otherwise turn a few MB of upload into a GiB of disk.
    max_package_ratio: int = 50


# Below this unpacked size the package-wide ratio is not checked (tiny packages of text compress very well).
RATIO_FLOOR_BYTES = 1 << 20
# Compression methods zipfile can read without extra modules; anything else (or encryption) is refused up front.
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
# Errors the zipfile/zlib/bz2/lzma modules raise on malformed input; all of them mean "this archive is broken".
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,  # UnicodeDecodeError, struct and zlib errors derive from it or are wrapped into it
    NotImplementedError,
    RuntimeError,
    OverflowError,
    KeyError,
    IndexError,
    TypeError,
    zlib.error,
    lzma.LZMAError,
)


def _check_member(info: zipfile.ZipInfo) -> PurePosixPath:
    name = info.filename
    if "\x00" in name:
        raise PackageError(f"archive member {name!r} has a NUL byte in its name")
    if find_unsafe(name) is not None:
        raise PackageError(f"archive member {name!r} has control characters in its name")
    norm = name.replace("\\", "/")
    path = PurePosixPath(norm)
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm) or path.is_absolute():
        raise PackageError(f"archive member '{name}' has an absolute path")
    if ".." in path.parts:
        raise PackageError(f"archive member '{name}' escapes the package folder (zip-slip)")
    if not path.parts or path.parts == (".",):
        raise PackageError(f"archive member {name!r} has an empty name")
    mode = (info.external_attr >> 16) & 0xFFFF
    if mode and (
        stat.S_ISLNK(mode)
        or stat.S_ISCHR(mode)
        or stat.S_ISBLK(mode)
        or stat.S_ISFIFO(mode)
        or stat.S_ISSOCK(mode)
    ):
        raise PackageError(
            f"archive member '{name}' is a link or device file, which packages may not contain"
        )
    if info.flag_bits & 0x1:
        raise PackageError(f"archive member '{name}' is encrypted, which packages may not be")
    if info.compress_type not in _METHODS:
        raise PackageError(
            f"archive member '{name}' uses compression method {info.compress_type}; use stored or deflate"
        )
    return path


def _open_zip(archive: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except _ZIP_ERRORS as exc:
        raise PackageError(f"the package is not a valid zip archive: {exc}") from None


def _check_layout(infos: list[zipfile.ZipInfo], limits: ZipLimits) -> int:
    """Paths, kinds, duplicates, counts and declared sizes of every member; returns the declared unpacked total."""
    if len(infos) > limits.max_files:
        raise PackageError(f"the package has {len(infos)} entries, more than the limit of {limits.max_files}")
    total = 0
    files: set[tuple[str, ...]] = set()
    dirs: set[tuple[str, ...]] = set()
    for info in infos:
        parts = tuple(p for p in _check_member(info).parts if p != ".")
        is_dir = info.is_dir()
        # Two members for one path (or a file where another member needs a folder) would make the extracted tree
        # depend on the order of extraction, or fail half-way: refuse the archive instead.
        if parts in files or (not is_dir and parts in dirs):
            raise PackageError(
                f"archive member '{info.filename}' appears more than once or is both a file and a folder"
            )
        for i in range(1, len(parts)):
            if parts[:i] in files:
                raise PackageError(
                    f"archive member '{info.filename}' is inside '{'/'.join(parts[:i])}', which is a file"
                )
            dirs.add(parts[:i])
        if is_dir:
            if info.file_size:
                raise PackageError(f"archive member '{info.filename}' is a folder with content")
            dirs.add(parts)
        else:
            files.add(parts)
        total += info.file_size
        if info.file_size > limits.max_ratio * max(info.compress_size, 1024):
            raise PackageError(f"archive member '{info.filename}' expands suspiciously (zip bomb)")
    if total > limits.max_unpacked_bytes:
        raise PackageError(
            f"the package unpacks to {total} bytes, more than the limit of {limits.max_unpacked_bytes}"
        )
    return total


def ratio_limit(archive_bytes: int, limits: ZipLimits) -> int:
    """The most bytes an archive of this size may unpack to."""
    return min(limits.max_unpacked_bytes, max(RATIO_FLOOR_BYTES, limits.max_package_ratio * archive_bytes))


def _read_manifest(zf: zipfile.ZipFile, limits: ZipLimits) -> Any:
    """Read manifest.json without ever holding more than ``max_manifest_bytes`` of it: the declared size is checked
    first, and the read stops one byte past the cap in case the declaration lies."""
    cap = limits.max_manifest_bytes
    try:
        info = zf.getinfo("manifest.json")
    except KeyError:
        raise PackageError("the package has no manifest.json at its root") from None
    if info.is_dir():
        raise PackageError("manifest.json must be a file")
    too_big = f"manifest.json is larger than the limit of {cap} bytes"
    if info.file_size > cap:
        raise PackageError(too_big)
    try:
        with zf.open(info) as fh:
            raw = fh.read(cap + 1)
    except _ZIP_ERRORS as exc:
        raise PackageError(f"the package is corrupt at 'manifest.json': {exc}") from None
    if len(raw) > cap:
        raise PackageError(too_big)
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PackageError(f"manifest.json is not valid JSON: {exc}") from None


def inspect_zip(archive: Path, limits: ZipLimits, max_players_limit: int = 64) -> Manifest:
    """Check an archive without extracting it: structure, paths, links, sizes, counts, manifest."""
    with _open_zip(archive) as zf:
        total = _check_layout(zf.infolist(), limits)
        try:
            size = archive.stat().st_size
        except OSError as exc:
            raise PackageError(f"the package cannot be read: {exc}") from None
        allowed = ratio_limit(size, limits)
        if total > allowed:
            raise PackageError(
                f"the package unpacks to {total} bytes, more than {limits.max_package_ratio} times its "
                f"{size}-byte archive (limit {allowed} bytes): it looks like a zip bomb"
            )
        data = _read_manifest(zf, limits)
    return validate_manifest(data, max_players_limit)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` (and ``root`` itself) to stable storage."""
    for folder, _dirs, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def drop_cache(fd: int) -> None:
    """Let the kernel forget the cached pages of a file just flushed: a published package is read rarely (a game
    start, a download), and keeping every upload's bytes cached would only crowd out what is read often and make the
    next upload's writes find fresh pages (which is what makes them expensive)."""
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def fsync_path(path: Path, forget: bool = False) -> None:
    """Flush one file or folder to stable storage (``forget``: then drop the file's cached pages)."""
    if path.is_dir():
        _fsync_dir(path)
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        if forget:
            drop_cache(fd)
    finally:
        os.close(fd)


def safe_extract(archive: Path, dest: Path, limits: ZipLimits, durable: bool = False) -> int:
    """Extract into ``dest`` (which must not exist), enforcing the limits on the bytes actually written; returns them.

    Declared sizes in a zip can lie, so the running total is counted while writing, not trusted from the headers.
    With ``durable`` every file is flushed to disk before it is closed, and every folder after it is complete.
    """
    dest.mkdir(parents=True)
    root = dest.resolve()
    written = 0
    try:
        size = archive.stat().st_size
    except OSError as exc:
        raise PackageError(f"the package cannot be read: {exc}") from None
    cap = ratio_limit(size, limits)
    with _open_zip(archive) as zf:
        infos = zf.infolist()
        _check_layout(infos, limits)
        for info in infos:
            rel = _check_member(info)
            target = (root / rel).resolve()
            if target != root and root not in target.parents:
                raise PackageError(f"archive member '{info.filename}' escapes the package folder")
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "xb") as out:
                    while chunk := src.read(1 << 16):
                        written += len(chunk)
                        if written > cap:
                            raise PackageError(f"the package unpacks to more than {cap} bytes")
                        out.write(chunk)
                    if durable:
                        out.flush()
                        os.fsync(out.fileno())
                        drop_cache(out.fileno())
            except _ZIP_ERRORS as exc:
                raise PackageError(f"the package is corrupt at '{info.filename}': {exc}") from None
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(target, (mode | 0o600) & 0o755 if mode else 0o644)
    if durable:
        for folder, _dirs, _names in os.walk(root):
            _fsync_dir(Path(folder))
    return written


def _flush_and_close(out: Any) -> None:
    try:
        out.flush()
        os.fsync(out.fileno())
        drop_cache(out.fileno())
    finally:
        out.close()


class StreamExtractor:
    """Unpack a zip archive while its bytes arrive, so publishing does not read and rewrite the whole package after
    the last byte: members are written to ``dest`` as their local headers and data stream past.

    Nothing here decides whether a package is accepted. The local headers are only a forecast; ``confirm`` compares
    every member written with the central directory at the end of the archive (offset, name, method, sizes, CRC-32)
    and answers ``None`` on any difference, any member that could not be streamed (encryption, data descriptors,
    zip64, other methods, gaps, a hostile name), or once a limit was reached. The caller then removes ``dest`` and
    extracts from the finished archive with ``safe_extract`` as usual, so a refused package is refused with exactly
    the same error either way. While streaming, the same caps as ``safe_extract`` bound what reaches the disk: at most
    ``ratio_limit`` bytes (or ``cap``, if lower) in at most ``max_files`` members, each within ``max_ratio`` of its
    compressed size.

    ``feed`` is called with the archive's bytes in order, from one thread; it never raises.
    """

    _LOCAL = struct.Struct("<4sHHHHHIIIHH")
    _LOCAL_SIG = b"PK\x03\x04"
    _CENTRAL_SIG = b"PK\x01\x02"
    _MAX_FLUSHING = 32

    def __init__(
        self, dest: Path, archive_size: int, limits: ZipLimits, durable: bool = True, cap: int | None = None
    ) -> None:
        self.dest = dest
        self.limits = limits
        self.durable = durable
        # ``cap`` may lower the bound further: what streams is held until the upload ends or expires.
        self.cap = min(ratio_limit(archive_size, limits), cap if cap is not None else 1 << 62)
        self.failed: str | None = None  # why streaming stopped being usable (for logs)
        self.done = False  # reached the central directory
        self.written = 0
        self._offset = 0  # archive offset of the first byte in ``_buf``
        self._buf = bytearray()  # a header being assembled
        self._member: dict[str, Any] | None = None  # the member whose data is streaming
        self._members: dict[int, dict[str, Any]] = {}  # header offset -> what was written
        self._out: Any = None
        self._inflate: Any = None
        self._crc = 0
        self._left = 0  # compressed bytes of the current member still to come
        self._size = 0  # bytes written for the current member
        self._flusher: ThreadPoolExecutor | None = None
        self._flushes: deque[Future[None]] = deque()

    def feed(self, data: bytes | memoryview) -> None:
        if self.failed is not None or self.done:
            return
        try:
            self._feed(memoryview(data))
        except Exception as exc:  # any surprise only means "extract the usual way at the end"
            self._fail(f"{type(exc).__name__}: {exc}")

    def abort(self) -> None:
        """Stop for good (the upload is cancelled or refused); the caller removes ``dest``."""
        self._fail("aborted")

    def _fail(self, why: str) -> None:
        if self.failed is None:
            self.failed = why
        with contextlib.suppress(Exception):
            self._close_member()

    def _close_member(self) -> None:
        if self._out is not None:
            try:
                self._out.close()
            finally:
                self._out = None
        self._member = None
        self._inflate = None

    def _feed(self, view: memoryview) -> None:
        pos, n = 0, len(view)
        while pos < n and self.failed is None and not self.done:
            if self._member is None:
                pos = self._header(view, pos)
            else:
                take = min(self._left, n - pos)
                self._data(view[pos : pos + take])
                self._left -= take
                self._offset += take
                pos += take
                if self._left == 0:
                    self._finish_member()

    def _header(self, view: memoryview, pos: int) -> int:
        """Collect one local header (or recognise the central directory); returns the new position."""
        buf = self._buf
        need = 30
        if len(buf) >= 30:
            need = 30 + int.from_bytes(buf[26:28], "little") + int.from_bytes(buf[28:30], "little")
        take = min(need - len(buf), len(view) - pos)
        buf += view[pos : pos + take]
        pos += take
        if len(buf) >= 4 and bytes(buf[:4]) != self._LOCAL_SIG:
            if bytes(buf[:4]) == self._CENTRAL_SIG:
                self.done = True
            else:
                self._fail("no local header where one was expected")
            return pos
        if len(buf) < 30:
            return pos
        need = 30 + int.from_bytes(buf[26:28], "little") + int.from_bytes(buf[28:30], "little")
        if len(buf) < need:
            return pos
        self._start_member(bytes(buf))
        self._offset += len(buf)
        buf.clear()
        return pos

    def _start_member(self, header: bytes) -> None:
        (_sig, _ver, flags, method, _t, _d, crc, csize, usize, nlen, _xlen) = self._LOCAL.unpack_from(header)
        raw_name = header[30 : 30 + nlen]
        if flags & ~0x0806:  # only deflate options and UTF-8 names: no encryption, data descriptor, patches
            return self._fail(f"member flags {flags:#x}")
        if method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            return self._fail(f"compression method {method}")
        if 0xFFFFFFFF in (csize, usize):
            return self._fail("zip64 member")
        if len(self._members) >= self.limits.max_files:
            return self._fail("too many members")
        if usize > self.limits.max_ratio * max(csize, 1024) or (method == zipfile.ZIP_STORED and csize != usize):
            return self._fail("member sizes out of bounds")
        name = raw_name.decode("utf-8") if flags & 0x800 else raw_name.decode("cp437")
        info = zipfile.ZipInfo(name)
        info.flag_bits, info.compress_type = flags, method
        rel = _check_member(info)  # PackageError -> _fail through feed
        target = self.dest / rel
        header_offset = self._offset
        member = {
            "name": name,
            "rel": rel,
            "flags": flags,
            "method": method,
            "csize": csize,
            "usize": usize,
            "crc": crc,
            "dir": False,
        }
        self._members[header_offset] = member
        if info.is_dir():
            if usize or csize:
                return self._fail("folder with content")
            member["dir"] = True
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._out = open(target, "xb")  # noqa: SIM115  # closed by _finish_member / _fail
        self._member = member
        self._left = csize
        self._crc = 0
        self._size = 0
        self._inflate = zlib.decompressobj(-15) if method == zipfile.ZIP_DEFLATED else None
        if csize == 0:
            self._finish_member()
        return None

    def _data(self, piece: memoryview) -> None:
        if self._inflate is None:
            self._write(piece)
            return
        data: bytes | memoryview = piece
        while data:
            out = self._inflate.decompress(data, 1 << 20)  # bounded output: a bomb cannot fill memory
            self._write(out)
            data = self._inflate.unconsumed_tail
            if self.failed is not None:
                return

    def _write(self, out: bytes | memoryview) -> None:
        if not out:
            return
        self._size += len(out)
        self.written += len(out)
        assert self._member is not None
        if self._size > self._member["usize"] or self.written > self.cap:
            self._fail("member larger than declared, or the package past its cap")
            return
        self._crc = zlib.crc32(out, self._crc)
        self._out.write(out)

    def _finish_member(self) -> None:
        member = self._member
        assert member is not None
        if self._inflate is not None and (not self._inflate.eof or self._inflate.unused_data):
            return self._fail("deflate stream does not end with the member")
        if self._size != member["usize"] or self._crc != member["crc"]:
            return self._fail("size or CRC-32 differ from the local header")
        if self._out is not None and self.durable:
            # Another thread flushes the finished file while this one goes on with the next member; a bounded number
            # of files wait for it, so a package of many small files does not hold many descriptors open.
            out, self._out = self._out, None
            if self._flusher is None:
                self._flusher = ThreadPoolExecutor(1, thread_name_prefix="unpack-fsync")
            while len(self._flushes) >= self._MAX_FLUSHING:
                self._flushes.popleft().result()
            self._flushes.append(self._flusher.submit(_flush_and_close, out))
        self._close_member()
        return None

    def close(self) -> bool:
        """Wait for the queued flushes (call from a worker thread); False when one of them failed."""
        ok = True
        while self._flushes:
            try:
                self._flushes.popleft().result()
            except OSError:
                ok = False
        if self._flusher is not None:
            self._flusher.shutdown(wait=True)
            self._flusher = None
        return ok

    def confirm(self, archive: Path) -> int | None:
        """The bytes unpacked, when what was streamed is exactly what ``safe_extract`` would write for the finished
        ``archive`` (then the files get their modes and the folders are flushed); ``None`` to extract it anew."""
        if not self.close() or self.failed is not None or not self.done or self._member is not None:
            return None
        with _open_zip(archive) as zf:
            infos = zf.infolist()
        if len(infos) != len(self._members):
            return None
        for info in infos:
            member = self._members.get(info.header_offset)
            if (
                member is None
                or member["name"] != info.orig_filename
                or member["method"] != info.compress_type
                or member["csize"] != info.compress_size
                or member["usize"] != info.file_size
                or member["crc"] != info.CRC
                or member["flags"] != info.flag_bits
                or member["dir"] != info.is_dir()
                or member["rel"] != _check_member(info)
            ):
                return None
        self.dest.mkdir(parents=True, exist_ok=True)
        for info in infos:
            if info.is_dir():
                continue
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(self.dest / _check_member(info), (mode | 0o600) & 0o755 if mode else 0o644)
        if self.durable:
            for folder, _dirs, _names in os.walk(self.dest):
                _fsync_dir(Path(folder))
        return self.written


def zip_folder(folder: Path, archive: Path, exclude: tuple[str, ...] = ("__pycache__", ".git")) -> int:
    """Pack a game folder (manifest at the root) into ``archive``; returns its size."""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if any(part in exclude or part.endswith(".pyc") for part in rel.parts):
                continue
            if path.is_symlink():
                raise PackageError(f"'{rel}' is a symbolic link; packages may not contain links")
            if path.is_file():
                zf.write(path, rel.as_posix())
    return archive.stat().st_size


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

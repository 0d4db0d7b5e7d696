"""The player's local game library and the client side of downloads.

Layout (seed 003): ``<root>/<player>/<game_name>/<version>/`` holds one unpacked version; several players on one machine
have separate folders and may hold different versions of the same game. The folders are the truth: a version counts as
installed when its folder exists and has a ``manifest.json``. Work in progress lives beside it and never looks
installed:

* ``<game>/<version>.part`` the archive being downloaded, ``<game>/<version>.part.json`` its resume record;
* ``<game>/.staging-<version>-<random>/`` an archive being unpacked, renamed to ``<version>/`` only when complete.

So a failed or interrupted download never leaves a half version that looks usable, and never touches the versions
already installed. Calling ``download_game`` again after an interruption resumes from the resume record.

On a length-prefixed connection the download asks for binary chunk frames (``"encoding": "binary"``: raw bytes, no
base64) and falls back to base64 chunks when the server refuses that.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playhub.client.connection import Client, ConnectionLost, error_of
from playhub.client.settings import CLIENT
from playhub.packages import PackageError, ZipLimits, inspect_zip, is_version, parse_version, safe_extract
from playhub.protocol.errors import (
    ChecksumMismatch,
    ChunkOutOfOrder,
    InvalidRequest,
    PlayHubError,
)
from playhub.wire.framing import Framing

Progress = Callable[[int, int], None]


def default_downloads_root() -> Path:
    """``$PLAYHUB_DOWNLOADS`` or ``./downloads``."""
    return Path(os.environ.get("PLAYHUB_DOWNLOADS") or "downloads")


def _safe_component(value: str, what: str, *, leading_dot: bool = False) -> str:
    """Names become folder names: refuse anything that could leave the library. Game folders may not start with a
    dot, which marks work in progress (``.staging-*``, ``.trash-*``); player names may (``.bob`` is a valid user)."""
    if (
        value in ("", ".", "..")
        or (value.startswith(".") and not leading_dot)
        or any(ch in value for ch in "/\\\x00:")
        or len(value) > 128
    ):
        raise ValueError(f"{what} {value!r} cannot be used as a folder name")
    return value


@dataclass(frozen=True, slots=True)
class InstalledGame:
    name: str
    version: str
    path: Path
    manifest: dict[str, Any]


class LocalLibrary:
    """One player's downloaded games under ``<root>/<player>/``."""

    def __init__(self, root: Path, player: str) -> None:
        self.root = Path(root)
        self.player = _safe_component(player, "player name", leading_dot=True)
        self.base = self.root / self.player

    # --- paths ---------------------------------------------------------------------------------------------------
    def game_dir(self, game_name: str) -> Path:
        return self.base / _safe_component(game_name, "game name")

    def version_dir(self, game_name: str, version: str) -> Path:
        if not is_version(version):
            raise ValueError(f"version {version!r} is not of the form major.minor.patch")
        return self.game_dir(game_name) / version

    def part_path(self, game_name: str, version: str) -> Path:
        return self.game_dir(game_name) / f"{version}.part"

    def resume_path(self, game_name: str, version: str) -> Path:
        return self.game_dir(game_name) / f"{version}.part.json"

    # --- queries -------------------------------------------------------------------------------------------------
    def versions(self, game_name: str) -> list[str]:
        """Installed versions of a game, oldest first."""
        folder = self.game_dir(game_name)
        try:
            entries = list(folder.iterdir())
        except OSError:
            return []
        found = [e.name for e in entries if is_version(e.name) and (e / "manifest.json").is_file()]
        return sorted(found, key=parse_version)

    def installed_version(self, game_name: str) -> str | None:
        found = self.versions(game_name)
        return found[-1] if found else None

    def get(self, game_name: str, version: str | None = None) -> InstalledGame | None:
        """The given (default: newest) installed version of a game, or None."""
        version = version or self.installed_version(game_name)
        if version is None:
            return None
        path = self.version_dir(game_name, version)
        try:
            manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return InstalledGame(game_name, version, path, manifest if isinstance(manifest, dict) else {})

    def installed(self) -> dict[str, InstalledGame]:
        """Game name → its newest installed version."""
        out: dict[str, InstalledGame] = {}
        try:
            entries = sorted(self.base.iterdir())
        except OSError:
            return out
        for entry in entries:
            if not entry.is_dir() or entry.name.startswith("."):
                continue
            game = self.get(entry.name)
            if game is not None:
                out[entry.name] = game
        return out

    def updates(self, listing: list[dict[str, Any]]) -> dict[str, str]:
        """Game name → the store's newer version, for installed games the listing (``LIST_GAMES``) has newer."""
        out: dict[str, str] = {}
        for entry in listing:
            name, latest = entry.get("name"), entry.get("latest_version")
            if not isinstance(name, str) or not isinstance(latest, str) or not is_version(latest):
                continue
            try:
                mine = self.installed_version(name)
            except ValueError:
                continue
            if mine is not None and parse_version(latest) > parse_version(mine):
                out[name] = latest
        return out

    # --- changes -------------------------------------------------------------------------------------------------
    def remove(self, game_name: str, version: str | None = None) -> None:
        """Delete one version, or the whole game (with any download in progress) when ``version`` is None."""
        target = self.game_dir(game_name) if version is None else self.version_dir(game_name, version)
        if not target.exists():
            return
        # Rename first so a crash halfway through deleting never leaves a partial folder that looks installed.
        trash = target.with_name(f".trash-{target.name}-{secrets.token_hex(4)}")
        os.replace(target, trash)
        shutil.rmtree(trash, ignore_errors=True)
        if version is not None:
            for extra in (self.part_path(game_name, version), self.resume_path(game_name, version)):
                with contextlib.suppress(FileNotFoundError):
                    extra.unlink()


# --- downloads -------------------------------------------------------------------------------------------------------
_locks: dict[tuple[int, Path], tuple[asyncio.Lock, int]] = {}


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def _read_resume(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    keys = ("game_id", "version", "size_bytes", "chunk_size", "checksum", "next_seq")
    return data if isinstance(data, dict) and all(k in data for k in keys) else None


def _prepare_part(part: Path, record: dict[str, Any] | None) -> int:
    """Cut the part file back to the chunks its resume record vouches for; returns the first chunk still needed."""
    part.parent.mkdir(parents=True, exist_ok=True)
    if record is None or not part.exists():
        part.write_bytes(b"")
        return 0
    chunk, size = int(record["chunk_size"]), int(record["size_bytes"])
    have = min(int(record["next_seq"]), part.stat().st_size // chunk if chunk > 0 else 0)
    if part.stat().st_size >= size and int(record["next_seq"]) * chunk >= size:
        have = int(record["next_seq"])  # the last chunk may be short
    with open(part, "r+b") as f:
        f.truncate(min(have * chunk, size))
    return have


def _append_chunks(part: Path, blobs: list[str | bytes | memoryview], digest: Any) -> int:
    """Decode (base64 text; binary chunks come raw), hash and append a batch of chunks (in a worker thread); returns
    the part's new size."""
    with open(part, "ab") as f:
        for blob in blobs:
            data = base64.b64decode(blob, validate=True) if isinstance(blob, str) else blob
            digest.update(data)
            f.write(data)
        return f.tell()


def _hash_prefix(part: Path) -> Any:
    """The running SHA-256 of what a resumed part already holds."""
    digest = hashlib.sha256()
    with open(part, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest


def _install(archive: Path, game_dir: Path, version: str) -> Path:
    """Check and unpack the verified archive into a staging folder, then rename it into place."""
    limits = ZipLimits()
    inspect_zip(archive, limits)
    staging = game_dir / f".staging-{version}-{secrets.token_hex(4)}"
    try:
        safe_extract(archive, staging, limits)
        final = game_dir / version
        if final.exists():  # reinstalling the same version (a damaged copy): swap, never delete first
            trash = game_dir / f".trash-{version}-{secrets.token_hex(4)}"
            os.replace(final, trash)
            os.replace(staging, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _has_data(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _discard(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


async def download_game(
    client: Client,
    library: LocalLibrary,
    game_id: str,
    version: str | None = None,
    *,
    progress: Progress | None = None,
) -> InstalledGame:
    """Download a game (its latest version unless ``version`` is given) into ``library`` and return it installed.

    Raises the typed errors of the server (``NotFound`` 103, ``BadState`` 105 for a delisted game, ...),
    ``ChecksumMismatch`` when the bytes received do not match the announced checksum (the part is discarded),
    ``PackageError`` when the archive cannot be unpacked safely, ``ConnectionLost`` when the connection drops (the
    part and its resume record stay, and the next call resumes). Installed versions are never touched by a failure.
    """
    detail = await client.request("GET_GAME_DETAIL", {"game_id": game_id})
    name = str(detail["name"])
    wanted = version or detail.get("latest_version")
    if not isinstance(wanted, str):
        raise InvalidRequest("this game has no published version")
    existing = await asyncio.to_thread(library.get, name, wanted) if is_version(wanted) else None
    if existing is not None:
        return existing
    # One download per part file at a time in this process (two tasks asking for the same version wait for each other).
    key = (id(asyncio.get_running_loop()), library.part_path(name, wanted).absolute())
    lock, users = _locks.get(key, (asyncio.Lock(), 0))
    _locks[key] = (lock, users + 1)
    try:
        async with lock:
            existing = await asyncio.to_thread(library.get, name, wanted)
            if existing is not None:  # installed by the task we waited for
                return existing
            return await _download_locked(client, library, game_id, name, wanted, progress)
    finally:
        lock, users = _locks[key]
        if users <= 1:
            del _locks[key]
        else:
            _locks[key] = (lock, users - 1)


async def _download_locked(
    client: Client, library: LocalLibrary, game_id: str, name: str, version: str, progress: Progress | None
) -> InstalledGame:
    part, record_path = library.part_path(name, version), library.resume_path(name, version)
    record = await asyncio.to_thread(_read_resume, record_path)
    if record is not None and (record["game_id"] != game_id or record["version"] != version):
        record = None
    start_seq = await asyncio.to_thread(_prepare_part, part, record)
    try:
        return await _fetch_and_install(client, library, game_id, name, version, progress, record, start_seq)
    except PlayHubError as exc:
        if isinstance(exc, ChecksumMismatch) or (
            start_seq == 0 and not await asyncio.to_thread(_has_data, part)
        ):
            # Refused before any byte arrived (or the bytes were wrong): nothing worth keeping for a later attempt.
            await asyncio.to_thread(_discard, part, record_path)
            with contextlib.suppress(OSError):
                part.parent.rmdir()  # only if this attempt created it and left it empty
        raise


async def _fetch_and_install(
    client: Client,
    library: LocalLibrary,
    game_id: str,
    name: str,
    version: str,
    progress: Progress | None,
    record: dict[str, Any] | None,
    start_seq: int,
) -> InstalledGame:
    part, record_path = library.part_path(name, version), library.resume_path(name, version)
    pushes = client.subscribe(None)
    try:
        try:
            answer = await _begin_download(
                client, {"game_id": game_id, "version": version, "start_seq": start_seq}
            )
        except InvalidRequest:
            if start_seq == 0:
                raise
            # The resume point no longer fits the package (it changed, or the server's chunk size did): start over.
            start_seq = await asyncio.to_thread(_prepare_part, part, None)
            record = None
            answer = await _begin_download(client, {"game_id": game_id, "version": version})
        fresh = {
            "game_id": game_id,
            "version": answer["version"],
            "size_bytes": answer["size_bytes"],
            "chunk_size": answer["chunk_size"],
            "checksum": str(answer.get("checksum") or ""),
        }
        if start_seq and (record is None or any(record[k] != v for k, v in fresh.items())):
            # The package or the chunk size changed since the interrupted attempt: start again from zero.
            await _cancel(client, answer["download_id"], pushes)
            start_seq = await asyncio.to_thread(_prepare_part, part, None)
            answer = await _begin_download(client, {"game_id": game_id, "version": version})
            fresh.update(
                size_bytes=answer["size_bytes"],
                chunk_size=answer["chunk_size"],
                checksum=str(answer.get("checksum") or ""),
            )
        record = {**fresh, "next_seq": start_seq}
        await asyncio.to_thread(_write_json_atomic, record_path, record)
        # Hash while writing, so the whole package is not read back at the end (a resumed part hashes its prefix).
        digest = await asyncio.to_thread(_hash_prefix, part)
        checksum = await _receive(client, pushes, answer, part, record, record_path, progress, digest)
    finally:
        client.unsubscribe(pushes)

    expected = checksum.lower().removeprefix("sha256:")
    actual = digest.hexdigest()
    size = (await asyncio.to_thread(part.stat)).st_size
    if size != record["size_bytes"] or (expected and actual != expected):
        await asyncio.to_thread(_discard, part, record_path)
        raise ChecksumMismatch(
            f"the downloaded package does not match its checksum (got {size} bytes, sha256 {actual[:12]}…): "
            "nothing was installed"
        )
    game_dir = library.game_dir(name)
    try:
        path = await asyncio.to_thread(_install, part, game_dir, version)
    except PackageError:
        await asyncio.to_thread(_discard, part, record_path)
        raise
    await asyncio.to_thread(_discard, part, record_path)
    installed = await asyncio.to_thread(library.get, name, version)
    if installed is None:
        raise PackageError(f"the package installed in {path} has no readable manifest.json")
    return installed


async def _begin_download(client: Client, payload: dict[str, Any]) -> dict[str, Any]:
    """``DOWNLOAD_BEGIN``, in binary mode when the connection can carry binary frames and the server agrees."""
    if client.framing is Framing.LENGTH_PREFIXED:
        try:
            return await client.request("DOWNLOAD_BEGIN", {**payload, "encoding": "binary"})
        except InvalidRequest as exc:
            if "encoding" not in exc.message:
                raise
            # A server without binary chunks refuses the field: base64 chunks work everywhere.
    return await client.request("DOWNLOAD_BEGIN", payload)


async def _cancel(client: Client, download_id: str, pushes: asyncio.Queue[dict[str, Any]]) -> None:
    with contextlib.suppress(PlayHubError, ConnectionError):
        await client.request("CANCEL_DOWNLOAD", {"download_id": download_id})
    # Everything of that stream arrived before the answer to CANCEL_DOWNLOAD: drop it.
    while not pushes.empty():
        pushes.get_nowait()


async def _receive(
    client: Client,
    pushes: asyncio.Queue[dict[str, Any]],
    answer: dict[str, Any],
    part: Path,
    record: dict[str, Any],
    record_path: Path,
    progress: Progress | None,
    digest: Any,
) -> str:
    """Write the stream to the part file, feeding ``digest``; returns the checksum of DOWNLOAD_END."""
    download_id = answer["download_id"]
    size, chunk = int(answer["size_bytes"]), int(answer["chunk_size"])
    chunks = -(-size // chunk)
    expected = int(record["next_seq"])
    transport = client.writer.transport
    paused = False
    finished = False
    carry: dict[str, Any] | None = None
    try:
        if progress is not None:
            progress(min(expected * chunk, size), size)
        while True:
            if not paused and pushes.qsize() >= CLIENT.download_queue_high:
                transport.pause_reading()
                paused = True
            if carry is not None:
                msg, carry = carry, None
            else:
                try:
                    msg = await asyncio.wait_for(pushes.get(), CLIENT.download_idle_timeout_s)
                except TimeoutError:
                    idle = CLIENT.download_idle_timeout_s
                    raise ConnectionLost(f"no data for {idle:g} s: download interrupted") from None
            kind, payload = msg["type"], msg["payload"]
            if kind == "__closed__":
                raise ConnectionLost("the server closed the connection during the download")
            if payload.get("download_id") != download_id:
                continue
            if kind == "DOWNLOAD_ERROR":
                finished = True
                raise error_of(payload, payload)
            if kind == "DOWNLOAD_END":
                finished = True
                if expected != chunks:
                    raise ChunkOutOfOrder(f"the download ended after {expected} of {chunks} chunks")
                return str(payload.get("checksum") or record["checksum"])
            if kind != "DOWNLOAD_CHUNK":
                continue
            # Take every chunk already queued in one go: one thread hop writes them all.
            batch = [payload]
            while len(batch) < CLIENT.download_queue_high and not pushes.empty():
                nxt = pushes.get_nowait()
                if nxt["type"] == "DOWNLOAD_CHUNK" and nxt["payload"].get("download_id") == download_id:
                    batch.append(nxt["payload"])
                else:
                    carry = nxt  # handled by the next turn of the loop, in order
                    break
            blobs: list[str | bytes | memoryview] = []
            for item in batch:
                if item.get("seq") != expected + len(blobs):
                    raise ChunkOutOfOrder(
                        f"chunk {item.get('seq')} arrived, {expected + len(blobs)} expected"
                    )
                raw = item.get("data")  # binary chunk frames carry the bytes themselves
                blobs.append(raw if raw is not None else item.get("data_b64", ""))
            try:
                written = await asyncio.to_thread(_append_chunks, part, blobs, digest)
            except ValueError:
                raise InvalidRequest("the server sent a chunk that is not valid base64") from None
            expected += len(blobs)
            record["next_seq"] = expected
            await asyncio.to_thread(_write_json_atomic, record_path, record)
            if paused and pushes.qsize() <= CLIENT.download_queue_low:
                transport.resume_reading()
                paused = False
            if progress is not None:
                progress(min(written, size), size)
    finally:
        if paused and not transport.is_closing():
            transport.resume_reading()
        if not finished and not client.closed:
            # Stop the server's stream (we are failing or being cancelled); do not wait for the answer.
            with contextlib.suppress(ConnectionError):
                fut = client.send_request("CANCEL_DOWNLOAD", {"download_id": download_id})
                fut.add_done_callback(lambda f: f.cancelled() or f.exception())

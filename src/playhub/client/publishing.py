"""Client side of publishing: pack a game folder and upload it as a new game or a new version (use cases D1, D2).

``publish_folder`` is what the developer CLI, the demo and the game tests call. It checks everything it can locally
before touching the network, uploads in chunks with a window of requests in flight, resumes an interrupted upload of
the same bytes (``UPLOAD_BEGIN`` with ``"resume": true``), and when the connection drops during ``UPLOAD_END`` it asks
the server on a fresh connection whether the version landed. On a length-prefixed connection chunks go as binary
frames (``"encoding": "binary"``: raw bytes, no JSON or base64); a server that refuses that gets base64 chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from playhub import packages
from playhub.client.connection import Client, ConnectionLost, reply_error
from playhub.client.settings import CLIENT
from playhub.protocol.errors import ChecksumMismatch, ChunkOutOfOrder, Conflict, InvalidRequest, PlayHubError
from playhub.wire.framing import Framing

Progress = Callable[[int, int], None]

Encoding = Literal["auto", "binary", "base64"]


class PublishError(Exception):
    """A publish that could not complete; the message says why and what to do."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def check_folder(folder: Path, version: str | None = None) -> packages.Manifest:
    """Local checks before any network traffic: folder, manifest (every missing key named), entries, version."""
    manifest = packages.read_manifest_file(folder)
    for key, entry in (("entry_server", manifest.entry_server), ("entry_client", manifest.entry_client)):
        if not (folder / entry).is_file():
            raise packages.PackageError(f"manifest {key} '{entry}' does not exist in '{folder}'")
    if version is not None:
        packages.parse_version(version)
    return manifest


async def find_my_game(client: Client, name: str) -> dict[str, Any] | None:
    games = (await client.request("LIST_MY_GAMES", {}))["games"]
    return next((g for g in games if g["name"] == name), None)


async def ensure_game(client: Client, manifest: packages.Manifest) -> tuple[dict[str, Any], bool]:
    """This developer's game named like the manifest, created from the manifest when missing."""
    game = await find_my_game(client, manifest.name)
    if game is not None:
        return game, False
    try:
        out = await client.request(
            "CREATE_GAME",
            {
                "name": manifest.name,
                "display_name": manifest.display_name,
                "description": manifest.description,
                "game_type": manifest.type,
                "max_players": manifest.max_players,
                "min_players": manifest.min_players,
            },
        )
    except Conflict as exc:
        raise Conflict(f"the name '{manifest.name}' is taken by another developer's game: rename it") from exc
    game = await find_my_game(client, manifest.name)
    return game or {"game_id": out["game_id"], "name": manifest.name, "latest_version": None}, True


async def _begin(
    client: Client, game_id: str, version: str, size: int, checksum: str | None, binary: bool = False
) -> dict[str, Any]:
    """``UPLOAD_BEGIN`` with resume; the answer carries ``"encoding": "binary"`` when binary chunks were agreed."""
    payload: dict[str, Any] = {"game_id": game_id, "version": version, "size_bytes": size, "resume": True}
    if checksum is not None:
        payload["checksum"] = checksum
    if binary:
        try:
            return await _begin_once(client, {**payload, "encoding": "binary"})
        except InvalidRequest as exc:
            if "encoding" not in exc.message:
                raise
            # A server without binary chunks refuses the field: base64 chunks work everywhere.
    return await _begin_once(client, payload)


async def _begin_once(client: Client, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        return await client.request("UPLOAD_BEGIN", payload)
    except Conflict as exc:
        stale = exc.payload.get("upload_id")
        if not stale:
            raise
        # An unfinished upload of this version holds other bytes (the folder changed since): replace it.
        await client.request("CANCEL_UPLOAD", {"upload_id": stale})
        return await client.request("UPLOAD_BEGIN", payload)


async def _drain_pending(pending: deque[tuple[asyncio.Future[dict[str, Any]], int]]) -> None:
    for fut, _ in pending:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(fut, CLIENT.upload_chunk_timeout_s)
    pending.clear()


def _forget(pending: deque[tuple[asyncio.Future[dict[str, Any]], int]]) -> None:
    """The connection failed with chunks in flight: mark their futures handled so nothing is logged at exit."""
    for fut, _ in pending:
        if fut.done() and not fut.cancelled():
            fut.exception()
        else:
            fut.cancel()
    pending.clear()


class _RunningHash:
    """The file's SHA-256, computed from the batches read for sending (in the reading thread) instead of in a pass of
    its own before UPLOAD_BEGIN; bytes the upload skips (a resume) or reads twice (a resync) are handled."""

    def __init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.upto = 0  # bytes [0, upto) are hashed

    def add(self, fh: Any, offset: int, data: bytes) -> None:
        if offset > self.upto:
            self.fill(fh, offset)
        if offset <= self.upto < offset + len(data):
            self.hasher.update(memoryview(data)[self.upto - offset :])
            self.upto = offset + len(data)

    def fill(self, fh: Any, end: int) -> None:
        """Hash [upto, end) straight from the file."""
        fh.seek(self.upto)
        while self.upto < end:
            block = fh.read(min(1 << 20, end - self.upto))
            if not block:
                raise PublishError("the package became shorter while it was being uploaded")
            self.hasher.update(block)
            self.upto += len(block)

    def finish(self, fh: Any, size: int) -> str:
        self.fill(fh, size)
        return self.hasher.hexdigest()


def _read_batch(fh: Any, offset: int, length: int, running: _RunningHash | None = None) -> bytes:
    fh.seek(offset)
    data: bytes = fh.read(length)
    if running is not None:
        running.add(fh, offset, data)
    return data


async def upload_file(
    client: Client,
    game_id: str,
    version: str,
    archive: Path,
    *,
    progress: Progress | None = None,
    window: int = CLIENT.upload_window,
    encoding: Encoding = "auto",
    checksum: str | None = None,
) -> dict[str, Any]:
    """Upload a package file as ``version`` of ``game_id``; returns the ``UPLOAD_END`` answer.

    ``encoding`` "auto" uses binary chunk frames on a length-prefixed connection and base64 chunks otherwise.
    ``checksum`` (the file's SHA-256 hex) saves hashing the file again when the caller already has it. Without it, a
    binary upload hashes the bytes as it reads them for sending and gives the SHA-256 with ``UPLOAD_END`` (so the
    first chunk leaves without a pass over the whole file first); a base64 upload hashes the file before it begins.
    """
    size = (await asyncio.to_thread(archive.stat)).st_size
    want_binary = encoding == "binary" or (encoding == "auto" and client.framing is Framing.LENGTH_PREFIXED)
    try:
        return await _upload_once(client, game_id, version, archive, size, want_binary, checksum, progress, window)
    except ChecksumMismatch as exc:
        if checksum is not None or not want_binary or "announced" not in exc.message:
            raise
        # A resumed upload held bytes of another file of the same size (its checksum came only at the end): the
        # server discarded it, so send this file again from the start, once.
        return await _upload_once(client, game_id, version, archive, size, want_binary, None, progress, window)


async def _upload_once(
    client: Client,
    game_id: str,
    version: str,
    archive: Path,
    size: int,
    want_binary: bool,
    checksum: str | None,
    progress: Progress | None,
    window: int,
) -> dict[str, Any]:
    running: _RunningHash | None = None
    if checksum is None and want_binary:
        running = _RunningHash()
        begin = await _begin(client, game_id, version, size, None, True)
        if begin.get("encoding") != "binary":  # a server without binary chunks: hash first, as base64 mode does
            running = None
            checksum = await asyncio.to_thread(sha256_file, archive)
    else:
        if checksum is None:
            checksum = await asyncio.to_thread(sha256_file, archive)
        begin = await _begin(client, game_id, version, size, checksum, want_binary)
    binary = begin.get("encoding") == "binary"
    upload_id = begin["upload_id"]
    chunk_size = int(begin["chunk_size"])
    seq, offset = int(begin.get("next_seq", 0)), int(begin.get("received_bytes", 0))
    if progress:
        progress(offset, size)
    fh = await asyncio.to_thread(open, archive, "rb")
    try:
        resyncs = 0
        acked = offset
        while acked < size:
            pending: deque[tuple[asyncio.Future[dict[str, Any]], int]] = deque()
            failure: PlayHubError | None = None
            batch = memoryview(b"")
            try:
                while (offset < size or pending) and failure is None:
                    while offset < size and len(pending) < window:
                        if not batch:
                            # Several chunks per thread hop; slices of one read are sent without copying.
                            want = min(max(CLIENT.upload_read_batch_bytes, chunk_size), size - offset)
                            batch = memoryview(await asyncio.to_thread(_read_batch, fh, offset, want, running))
                            if not batch:
                                raise PublishError(f"{archive} became shorter while it was being uploaded")
                        data, batch = batch[:chunk_size], batch[chunk_size:]
                        n = len(data)
                        if binary:
                            fut = client.send_binary_chunk(upload_id, seq, data)
                        else:
                            # bytes are sent as base64 text by the client's msgspec encoder (in C)
                            fut = client.send_request(
                                "UPLOAD_CHUNK", {"upload_id": upload_id, "seq": seq, "data_b64": bytes(data)}
                            )
                        pending.append((fut, n))
                        seq += 1
                        offset += n
                    await client.writer.drain()
                    fut, n = pending.popleft()
                    resp = await asyncio.wait_for(fut, CLIENT.upload_chunk_timeout_s)
                    failure = reply_error(resp)
                    if failure is not None:
                        break
                    acked += n
                    if progress:
                        progress(acked, size)
            except BaseException:
                _forget(pending)
                raise
            # Whatever was still in flight after a failure is answered with errors too; collect and drop them.
            await _drain_pending(pending)
            if failure is None:
                break
            if not isinstance(failure, ChunkOutOfOrder) or resyncs >= CLIENT.upload_max_resyncs:
                raise failure
            # Out of step with the server (another connection sent chunks meanwhile): ask where it stands.
            resyncs += 1
            begin = await _begin(client, game_id, version, size, checksum, binary)
            binary = begin.get("encoding") == "binary"
            upload_id = begin["upload_id"]  # a new one if the old upload had to be replaced
            seq, offset = int(begin["next_seq"]), int(begin["received_bytes"])
            acked = offset
        end: dict[str, Any] = {"upload_id": upload_id}
        if running is not None:
            end["checksum"] = await asyncio.to_thread(running.finish, fh, size)
    finally:
        await asyncio.to_thread(fh.close)
    try:
        return await client.request("UPLOAD_END", end, timeout=CLIENT.upload_end_timeout_s)
    except (ConnectionLost, ConnectionError):
        landed = await _landed_after_drop(client, game_id, version)
        if landed is not None:
            return landed
        raise


async def _landed_after_drop(client: Client, game_id: str, version: str) -> dict[str, Any] | None:
    """The connection dropped during UPLOAD_END: did the version land? Asks LIST_VERSIONS on a new connection."""
    peer = client.writer.get_extra_info("peername")
    if not peer or not client.token:
        return None
    host, port = peer[0], peer[1]
    for attempt in range(CLIENT.upload_landed_probes):
        try:
            probe_timeout = CLIENT.upload_landed_probe_timeout_s
            async with await Client.connect(host, port, timeout=probe_timeout) as probe:
                probe.token = (
                    client.token
                )  # a dropped connection's session stays resumable for a grace period
                versions = (await probe.request("LIST_VERSIONS", {"game_id": game_id}))["versions"]
        except (OSError, ConnectionLost, TimeoutError):
            await asyncio.sleep(0.5 * (attempt + 1))
            continue
        except PlayHubError:
            return None  # the session is gone (ended or expired): the caller has to log in and retry
        for v in versions:
            if v["version"] == version:
                return {"version": version, "is_latest": bool(v["is_latest"]), "game_id": game_id}
        return None
    return None


async def _sync_meta(client: Client, game: dict[str, Any], manifest: packages.Manifest) -> None:
    """Keep the store's description in step with the manifest that was just published."""
    wanted = {
        "display_name": manifest.display_name,
        "description": manifest.description,
        "game_type": manifest.type,
        "max_players": manifest.max_players,
        "min_players": manifest.min_players,
    }
    changes = {k: v for k, v in wanted.items() if game.get(k) != v}
    if changes:
        with contextlib.suppress(PlayHubError, ConnectionError):
            await client.request("UPDATE_GAME_META", {"game_id": game["game_id"], **changes})


async def publish_folder(
    client: Client,
    folder: Path,
    version: str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Publish ``folder`` (manifest at its root) as a new game or a new version of this developer's game.

    Returns ``{"game_id", "version", "is_latest", "created"}``. Local problems raise ``packages.PackageError`` before
    any request is sent; server refusals raise the ``PlayHubError`` subclass of their code; a dropped connection
    raises ``ConnectionLost`` (call again on a new connection: the upload resumes where it stopped).
    """
    folder = Path(folder)
    manifest = await asyncio.to_thread(check_folder, folder, version)
    game, created = await ensure_game(client, manifest)
    game_id = game["game_id"]
    if version is None:
        version = (await client.request("VERSION_HINT", {"game_id": game_id}))["suggested_version"]
    tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="playhub-publish-"))
    try:
        archive = tmp / f"{manifest.name}-{version}.zip"
        await asyncio.to_thread(packages.zip_folder, folder, archive)
        out = await upload_file(client, game_id, version, archive, progress=progress)
    finally:
        await asyncio.to_thread(shutil.rmtree, tmp, True)
    if not created:
        await _sync_meta(client, game, manifest)
    return {
        "game_id": game_id,
        "version": out["version"],
        "is_latest": bool(out["is_latest"]),
        "created": created,
    }

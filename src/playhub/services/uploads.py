"""Chunked uploads of game packages and their atomic publication (seed 000 upload flow, DESIGN.md sections 2-4).

An upload is two things: a row in ``uploads`` (durable progress) and a part file in ``tmp/`` that chunks are appended
to. Chunk data never accumulates in memory: each upload has one writer thread that hashes and appends its chunks in
order, while the event loop goes on receiving the next ones; at most ``upload_write_queue`` chunks wait for it, so a
client sending faster than the disk is slowed down instead of buffered. The chunk arrives either base64-decoded from
an ``UPLOAD_CHUNK`` request or raw from a binary chunk frame; the service does not see the difference. The SHA-256 is
computed as the bytes are written, so ``UPLOAD_END`` never reads the part back to hash it. Progress is written to the
database at most every ``upload_persist_interval_s`` (and always when the last byte arrives), only after the writer thread has
handed every counted byte to the OS; after a crash the part file is cut back to the recorded length, so the row never
claims bytes the file does not hold.

Publication at ``UPLOAD_END``: verify size and SHA-256, inspect the archive (paths, links, counts, sizes, manifest),
extract into a staging folder in ``tmp/``, rename it to ``uploadedGame/<game_id>/<version>/``, move the archive next to
it, then insert the ``versions`` row, point ``games.latest_version`` at it and drop the upload row in one transaction.
Nothing is visible to players before that commit; ``recover()`` at startup removes what a crash left half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from playhub import packages
from playhub.protocol.checksums import parse_checksum
from playhub.protocol.errors import (
    BadState,
    ChecksumMismatch,
    ChunkOutOfOrder,
    Conflict,
    Forbidden,
    InvalidRequest,
    PlayHubError,
    ServerError,
)
from playhub.services.catalog import CatalogService
from playhub.services.events import EventBus
from playhub.settings import Settings
from playhub.store import catalog as catalog_sql
from playhub.store import uploads as sql
from playhub.store.blobs import BlobStore
from playhub.store.db import Database
from playhub.store.uploads import UploadRow

log = logging.getLogger("playhub.uploads")

_STAGE_PREFIX = "stage-"


@dataclass(eq=False)
class _Live:
    """An open upload as the running server sees it; the row is its durable shadow."""

    row: UploadRow
    next_seq: int
    received: int
    fh: BinaryIO
    hasher: Any
    last_activity: float
    persisted_at: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False
    # Chunks handed to the writer threads and not yet hashed and on disk (their futures, oldest first).
    inflight: deque[asyncio.Future[Any]] = field(default_factory=deque)
    writer: ThreadPoolExecutor | None = None
    hashing: ThreadPoolExecutor | None = None

    def submit(self, data: bytes | memoryview) -> None:
        """Queue ``data`` for appending and hashing, each in order, in this upload's two threads: the write and the
        SHA-256 run at the same time (both release the GIL on large buffers), and both beside the event loop."""
        if self.writer is None or self.hashing is None:
            name = f"upload-{self.row.id[:8]}"
            self.writer = ThreadPoolExecutor(1, thread_name_prefix=name)
            self.hashing = ThreadPoolExecutor(1, thread_name_prefix=f"{name}-sha")
        loop = asyncio.get_running_loop()
        wrote = loop.run_in_executor(self.writer, self.fh.write, data)
        hashed = loop.run_in_executor(self.hashing, self.hasher.update, data)
        self.inflight.append(asyncio.gather(wrote, hashed))

    async def settle(self, keep: int = 0) -> None:
        """Wait until at most ``keep`` chunks are still being written; a failed write raises ``ServerError`` (also
        when it finished meanwhile, so the chunk after a failed one hears of it)."""
        while self.inflight and (len(self.inflight) > keep or self.inflight[0].done()):
            fut = self.inflight.popleft()
            try:
                await asyncio.shield(fut)
            except asyncio.CancelledError:
                self.inflight.appendleft(fut)  # still running: whoever settles next waits for it
                raise
            except OSError as exc:
                raise ServerError(f"the server could not store the chunk: {exc.strerror or exc}") from None

    async def run(self, fn: Any) -> Any:
        """Run ``fn`` in the writer thread after every queued write (flush, close)."""
        if self.writer is None:
            return await asyncio.to_thread(fn)
        return await asyncio.get_running_loop().run_in_executor(self.writer, fn)

    def stop_writer(self) -> None:
        for pool in (self.writer, self.hashing):
            if pool is not None:
                pool.shutdown(wait=False)
        self.writer = self.hashing = None


class UploadService:
    def __init__(
        self, settings: Settings, db: Database, blobs: BlobStore, events: EventBus, catalog: CatalogService
    ) -> None:
        self.settings = settings
        self.db = db
        self.blobs = blobs
        self.events = events
        self.catalog = catalog
        self.limits = packages.ZipLimits(
            max_unpacked_bytes=settings.max_unpacked_bytes,
            max_files=settings.max_package_files,
            max_manifest_bytes=settings.max_manifest_bytes,
            max_package_ratio=settings.max_package_ratio,
        )
        self._live: dict[str, _Live] = {}
        self._loading = asyncio.Lock()
        self._publish_locks: dict[str, asyncio.Lock] = {}
        self._expiry_task: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.recover()
        self._expiry_task = asyncio.create_task(self._expire_loop(), name="upload-expiry")

    async def close(self) -> None:
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry_task
        for live in list(self._live.values()):
            async with live.lock:
                if live.closed:
                    continue
                live.closed = True
                try:
                    await live.settle()
                    await live.run(live.fh.flush)  # bytes in the OS before the row counts them
                    await self.db.run(
                        sql.save_progress, live.row.id, live.next_seq, live.received, time.time()
                    )
                except (ServerError, OSError):
                    log.warning("upload %s: could not save its last chunks at shutdown", live.row.id)
                await live.run(live.fh.close)
                live.stop_writer()
        self._live.clear()

    async def recover(self) -> dict[str, int]:
        """Undo whatever a crash left between staging and the database commit (run once, before serving)."""
        rows = await self.db.run(sql.list_all)
        versions = await self.db.run(catalog_sql.all_version_keys)
        return await asyncio.to_thread(self._recover_files, rows, versions)

    def _recover_files(self, rows: list[UploadRow], versions: set[tuple[str, str]]) -> dict[str, int]:
        stats = {"staging": 0, "parts": 0, "versions": 0, "archives": 0, "restored": 0}
        open_ids = {r.id for r in rows}
        open_by_version = {(r.game_id, r.version): r for r in rows}
        if self.blobs.tmp.is_dir():
            for entry in self.blobs.tmp.iterdir():
                if entry.name.startswith(_STAGE_PREFIX):
                    packages.remove_tree(entry)
                    stats["staging"] += 1
                elif entry.name.startswith("upload-") and entry.name.endswith(".part"):
                    if entry.name[len("upload-") : -len(".part")] not in open_ids:
                        entry.unlink(missing_ok=True)
                        stats["parts"] += 1
        if self.blobs.root.is_dir():
            for game_dir in self.blobs.root.iterdir():
                if not game_dir.is_dir():
                    continue
                for entry in game_dir.iterdir():
                    if entry.is_dir() and not entry.is_symlink():
                        if (game_dir.name, entry.name) not in versions:
                            packages.remove_tree(entry)  # renamed into place, but the commit never happened
                            stats["versions"] += 1
                    elif entry.name.endswith(".zip"):
                        key = (game_dir.name, entry.name[: -len(".zip")])
                        if key in versions:
                            continue
                        row = open_by_version.get(key)
                        part = self.blobs.upload_part(row.id) if row else None
                        if part is not None and not part.exists():
                            # The crash came after the archive moved but before the commit: give the bytes back to
                            # the open upload so the client's UPLOAD_END (after a resume) can finish the job.
                            os.replace(entry, part)
                            stats["restored"] += 1
                        else:
                            entry.unlink(missing_ok=True)
                            stats["archives"] += 1
        if any(stats.values()):
            log.info("upload recovery: %s", stats)
        return stats

    async def _expire_loop(self) -> None:
        expiry = self.settings.upload_expiry_s
        interval = max(0.2, min(60.0, expiry / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.expire_idle()
            except Exception:
                log.exception("upload expiry failed")

    async def expire_idle(self) -> int:
        """Drop uploads that received nothing for ``upload_expiry_s``; returns how many."""
        now = time.time()
        cutoff = now - self.settings.upload_expiry_s
        dropped = 0
        for live in list(self._live.values()):
            if live.last_activity < cutoff and not live.lock.locked():
                async with live.lock:
                    if not live.closed:
                        await self._discard(live)
                        dropped += 1
        for row in await self.db.run(sql.list_idle, cutoff):
            if row.id in self._live:
                continue
            await self.db.run(sql.delete, row.id)
            await asyncio.to_thread(self.blobs.upload_part(row.id).unlink, missing_ok=True)
            dropped += 1
        if dropped:
            log.info("expired %d abandoned upload(s)", dropped)
        return dropped

    # --- live state --------------------------------------------------------------------------------------------
    async def _get_live(self, upload_id: str, developer_id: int) -> _Live:
        live = self._live.get(upload_id)
        if live is None:
            async with self._loading:
                live = self._live.get(upload_id)
                if live is None:
                    row = await self.db.run(sql.get, upload_id)
                    if row is None:
                        raise BadState("no open upload with this upload_id: send UPLOAD_BEGIN first")
                    live = await self._load(row)
                    self._live[upload_id] = live
        if live.row.developer_id != developer_id:
            raise Forbidden("this upload belongs to another developer")
        return live

    async def _load(self, row: UploadRow) -> _Live:
        """Reopen an upload from its row (after a restart): cut the part back to the durable length, rehash it."""
        part = self.blobs.upload_part(row.id)

        def open_part() -> tuple[BinaryIO, Any, int]:
            fh: BinaryIO = open(part, "a+b")  # noqa: SIM115  # closed by _discard / end / close
            size = fh.seek(0, os.SEEK_END)
            keep = row.received_bytes if size >= row.received_bytes else 0
            fh.truncate(keep)
            hasher = hashlib.sha256()
            fh.seek(0)
            remaining = keep
            while remaining:
                block = fh.read(min(1 << 20, remaining))
                if not block:
                    break
                hasher.update(block)
                remaining -= len(block)
            fh.seek(0, os.SEEK_END)
            return fh, hasher, keep

        fh, hasher, kept = await asyncio.to_thread(open_part)
        next_seq = row.next_seq
        if kept != row.received_bytes:  # the part lost bytes the row recorded: start this upload over
            log.warning("upload %s: part file shorter than recorded progress, restarting it", row.id)
            next_seq = 0
            await self.db.run(sql.save_progress, row.id, 0, 0, time.time())
        now = time.time()
        return _Live(row, next_seq, kept, fh, hasher, last_activity=now, persisted_at=now)

    async def _discard(self, live: _Live) -> None:
        """Forget an upload for good (cancelled, expired, or refused at END). Caller holds ``live.lock``."""
        live.closed = True
        self._live.pop(live.row.id, None)
        with contextlib.suppress(ServerError):
            await live.settle()
        await live.run(live.fh.close)
        live.stop_writer()
        await self.db.run(sql.delete, live.row.id)
        await asyncio.to_thread(self.blobs.upload_part(live.row.id).unlink, missing_ok=True)

    # --- commands ----------------------------------------------------------------------------------------------
    async def begin(
        self,
        developer_id: int,
        game_id: str,
        version: str,
        size_bytes: int,
        checksum: str | None,
        resume: bool,
    ) -> dict[str, Any]:
        try:
            parts = packages.parse_version(version)
        except packages.PackageError as exc:
            raise InvalidRequest(str(exc)) from None
        limit = self.settings.max_package_bytes
        if size_bytes < 1:
            raise InvalidRequest("size_bytes must be a positive number of bytes")
        if size_bytes > limit:
            raise InvalidRequest(f"the package is {size_bytes} bytes; the limit is {limit} bytes")
        digest = parse_checksum(checksum)
        game = await self.catalog.owned_game(developer_id, game_id)
        if game.latest_version is not None and parts <= packages.parse_version(game.latest_version):
            raise Conflict(
                f"version {version} is not newer than the latest version {game.latest_version}",
                {
                    "latest_version": game.latest_version,
                    "suggested_version": packages.next_version(game.latest_version),
                },
            )
        existing = await self.db.run(sql.get_for_version, game_id, version)
        if existing is not None:
            return await self._reopen(existing, developer_id, size_bytes, digest, resume)
        if (
            await self.db.run(sql.count_for_developer, developer_id)
            >= self.settings.max_open_uploads_per_developer
        ):
            raise BadState(
                f"you already have {self.settings.max_open_uploads_per_developer} unfinished uploads: finish or "
                "cancel one first"
            )
        await self._check_quota(developer_id, size_bytes)
        now = time.time()
        row = UploadRow(
            secrets.token_hex(16), game_id, version, developer_id, size_bytes, digest, 0, 0, now, now
        )
        part = self.blobs.upload_part(row.id)
        await asyncio.to_thread(part.write_bytes, b"")
        if not await self.db.run(sql.insert, row):
            await asyncio.to_thread(part.unlink, missing_ok=True)
            raise Conflict(f"an upload of version {version} is already open")
        return {
            "upload_id": row.id,
            "chunk_size": self.settings.chunk_size,
            "next_seq": 0,
            "received_bytes": 0,
        }

    async def _check_quota(self, developer_id: int, needed: int, exclude_upload: str | None = None) -> None:
        """100 when ``needed`` more bytes would take the developer past ``developer_storage_quota_bytes``."""
        limit = self.settings.developer_storage_quota_bytes
        used = await self.db.run(sql.storage_used, developer_id, exclude_upload)
        if used + needed > limit:
            raise InvalidRequest(
                f"this needs {needed} bytes of storage, but you already use {used} of your {limit}-byte quota: "
                "publish a smaller package or ask the operator for a larger quota",
                {"limit": limit, "used": used, "needed": needed},
            )

    async def _reopen(
        self, row: UploadRow, developer_id: int, size_bytes: int, digest: str | None, resume: bool
    ) -> dict[str, Any]:
        if not resume:
            raise Conflict(
                f'an upload of version {row.version} is already open: resume it with "resume": true or cancel it',
                {"upload_id": row.id},
            )
        if row.size_bytes != size_bytes or row.checksum != digest:
            raise Conflict(
                f"the open upload of version {row.version} announced a different size or checksum: cancel it "
                "(CANCEL_UPLOAD) and begin again",
                {"upload_id": row.id},
            )
        live = await self._get_live(row.id, developer_id)
        async with live.lock:
            if live.closed:
                raise BadState("the upload finished or was cancelled meanwhile")
            live.last_activity = time.time()
            return {
                "upload_id": row.id,
                "chunk_size": self.settings.chunk_size,
                "next_seq": live.next_seq,
                "received_bytes": live.received,
                "resumed": True,
            }

    async def _drop_broken(self, live: _Live) -> None:
        """A write failed: forget the in-memory state; the next request reloads the upload from its durable row
        (which never counts bytes that did not reach the OS), so the client resumes from there."""
        live.closed = True
        self._live.pop(live.row.id, None)
        with contextlib.suppress(ServerError):
            await live.settle()
        with contextlib.suppress(OSError):
            await live.run(live.fh.close)
        live.stop_writer()

    async def chunk(
        self, developer_id: int, upload_id: str, seq: int, data: bytes | memoryview
    ) -> dict[str, Any]:
        """Append one chunk (base64-decoded by the payload schema, or raw from a binary frame)."""
        live = await self._get_live(upload_id, developer_id)
        chunk_size = self.settings.chunk_size
        async with live.lock:
            if live.closed:
                raise BadState("this upload is finished or cancelled")
            if seq != live.next_seq:
                raise ChunkOutOfOrder(
                    f"expected chunk seq {live.next_seq}, got {seq}", {"expected_seq": live.next_seq}
                )
            if not len(data):
                raise InvalidRequest("the chunk is empty")
            if len(data) > chunk_size:
                raise InvalidRequest(f"chunk of {len(data)} bytes is larger than chunk_size ({chunk_size})")
            if len(data) > live.row.size_bytes - live.received:
                raise ChecksumMismatch(
                    f"this chunk brings the upload past the announced size_bytes ({live.row.size_bytes})"
                )
            # The writer thread hashes and appends while this loop receives the next chunk; the answer does not
            # wait for the disk unless too many chunks are queued.
            live.submit(data)
            live.next_seq += 1
            live.received += len(data)
            now = time.time()
            live.last_activity = now
            try:
                await live.settle(self.settings.upload_write_queue)
                if now - live.persisted_at >= self.settings.upload_persist_interval_s or live.received == live.row.size_bytes:
                    # Bytes reach the OS before the row claims them: a crash can only lose progress, never invent it.
                    await live.settle()
                    await live.run(live.fh.flush)
                    await self.db.run(sql.save_progress, upload_id, live.next_seq, live.received, now)
                    live.persisted_at = now
            except (ServerError, OSError) as exc:
                await self._drop_broken(live)
                if isinstance(exc, ServerError):
                    raise
                raise ServerError(f"the server could not store the chunk: {exc.strerror or exc}") from None
            return {"next_seq": live.next_seq, "received_bytes": live.received}

    async def cancel(self, developer_id: int, upload_id: str) -> dict[str, Any]:
        live = await self._get_live(upload_id, developer_id)
        async with live.lock:
            if live.closed:
                raise BadState("this upload is already finished or cancelled")
            await self._discard(live)
        return {"upload_id": upload_id, "cancelled": True}

    async def end(self, developer_id: int, upload_id: str) -> dict[str, Any]:
        live = await self._get_live(upload_id, developer_id)
        async with live.lock:
            if live.closed:
                raise BadState("this upload is already finished or cancelled")
            row = live.row
            try:
                await live.settle()
            except ServerError:
                await self._drop_broken(live)
                raise
            if live.received != row.size_bytes:
                # Not fatal: the client may still send the missing chunks and end again.
                raise ChecksumMismatch(
                    f"received {live.received} of the {row.size_bytes} bytes announced",
                    {"received_bytes": live.received, "next_seq": live.next_seq},
                )
            digest = live.hasher.hexdigest()
            if row.checksum is not None and digest != row.checksum:
                await self._discard(live)
                raise ChecksumMismatch(
                    f"the package's SHA-256 is {digest}, not the announced {row.checksum}; the upload is discarded"
                )
            await live.run(live.fh.close)
            live.stop_writer()
            lock = self._publish_locks.setdefault(row.game_id, asyncio.Lock())
            try:
                async with lock:
                    await self._publish(row, digest)
            except PlayHubError:
                # The archive was refused, or a newer version landed first: these bytes can never become a version.
                await self._discard(live)
                raise
            except BaseException:
                # An unexpected failure (disk full, cancellation): the files went back to the part and the row is
                # intact, so forget the in-memory state and let the next request reload the upload from disk.
                live.closed = True
                self._live.pop(upload_id, None)
                raise
            live.closed = True
            self._live.pop(upload_id, None)
        self.events.emit("catalog_changed", row.game_id)
        log.info("published %s version %s (%d bytes)", row.game_id, row.version, row.size_bytes)
        return {
            "version": row.version,
            "is_latest": True,
            "game_id": row.game_id,
            "size_bytes": row.size_bytes,
            "checksum": digest,
        }

    async def _publish(self, row: UploadRow, digest: str) -> None:
        game = await self.db.run(catalog_sql.get_game, row.game_id)
        assert game is not None
        parts = packages.parse_version(row.version)
        if game.latest_version is not None and parts <= packages.parse_version(game.latest_version):
            raise Conflict(
                f"version {row.version} is no longer newer than the latest version {game.latest_version}"
            )
        part = self.blobs.upload_part(row.id)
        stage = self.blobs.tmp / f"{_STAGE_PREFIX}{row.id}"
        target = self.blobs.version_dir(row.game_id, row.version)
        archive = self.blobs.archive(row.game_id, row.version)
        max_players = self.settings.max_players_limit

        def unpack() -> tuple[packages.Manifest, int]:
            manifest = packages.inspect_zip(part, self.limits, max_players)
            if manifest.name != game.name:
                raise packages.PackageError(
                    f"the manifest names the game '{manifest.name}', but this upload is for '{game.name}'"
                )
            packages.remove_tree(stage)
            try:
                # Every file and folder reaches the disk before the rename and the commit that acknowledge it.
                unpacked = packages.safe_extract(part, stage, self.limits, durable=True)
                for key, entry in (
                    ("entry_server", manifest.entry_server),
                    ("entry_client", manifest.entry_client),
                ):
                    if not (stage / entry).is_file():
                        raise packages.PackageError(f"manifest {key} '{entry}' is not a file in the package")
            except BaseException:
                packages.remove_tree(stage)
                raise
            return manifest, unpacked

        try:
            manifest, unpacked = await asyncio.to_thread(unpack)
        except packages.PackageError as exc:
            raise InvalidRequest(str(exc)) from None
        try:
            await self._check_quota(row.developer_id, row.size_bytes + unpacked, exclude_upload=row.id)
        except PlayHubError:
            await asyncio.to_thread(packages.remove_tree, stage)
            raise

        def move_into_place() -> None:
            packages.fsync_path(part)
            fresh = not target.parent.exists()
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # left by a crash that recovery has not seen (it runs at startup only)
                packages.remove_tree(target)
            os.rename(stage, target)
            os.replace(part, archive)
            # The renames are durable once the folders holding the new names are flushed.
            packages.fsync_path(target.parent)
            if fresh:
                packages.fsync_path(target.parent.parent)

        def undo() -> None:
            packages.remove_tree(stage)
            packages.remove_tree(target)
            if archive.exists():
                os.replace(archive, part)

        await asyncio.to_thread(move_into_place)
        manifest_json = json.dumps(manifest.raw, ensure_ascii=False)

        def commit(conn: Any) -> bool:
            if not catalog_sql.insert_version(
                conn,
                row.game_id,
                row.version,
                parts,
                row.size_bytes,
                digest,
                manifest_json,
                time.time(),
                unpacked,
            ):
                return False
            sql.delete(conn, row.id)
            return True

        try:
            published = await self.db.run_durable(commit)
        except BaseException:
            await asyncio.to_thread(undo)
            raise
        if not published:
            await asyncio.to_thread(undo)
            raise Conflict(f"version {row.version} is no longer newer than the game's latest version")

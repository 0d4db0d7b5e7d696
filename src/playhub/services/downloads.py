"""Chunked downloads of published packages.

A download streams the stored archive (``blobs.archive``) chunk by chunk: each chunk is read and encoded in a
worker thread while the previous one is being sent, so the event loop never touches the disk and a download holds at
most two chunks in memory whatever the package size. The caller sends with flow control, so a slow reader slows its
own stream and nobody else's. Binary-mode streams with ``download_sendfile`` use ``open_file`` and ``ranges`` instead:
the connection sends each chunk from the file descriptor to the socket without copying it through Python.
``max_concurrent_downloads`` bounds the streams of the whole server and ``max_downloads_per_connection``,
``max_downloads_per_account`` and ``max_downloads_per_ip`` those of one client, so one account or one address cannot
pin every slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from playhub.packages import is_version
from playhub.protocol.checksums import normalize_checksum
from playhub.protocol.errors import BadState, InvalidRequest, NotFound, RateLimited, ServerError
from playhub.services.quotas import Tally, ip_key, over
from playhub.settings import Settings
from playhub.store import storefront
from playhub.store.blobs import BlobStore
from playhub.store.db import Database

log = logging.getLogger("playhub.downloads")


@dataclass(slots=True)
class Download:
    id: str
    account_id: int
    game_id: str
    version: str
    path: Path
    size_bytes: int
    checksum: str
    chunk_size: int
    start_seq: int
    binary: bool = False
    sent_bytes: int = 0
    ip: str = ""  # per-IP quota key

    @property
    def chunk_count(self) -> int:
        return -(-self.size_bytes // self.chunk_size)


ChunkEncoder = Callable[[int, bytes], bytes]


def _read_encoded(fd: int, offset: int, length: int, seq: int, encode: ChunkEncoder) -> bytes:
    """Read one chunk and encode it (in a worker thread). A short read means the stored file is damaged."""
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise ServerError("the stored package is shorter than its catalogue entry: it cannot be served")
    return encode(seq, data)


class DownloadService:
    def __init__(self, settings: Settings, db: Database, blobs: BlobStore) -> None:
        self.settings = settings
        self.db = db
        self.blobs = blobs
        self.active: dict[str, Download] = {}
        self._per_account = Tally()
        self._per_ip = Tally()

    async def begin(
        self,
        account_id: int,
        game_id: str,
        version: str | None,
        start_seq: int,
        open_on_connection: int,
        binary: bool = False,
        ip: str = "",
    ) -> Download:
        """Check the request and reserve a stream slot; the caller must call ``finish`` when the stream ends."""
        if version is not None and not is_version(version):
            raise InvalidRequest(f"version '{version}' is not of the form major.minor.patch")
        if start_seq < 0:
            raise InvalidRequest("'start_seq' must be 0 or more")
        target = await self.db.run(storefront.download_target, game_id, version)
        if target is None:
            raise NotFound(f"no game with id '{game_id}' in the store")
        status, row = target
        if status != "ONLINE":
            raise BadState("this game has been delisted: it cannot be downloaded")
        if row is None:
            if version is None:
                raise NotFound("this game has no published version yet")
            raise NotFound(f"this game has no version {version}")
        chunk_size = self.settings.download_chunk_size
        chunks = -(-row.size_bytes // chunk_size)
        if start_seq > chunks:
            raise InvalidRequest(f"'start_seq' {start_seq} is past the last chunk ({chunks} chunks)")
        path = self.blobs.archive(game_id, row.version)
        if not await asyncio.to_thread(path.is_file):
            log.error("package %s/%s is in the catalogue but %s is missing", game_id, row.version, path)
            raise ServerError("the stored package is missing on the server")
        # No await between the limit checks and the reservation, so concurrent requests cannot overshoot.
        if len(self.active) >= self.settings.max_concurrent_downloads:
            raise RateLimited(1.0, "the server is busy with other downloads: try again shortly")
        if open_on_connection >= self.settings.max_downloads_per_connection:
            raise RateLimited(
                1.0,
                f"at most {self.settings.max_downloads_per_connection} downloads at once per connection",
            )
        ip = ip_key(ip)
        if over(self._per_account, account_id, self.settings.max_downloads_per_account):
            raise RateLimited(
                1.0, f"at most {self.settings.max_downloads_per_account} downloads at once per account"
            )
        if over(self._per_ip, ip, self.settings.max_downloads_per_ip):
            raise RateLimited(
                1.0, f"at most {self.settings.max_downloads_per_ip} downloads at once per address"
            )
        dl = Download(
            id=secrets.token_hex(8),
            account_id=account_id,
            game_id=game_id,
            version=row.version,
            path=path,
            size_bytes=row.size_bytes,
            checksum=normalize_checksum(row.checksum),
            chunk_size=chunk_size,
            start_seq=start_seq,
            binary=binary,
            ip=ip,
        )
        self.active[dl.id] = dl
        self._per_account.add(account_id)
        self._per_ip.add(ip)
        return dl

    def finish(self, dl: Download) -> None:
        if self.active.pop(dl.id, None) is not None:
            self._per_account.remove(dl.account_id)
            self._per_ip.remove(dl.ip)

    @contextlib.asynccontextmanager
    async def open_file(self, dl: Download) -> AsyncIterator[int]:
        """The package's file descriptor, checked to hold at least ``size_bytes`` (else 199 before any byte is sent)
        and announced to the kernel for read-ahead, so sending from it rarely waits for the disk."""

        def open_checked() -> int:
            fd = os.open(dl.path, os.O_RDONLY)
            try:
                if os.fstat(fd).st_size < dl.size_bytes:
                    raise ServerError(
                        "the stored package is shorter than its catalogue entry: it cannot be served"
                    )
                offset = dl.start_seq * dl.chunk_size
                if hasattr(os, "posix_fadvise"):
                    os.posix_fadvise(fd, offset, dl.size_bytes - offset, os.POSIX_FADV_SEQUENTIAL)
                    os.posix_fadvise(fd, offset, dl.size_bytes - offset, os.POSIX_FADV_WILLNEED)
            except BaseException:
                os.close(fd)
                raise
            return fd

        fd = await asyncio.to_thread(open_checked)
        try:
            yield fd
        finally:
            os.close(fd)

    @staticmethod
    def ranges(dl: Download) -> Iterator[tuple[int, int, int]]:
        """``(seq, offset, length)`` of every chunk still to send."""
        seq = dl.start_seq
        while (offset := seq * dl.chunk_size) < dl.size_bytes:
            yield seq, offset, min(dl.chunk_size, dl.size_bytes - offset)
            seq += 1

    async def chunks(self, dl: Download, encode: ChunkEncoder) -> AsyncIterator[bytes]:
        """Yield ``encode(seq, data)`` for each chunk from ``dl.start_seq`` on, reading and encoding the next chunk
        in a worker thread while this one is sent. The caller supplies ``encode`` (the wire shape is not ours)."""
        loop = asyncio.get_running_loop()
        fd = await asyncio.to_thread(os.open, dl.path, os.O_RDONLY)
        pending: asyncio.Future[bytes] | None = None

        def read(seq: int) -> asyncio.Future[bytes] | None:
            offset = seq * dl.chunk_size
            if offset >= dl.size_bytes:
                return None
            length = min(dl.chunk_size, dl.size_bytes - offset)
            return loop.run_in_executor(None, _read_encoded, fd, offset, length, seq, encode)

        try:
            seq = dl.start_seq
            pending = read(seq)
            while pending is not None:
                data = await pending
                pending = read(seq + 1)
                yield data
                dl.sent_bytes += min(dl.chunk_size, dl.size_bytes - seq * dl.chunk_size)
                seq += 1
        finally:
            # A read still running in its thread owns the descriptor until it returns; close it after that.
            if pending is not None and not pending.done():
                pending.add_done_callback(lambda fut: (fut.cancelled() or fut.exception(), os.close(fd)))
            else:
                if pending is not None and not pending.cancelled():
                    pending.exception()  # a prefetched chunk nobody will send: its error is not news
                os.close(fd)

"""Files shared in a chat channel (seed 001's ``FILE``/``SEND_FILE``/``GET_FILE``): chunked upload, then any member
downloads them piece by piece.

An upload goes to a part file in the data folder's ``tmp/`` (written in a worker thread), checked against the size and
SHA-256 it announced, and becomes, in one transaction, the file's rows (its bytes in pieces of
``chat_file_chunk_size``) and the message that shares it; then every member gets ``CHAT_MESSAGE`` (with ``file_id``) and
``CHAT_FILE_AVAILABLE``. A file lives as long as its message: retention and a closing channel remove both.

Limits: ``chat_file_max_bytes`` per file (100), ``chat_file_quota_bytes`` per uploader over the files still kept plus
its open uploads (105), ``chat_open_uploads_per_user`` (105), ``chat_upload_expiry_s`` for an idle upload. Posting a
file counts as a message for mutes and flood control.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playhub.names import find_unsafe
from playhub.protocol.chat import (
    ChatFileInfo,
    FileList,
    FilePiece,
    FileShared,
    UploadProgress,
    UploadStarted,
)
from playhub.protocol.errors import (
    BadState,
    ChecksumMismatch,
    ChunkOutOfOrder,
    Forbidden,
    InvalidRequest,
    NotFound,
)
from playhub.protocol.pushes import ChatFileAvailable
from playhub.services.chat import ChatService, ChatUser
from playhub.settings import Settings
from playhub.store import chat as repo

log = logging.getLogger("playhub.chat")

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(eq=False, slots=True)
class Upload:
    upload_id: str
    user: ChatUser
    channel_id: int
    filename: str
    size_bytes: int
    sha256: str | None
    part: Path
    received: int = 0
    next_seq: int = 0
    touched: float = 0.0
    digest: Any = field(default_factory=hashlib.sha256)
    busy: bool = False


class ChatFileService:
    def __init__(self, settings: Settings, chat: ChatService, tmp_dir: Path) -> None:
        self.settings = settings
        self.chat = chat
        self.tmp_dir = tmp_dir
        self._uploads: dict[str, Upload] = {}

    # --- uploading -----------------------------------------------------------------------------------------------
    async def begin(
        self, user: ChatUser, channel: str, filename: str, size_bytes: int, sha256: str | None
    ) -> UploadStarted:
        s = self.settings
        ch = self.chat.member_channel(user, channel)
        _check_filename(filename, s.chat_file_name_max)
        if not 0 < size_bytes <= s.chat_file_max_bytes:
            raise InvalidRequest(f"a shared file is 1 byte to {s.chat_file_max_bytes} bytes (got {size_bytes})")
        expected = None
        if sha256 is not None:
            expected = sha256.lower().removeprefix("sha256:")
            if not _SHA256.fullmatch(expected):
                raise InvalidRequest("sha256 must be 64 hex digits")
        mine = [u for u in self._uploads.values() if u.user.key == user.key]
        if s.chat_open_uploads_per_user > 0 and len(mine) >= s.chat_open_uploads_per_user:
            raise BadState(f"you already have {len(mine)} chat uploads open: finish or cancel one first")
        kept = await self.chat.writer.call(repo.uploader_bytes, user.key)
        held = kept + sum(u.size_bytes for u in mine)
        if s.chat_file_quota_bytes > 0 and held + size_bytes > s.chat_file_quota_bytes:
            raise BadState(
                f"over your file quota: {held} of {s.chat_file_quota_bytes} bytes used, this file needs {size_bytes}"
            )
        upload_id = secrets.token_hex(12)
        part = self.tmp_dir / f"chat-{upload_id}.part"
        await asyncio.to_thread(_create, part)
        self._uploads[upload_id] = Upload(
            upload_id, user, ch.id, filename, size_bytes, expected, part, touched=time.monotonic()
        )
        return UploadStarted(upload_id, s.chat_file_chunk_size)

    def _upload(self, user: ChatUser, upload_id: str) -> Upload:
        up = self._uploads.get(upload_id)
        if up is None or up.user.key != user.key:
            raise BadState(f"no open chat upload '{upload_id[:40]}': begin with CHAT_FILE_BEGIN")
        if up.busy:
            raise BadState("this upload is busy with another request: wait for its answer")
        return up

    async def chunk(self, user: ChatUser, upload_id: str, seq: int, data_b64: str) -> UploadProgress:
        up = self._upload(user, upload_id)
        if seq != up.next_seq:
            raise ChunkOutOfOrder(f"expected chunk {up.next_seq}, got {seq}", {"expected_seq": up.next_seq})
        try:
            data = base64.b64decode(data_b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("data_b64 is not valid base64") from None
        if len(data) > self.settings.chat_file_chunk_size:
            raise InvalidRequest(f"a chunk is at most {self.settings.chat_file_chunk_size} bytes")
        if up.received + len(data) > up.size_bytes:
            raise InvalidRequest(f"more bytes than the {up.size_bytes} announced")
        up.busy = True
        try:
            await asyncio.to_thread(_append, up.part, data)
        finally:
            up.busy = False
        up.digest.update(data)
        up.received += len(data)
        up.next_seq += 1
        up.touched = time.monotonic()
        return UploadProgress(upload_id, up.received, up.next_seq)

    async def end(self, user: ChatUser, upload_id: str) -> FileShared:
        up = self._upload(user, upload_id)
        if up.received != up.size_bytes:
            raise ChecksumMismatch(f"received {up.received} bytes, {up.size_bytes} were announced")
        digest = up.digest.hexdigest()
        if up.sha256 is not None and digest != up.sha256:
            self._drop(up)
            raise ChecksumMismatch("the file's SHA-256 differs from the one announced: upload it again")
        ch = self.chat.channel_by_id(up.channel_id)
        if ch is None:
            self._drop(up)
            raise NotFound("the channel of this upload is gone")
        self.chat.member_channel(user, ch.name)
        self.chat.admit_post(user, ch)
        up.busy = True
        now = time.time()
        nickname = self.chat.nickname(user)
        try:
            file_id, message_id = await self.chat.writer.call(
                repo.share_file,
                str(up.part),
                self.settings.chat_file_chunk_size,
                ch.id,
                user.key,
                user.username,
                nickname,
                up.filename,
                digest,
                now,
            )
        finally:
            self._drop(up)
        msg = repo.NewMessage(ch.id, user.key, user.username, nickname, up.filename, now, False, file_id)
        message = self.chat.published(ch, message_id, msg)
        info = self._info(ch.name, file_id, up.filename, up.size_bytes, digest, user.username, message_id, now)
        self.chat.publish_to(
            ch,
            ChatFileAvailable(ch.name, file_id, up.filename, up.size_bytes, digest, user.username, message_id),
        )
        return FileShared(info, message)

    async def cancel(self, user: ChatUser, upload_id: str) -> None:
        self._drop(self._upload(user, upload_id))

    def _drop(self, up: Upload) -> None:
        self._uploads.pop(up.upload_id, None)
        with contextlib.suppress(OSError):
            up.part.unlink()  # a small unlink: not worth a thread hop

    def expire(self, now: float | None = None) -> int:
        """Drop uploads idle for longer than ``chat_upload_expiry_s`` (housekeeping)."""
        now = time.monotonic() if now is None else now
        idle = [
            u
            for u in self._uploads.values()
            if not u.busy and now - u.touched > self.settings.chat_upload_expiry_s
        ]
        for up in idle:
            self._drop(up)
        return len(idle)

    def close(self) -> None:
        for up in list(self._uploads.values()):
            self._drop(up)

    # --- reading -------------------------------------------------------------------------------------------------
    async def list(self, user: ChatUser, channel: str) -> FileList:
        ch = self.chat.member_channel(user, channel)
        rows = await self.chat.writer.call(repo.list_files, ch.id, self.settings.chat_files_page_max)
        return FileList(ch.name, [self._row_info(ch.name, r) for r in rows])

    async def piece(self, user: ChatUser, file_id: int, seq: int) -> FilePiece:
        row = await self.chat.writer.call(repo.get_file, file_id)
        ch = None if row is None else self.chat.channel_by_id(row.channel_id)
        if row is None or ch is None:
            raise NotFound(f"no file {file_id}")
        if not self.chat.is_member(ch, user.key):
            raise Forbidden(f"you are not a member of '{ch.name}'")
        pieces = _pieces(row.size_bytes, row.piece_size)
        if not 0 <= seq < pieces:
            raise NotFound(f"file {file_id} has pieces 0 to {pieces - 1}")
        data = await self.chat.writer.call(repo.file_piece, file_id, seq)
        if data is None:
            raise NotFound(f"no file {file_id}")
        return FilePiece(file_id, seq, data, seq == pieces - 1)

    def _row_info(self, channel: str, r: repo.FileRow) -> ChatFileInfo:
        return ChatFileInfo(
            r.id,
            channel,
            r.filename,
            r.size_bytes,
            r.sha256,
            r.uploader,
            _pieces(r.size_bytes, r.piece_size),
            r.piece_size,
            r.message_id,
            r.created_at,
        )

    def _info(
        self,
        channel: str,
        file_id: int,
        filename: str,
        size: int,
        sha256: str,
        uploader: str,
        message_id: int,
        now: float,
    ) -> ChatFileInfo:
        piece_size = self.settings.chat_file_chunk_size
        return ChatFileInfo(
            file_id, channel, filename, size, sha256, uploader, _pieces(size, piece_size), piece_size, message_id, now
        )


def _pieces(size: int, piece_size: int) -> int:
    return max(1, -(-size // max(1, piece_size)))


def _check_filename(name: str, limit: int) -> None:
    if not name or len(name) > limit:
        raise InvalidRequest(f"a file name is 1 to {limit} characters")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidRequest("a file name cannot contain '/' or '\\'")
    bad = find_unsafe(name)
    if bad is not None:
        raise InvalidRequest(f"control character U+{ord(bad):04X} is not allowed in a file name")


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)

"""Client side of the chat: a typed method for every chat command, typed chat pushes, whole-file upload and download.

``ChatClient(client)`` wraps a logged-in lobby ``Client``. Answers come back as the Structs of ``protocol/chat.py``;
errors raise the typed exceptions of ``protocol/errors.py`` (``NotFound`` for 103, ``Forbidden`` for 102,
``RateLimited`` with ``retry_after_s`` for 106, ...). ``pushes()`` gives a queue of typed chat pushes
(``protocol.pushes.ChatMessage``, ``ChatMemberJoined``, ...), so the player app's chat pane and ``playhub play chat``
read structs, not dicts.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from playhub.client.connection import CLOSED_SENTINEL, Client, ConnectionLost
from playhub.protocol.chat import (
    ChannelInfo,
    ChannelJoined,
    ChannelList,
    ChatFileInfo,
    ChatMessageInfo,
    ChatOpened,
    FileList,
    FilePiece,
    FileShared,
    HistoryPage,
    MemberList,
    NicknameReply,
    ReadReply,
    UnreadCounts,
    UploadProgress,
    UploadStarted,
)
from playhub.protocol.errors import ChecksumMismatch
from playhub.protocol.pushes import PUSHES, Push

T = TypeVar("T")

# Every chat push by wire name.
CHAT_PUSHES: dict[str, type[Push]] = {name: cls for name, cls in PUSHES.items() if name.startswith("CHAT_")}


def decode_push(type_: str, payload: dict[str, Any]) -> Push | None:
    """A chat push as its Struct (None for other pushes)."""
    cls = CHAT_PUSHES.get(type_)
    return None if cls is None else msgspec.convert(payload, cls)


class ChatClient:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def _call(self, type_: str, payload: dict[str, Any], result: type[T]) -> T:
        out = await self.client.request(type_, payload)
        return msgspec.convert(out, result)

    # --- channels --------------------------------------------------------------------------------------------
    async def open(self) -> ChatOpened:
        """Attach this connection to the chat (pushes from now on); who you are and your channels with unread."""
        return await self._call("CHAT_OPEN", {}, ChatOpened)

    async def channels(self) -> ChannelList:
        """Listed channels (``channels``) and your own with unread counts (``joined``)."""
        return await self._call("CHAT_CHANNELS", {}, ChannelList)

    async def join(self, channel: str) -> ChannelJoined:
        return await self._call("CHAT_JOIN", {"channel": channel}, ChannelJoined)

    async def leave(self, channel: str) -> None:
        await self.client.request("CHAT_LEAVE", {"channel": channel})

    async def members(self, channel: str) -> MemberList:
        return await self._call("CHAT_MEMBERS", {"channel": channel}, MemberList)

    async def invite(self, channel: str, username: str) -> str:
        out = await self.client.request("CHAT_INVITE", {"channel": channel, "username": username})
        return str(out["username"])

    async def set_visibility(self, channel: str, visibility: str) -> ChannelInfo:
        """``"public"`` or ``"private"`` (owner only)."""
        out = await self.client.request("CHAT_SET_VISIBILITY", {"channel": channel, "visibility": visibility})
        return msgspec.convert(out["channel"], ChannelInfo)

    # --- messages --------------------------------------------------------------------------------------------
    async def send(self, channel: str, text: str) -> ChatMessageInfo:
        out = await self.client.request("CHAT_SEND", {"channel": channel, "text": text})
        return msgspec.convert(out["message"], ChatMessageInfo)

    async def send_direct(self, to: str, text: str) -> ChatMessageInfo:
        """A message to one user (your direct conversation ``dm:...`` with them)."""
        out = await self.client.request("CHAT_SEND", {"to": to, "text": text})
        return msgspec.convert(out["message"], ChatMessageInfo)

    async def history(self, channel: str, before_id: int | None = None, limit: int = 50) -> HistoryPage:
        payload: dict[str, Any] = {"channel": channel, "limit": limit}
        if before_id is not None:
            payload["before_id"] = before_id
        return await self._call("CHAT_HISTORY", payload, HistoryPage)

    async def all_history(self, channel: str, page: int = 100) -> list[ChatMessageInfo]:
        """Every stored message of a channel, oldest first (pages back with ``before_id``)."""
        messages: list[ChatMessageInfo] = []
        before: int | None = None
        while True:
            got = await self.history(channel, before, page)
            messages[:0] = got.messages
            if not got.has_more or not got.messages:
                return messages
            before = got.messages[0].id

    async def read(self, channel: str, up_to_id: int | None = None) -> ReadReply:
        payload: dict[str, Any] = {"channel": channel}
        if up_to_id is not None:
            payload["up_to_id"] = up_to_id
        return await self._call("CHAT_READ", payload, ReadReply)

    async def unread(self) -> dict[str, int]:
        return (await self._call("CHAT_UNREAD", {}, UnreadCounts)).unread

    async def set_nickname(self, nickname: str | None) -> str | None:
        return (await self._call("SET_NICKNAME", {"nickname": nickname}, NicknameReply)).nickname

    # --- files -----------------------------------------------------------------------------------------------
    async def file_begin(self, channel: str, filename: str, size_bytes: int, sha256: str | None = None) -> UploadStarted:
        payload: dict[str, Any] = {"channel": channel, "filename": filename, "size_bytes": size_bytes}
        if sha256 is not None:
            payload["sha256"] = sha256
        return await self._call("CHAT_FILE_BEGIN", payload, UploadStarted)

    async def file_chunk(self, upload_id: str, seq: int, data: bytes) -> UploadProgress:
        payload = {"upload_id": upload_id, "seq": seq, "data_b64": base64.b64encode(data).decode("ascii")}
        return await self._call("CHAT_FILE_CHUNK", payload, UploadProgress)

    async def file_end(self, upload_id: str) -> FileShared:
        return await self._call("CHAT_FILE_END", {"upload_id": upload_id}, FileShared)

    async def file_cancel(self, upload_id: str) -> None:
        await self.client.request("CHAT_FILE_CANCEL", {"upload_id": upload_id})

    async def files(self, channel: str) -> list[ChatFileInfo]:
        return (await self._call("CHAT_FILES", {"channel": channel}, FileList)).files

    async def file_piece(self, file_id: int, seq: int) -> FilePiece:
        return await self._call("CHAT_FILE_GET", {"file_id": file_id, "seq": seq}, FilePiece)

    async def share_bytes(self, channel: str, filename: str, data: bytes) -> FileShared:
        """Upload ``data`` as a file in ``channel`` (chunked, with its SHA-256)."""
        started = await self.file_begin(channel, filename, len(data), hashlib.sha256(data).hexdigest())
        size = started.chunk_size
        for seq, offset in enumerate(range(0, len(data), size)):
            await self.file_chunk(started.upload_id, seq, data[offset : offset + size])
        return await self.file_end(started.upload_id)

    async def share_file(self, channel: str, path: Path) -> FileShared:
        data = await asyncio.to_thread(path.read_bytes)
        return await self.share_bytes(channel, path.name, data)

    async def fetch_bytes(self, file_id: int, sha256: str | None = None) -> bytes:
        """Download a shared file whole; checked against ``sha256`` when given (``ChecksumMismatch`` otherwise)."""
        parts: list[bytes] = []
        seq = 0
        while True:
            piece = await self.file_piece(file_id, seq)
            parts.append(piece.data_b64)
            if piece.last:
                break
            seq += 1
        data = b"".join(parts)
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise ChecksumMismatch(f"file {file_id} does not match its SHA-256")
        return data

    # --- pushes ----------------------------------------------------------------------------------------------
    def pushes(self) -> asyncio.Queue[Push]:
        """A queue of every chat push from now on, as Structs; ends with ``ConnectionLost`` put in it when the
        connection closes (call ``stop_pushes`` to stop)."""
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def on_push(type_: str, payload: dict[str, Any]) -> None:
            if type_ == CLOSED_SENTINEL:
                return
            push = decode_push(type_, payload)
            if push is not None:
                queue.put_nowait(push)

        self._remove = self.client.on_push(on_push)
        return queue

    def stop_pushes(self) -> None:
        remove: Callable[[], None] | None = getattr(self, "_remove", None)
        if remove is not None:
            remove()

    async def wait(
        self, kind: type[T], predicate: Callable[[T], bool] | None = None, timeout: float = 10.0
    ) -> T:
        """The next chat push of Struct ``kind`` satisfying ``predicate``."""
        name: str = kind.name  # type: ignore[attr-defined]
        payload = await self.client.wait_push(
            name,
            None if predicate is None else (lambda p: predicate(msgspec.convert(p, kind))),
            timeout,
        )
        return msgspec.convert(payload, kind)


__all__ = ["CHAT_PUSHES", "ChatClient", "ConnectionLost", "decode_push"]

"""Payload schemas of the chat area: requests, and the results the commands answer and the chat pushes carry."""

from __future__ import annotations

from typing import Literal

import msgspec

from playhub.protocol.schemas import Int64, Payload

# --- requests ---------------------------------------------------------------------------------------------------------


class ChannelRef(Payload):
    channel: str


class ChatSend(Payload):
    """Exactly one of ``channel`` (a channel you are in) and ``to`` (a user: the direct conversation with them)."""

    text: str
    channel: str | None = None
    to: str | None = None


class ChatHistory(Payload):
    channel: str
    before_id: Int64 | None = None
    limit: Int64 = 50


class ChatInvite(Payload):
    channel: str
    username: str


class ChatVisibility(Payload):
    channel: str
    visibility: Literal["public", "private"]


class ChatRead(Payload):
    channel: str
    up_to_id: Int64 | None = None  # default: the channel's newest message


class SetNickname(Payload):
    nickname: str | None  # null clears it


class ChatFileBegin(Payload):
    channel: str
    filename: str
    size_bytes: Int64
    sha256: str | None = None


class ChatFileChunk(Payload):
    upload_id: str
    seq: Int64
    data_b64: str


class UploadRef(Payload):
    upload_id: str


class ChatFileGet(Payload):
    file_id: Int64
    seq: Int64 = 0


# --- results ----------------------------------------------------------------------------------------------------------


class ChatMessageInfo(msgspec.Struct, omit_defaults=True):
    """One message as answers and the ``CHAT_MESSAGE`` push show it."""

    id: int
    channel: str
    sender: str  # username ("" for a system message)
    nickname: str | None
    text: str
    sent_at: float  # server time, seconds since the epoch
    system: bool
    file_id: int | None = None


class ChannelInfo(msgspec.Struct, omit_defaults=True):
    channel: str
    kind: str  # general | public | private | room | direct
    owner: str | None
    member_count: int
    unread: int | None = None  # in the caller's own list only
    peer: str | None = None  # direct conversations: the other user


class ChatFileInfo(msgspec.Struct):
    file_id: int
    channel: str
    filename: str
    size_bytes: int
    sha256: str
    uploader: str
    pieces: int
    piece_size: int
    message_id: int | None
    created_at: float


class MemberInfo(msgspec.Struct):
    username: str
    nickname: str | None
    online: bool
    guest: bool


class ChatOpened(msgspec.Struct):
    """``CHAT_OPEN``: who you are in the chat and your channels with their unread counts."""

    username: str
    nickname: str | None
    channels: list[ChannelInfo]


class ChannelList(msgspec.Struct):
    """``CHAT_CHANNELS``: the listed (public) channels, and the caller's own with unread counts."""

    channels: list[ChannelInfo]
    joined: list[ChannelInfo]


class ChannelJoined(msgspec.Struct):
    channel: ChannelInfo
    created: bool


class ChannelReply(msgspec.Struct):
    channel: ChannelInfo


class MessageReply(msgspec.Struct):
    message: ChatMessageInfo


class HistoryPage(msgspec.Struct):
    channel: str
    messages: list[ChatMessageInfo]  # oldest first
    has_more: bool  # older messages exist: ask again with before_id = messages[0].id


class UnreadCounts(msgspec.Struct):
    unread: dict[str, int]


class ReadReply(msgspec.Struct):
    channel: str
    last_read_id: int
    unread: int


class MemberList(msgspec.Struct):
    channel: str
    members: list[MemberInfo]


class NicknameReply(msgspec.Struct):
    username: str
    nickname: str | None


class UploadStarted(msgspec.Struct):
    upload_id: str
    chunk_size: int


class UploadProgress(msgspec.Struct):
    upload_id: str
    received_bytes: int
    next_seq: int


class FileShared(msgspec.Struct):
    file: ChatFileInfo
    message: ChatMessageInfo


class FileList(msgspec.Struct):
    channel: str
    files: list[ChatFileInfo]


class FilePiece(msgspec.Struct):
    """``CHAT_FILE_GET``: one piece of a file (base64 in ``data_b64``); ``last`` on the final piece."""

    file_id: int
    seq: int
    data_b64: bytes
    last: bool

"""Every push the server sends, one msgspec Struct each, registered under its wire name.

A push travels as ``{"type": NAME, "payload": {...}}`` (see ``envelope.encode_push``); the Struct is the payload, its
fields in wire order. Fields that are sometimes absent default to ``msgspec.UNSET`` and are left out when unset.
``PUSHES`` maps each wire name to its Struct: docs/protocol.md is checked against it (tests/test_protocol_doc.py).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import msgspec

from playhub.protocol.chat import ChannelInfo
from playhub.protocol.lobby import RoomInfo
from playhub.protocol.p2p import PeerAddress
from playhub.protocol.schemas import Int64


class Push(msgspec.Struct, omit_defaults=True):
    """Base of every push payload; ``name`` is the wire ``type``."""

    name: ClassVar[str]


PUSHES: dict[str, type[Push]] = {}

P = TypeVar("P", bound=type[Push])


def push(name: str):  # type: ignore[no-untyped-def]  # a class decorator keeps the class type
    """Register a push Struct under its wire name."""

    def register(cls: P) -> P:
        if name in PUSHES:
            raise RuntimeError(f"push {name} declared twice")
        cls.name = name
        PUSHES[name] = cls
        return cls

    return register


# --- lobby ------------------------------------------------------------------------------------------------------------
@push("ROOM_UPDATED")
class RoomUpdated(Push):
    room: RoomInfo
    reason: str | msgspec.UnsetType = msgspec.UNSET  # only when the game server failed to start


@push("PLAYER_PRESENCE")
class PlayerPresence(Push):
    online: list[str]
    offline: list[str]


@push("VOTE_REQUEST")
class VoteRequest(Push):
    seq: int
    action: str
    room_id: str
    by: str
    timeout_s: float


@push("VOTE_RESULT")
class VoteResult(Push):
    seq: int
    room_id: str
    accepted: bool
    reason: str


@push("GAME_STARTED")
class GameStarted(Push):
    room_id: str
    game_id: str
    game_name: str
    version: str
    game_host: str | None
    game_port: int | None
    ticket: str


@push("GAME_ENDED")
class GameEnded(Push):
    room_id: str
    reason: str
    results: dict[str, Any] | None
    exit_code: int | None


# --- downloads --------------------------------------------------------------------------------------------------------
@push("DOWNLOAD_CHUNK")
class DownloadChunk(Push):
    """msgspec writes ``bytes`` as base64 text, which is what ``data_b64`` carries, in one pass."""

    download_id: str
    seq: Int64
    data_b64: bytes


class DownloadChunkPush(msgspec.Struct):
    """A whole ``DOWNLOAD_CHUNK`` frame as one Struct: encoded by the worker thread that read the chunk, and decoded
    in one pass by clients that stream many of them."""

    type: str
    payload: DownloadChunk


@push("DOWNLOAD_END")
class DownloadEnd(Push):
    download_id: str
    version: str
    checksum: str


@push("DOWNLOAD_ERROR")
class DownloadError(Push):
    download_id: str
    code: int
    message: str


# --- chat -------------------------------------------------------------------------------------------------------------
@push("CHAT_MESSAGE")
class ChatMessage(Push):
    """A message in a channel the receiver is in (its sender's connections get it too: match it by ``id``)."""

    id: int
    channel: str
    sender: str
    nickname: str | None
    text: str
    sent_at: float
    system: bool
    file_id: int | None = None


@push("CHAT_MEMBER_JOINED")
class ChatMemberJoined(Push):
    channel: str
    username: str
    nickname: str | None
    member_count: int
    guest: bool


@push("CHAT_MEMBER_LEFT")
class ChatMemberLeft(Push):
    channel: str
    username: str
    nickname: str | None
    member_count: int
    reason: str


@push("CHAT_RENAMED")
class ChatRenamed(Push):
    username: str
    old_nickname: str | None
    nickname: str | None


@push("CHAT_INVITED")
class ChatInvited(Push):
    channel: str
    by: str


@push("CHAT_CHANNEL_UPDATED")
class ChatChannelUpdated(Push):
    channel: ChannelInfo


@push("CHAT_CHANNEL_CLOSED")
class ChatChannelClosed(Push):
    channel: str
    reason: str


@push("CHAT_FILE_AVAILABLE")
class ChatFileAvailable(Push):
    channel: str
    file_id: int
    filename: str
    size_bytes: int
    sha256: str
    uploader: str
    message_id: int | None


# --- accounts, roles and moderation -----------------------------------------------------------------------------------
@push("PERMISSIONS_CHANGED")
class PermissionsChanged(Push):
    """The account's role or its role's permissions changed (seed 002 ``auth_permissions``)."""

    role: str
    permissions: list[str]


@push("SESSION_CLOSED")
class SessionClosed(Push):
    """Sent just before the server ends a session: ``kind`` is ``banned`` or ``kicked``."""

    kind: str
    reason: str


@push("ANNOUNCEMENT")
class Announcement(Push):
    message: str
    by: str

# --- peer-to-peer (docs/p2p.md) ---------------------------------------------------------------------------------------
@push("P2P_INVITE")
class P2PInvite(Push):
    session_id: str
    role: str  # "caller" | "callee"
    token: str  # the session's one-time secret, the same for both sides
    peer: PeerAddress
    room_id: str | None
    timeout_s: float


@push("P2P_PEER")
class P2PPeer(Push):
    """The other side's listener: dial ``peer.ip``:``peer.port`` (port 0: it cannot listen)."""

    session_id: str
    peer: PeerAddress


@push("P2P_RESULT")
class P2PResult(Push):
    session_id: str
    outcome: str  # "direct" | "relayed" | "failed"
    code: int  # 0, or why it failed (a status code)
    reason: str


@push("P2P_CLOSED")
class P2PClosed(Push):
    """A relayed session ended."""

    session_id: str
    code: int
    reason: str
    bytes: int


@push("P2P_SIGNAL")
class P2PSignalled(Push):
    """Signalling data (a WebRTC offer, answer or ICE candidate) from another player, as sent."""

    sender: str = msgspec.field(name="from")
    data: Any

"""Payload schemas of peer-to-peer connections (docs/p2p.md): the requests and what they answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from playhub.protocol.schemas import Payload

Port = Annotated[int, msgspec.Meta(ge=0, le=65_535)]
SessionId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class P2PRequest(Payload):
    to: str
    room_id: str | None = None


class P2PListening(Payload):
    session_id: SessionId
    port: Port  # 0: this side cannot listen (only the other side's listener can be dialled)


class P2PReport(Payload):
    session_id: SessionId
    outcome: Literal["direct", "failed"]


class P2PSessionRef(Payload):
    session_id: SessionId


class P2PRelay(Payload):
    session_id: SessionId
    username: str
    ticket: str


class P2PAttach(Payload):
    room_id: str
    username: str
    ticket: str  # the room ticket of the running match (PLAYHUB_TICKET)


class P2PSignal(Payload):
    to: str
    data: Any


# --- answers ----------------------------------------------------------------------------------------------------------
class P2PRequested(msgspec.Struct):
    session_id: str
    timeout_s: float


class P2POutcome(msgspec.Struct):
    outcome: str


class P2PAttached(msgspec.Struct):
    room_id: str
    username: str


class P2PRelayed(msgspec.Struct):
    session_id: str
    peer: str


class PeerAddress(msgspec.Struct):
    """Where a peer is: ``ip`` as the server sees it, ``port`` of its lobby connection (``P2P_INVITE``) or of its
    listener (``P2P_PEER``)."""

    username: str
    ip: str
    port: int

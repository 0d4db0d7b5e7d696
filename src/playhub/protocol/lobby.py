"""Payload schemas of the lobby area (rooms, votes, game-server callbacks)."""

from __future__ import annotations

from typing import Any

import msgspec

from playhub.protocol.schemas import Int64, Payload


class RoomRef(Payload):
    room_id: str


class VotePayload(Payload):
    seq: Int64
    accept: bool


class GameFinished(Payload):
    room_id: str
    secret: str
    results: dict[str, Any] | None = None
    kick_all: bool = False


class LegacyGameFinished(msgspec.Struct):
    """Seed 003's ``{"kind": "game_finished", "room_id": ..., "kick_all": bool}`` line (extra keys are ignored)."""

    kind: str
    room_id: str
    kick_all: bool = False


# --- results: what the lobby commands answer and the room pushes carry -----------------------------------------------
class MatchInfo(msgspec.Struct):
    """The running match of a room, so a member whose game client exited (or who reconnected) can go back to it."""

    players: list[str]
    game_host: str | None
    game_port: int | None


class RoomInfo(msgspec.Struct):
    """A room as every lobby reply and ``ROOM_UPDATED`` shows it."""

    room_id: str
    game_id: str
    game_name: str
    display_name: str
    version: str
    host: str
    players: list[str]
    ready: list[str]
    status: str
    max_players: int
    min_players: int
    all_ready: bool
    match: MatchInfo | None


class RoomEntered(msgspec.Struct):
    """``CREATE_ROOM`` / ``JOIN_ROOM``."""

    room_id: str
    version: str
    room: RoomInfo


class RoomReply(msgspec.Struct):
    """``READY``, ``UNREADY``, ``LEAVE_MATCH``, ``SUBSCRIBE_ROOM``."""

    room: RoomInfo


class RoomList(msgspec.Struct):
    """``LIST_ROOMS`` / ``WATCH_LOBBY``."""

    rooms: list[RoomInfo]


class MatchStarted(msgspec.Struct):
    """``START_ROOM``: the host's way into the match it started."""

    room_id: str
    game_host: str | None
    game_port: int
    version: str
    ticket: str


class MatchTicket(msgspec.Struct):
    """``REJOIN_MATCH`` (and the ``GAME_STARTED`` push): a member's way into the running match."""

    room_id: str
    game_id: str
    game_name: str
    version: str
    game_host: str | None
    game_port: int | None
    ticket: str

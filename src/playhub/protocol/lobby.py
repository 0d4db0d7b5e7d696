"""Payload schemas of the lobby area (rooms, votes, game-server callbacks)."""

from __future__ import annotations

from typing import Any

import msgspec

from playhub.protocol.schemas import Int64, Payload


class GameRef(Payload):
    game_id: str


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

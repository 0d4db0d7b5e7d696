"""Seed 003's own protocol: ``{"kind": ...}`` JSON lines answered with ``{"ok": ...}`` (no envelope).

Seed 003's developer and player clients open one TCP connection per request, send one line and read one line back;
the player client keeps one more connection open after ``subscribe_room`` and reads ``{"event": "room_update",
"room": {...}}`` lines from it. Field names follow seed 003 and, where it is silent, its reference implementation
(the clients send ``username``; ``user`` is accepted too, as the seed's prose writes it).

This module holds the message types only: one Struct per request kind (``KINDS`` maps each kind to its Struct and
the listener it is served on), the error codes (``Seed003Code``), how a platform error maps to one, and the shape
of answers and pushes. ``server/doors/seed003.py`` serves them with the platform's services.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from playhub.protocol.codes import Code


class Seed003Code(enum.StrEnum):
    """The ``code`` of an ``{"ok": false}`` answer. ``NOT_LOGGED_IN`` is the reference's own (its clients go back to
    the login menu on it); the others name PlayHub's refusals so a client can tell them apart."""

    NOT_LOGGED_IN = (
        "NOT_LOGGED_IN"  # no token, unknown/expired/logged-out/replaced token, or a token of the other role
    )
    BAD_REQUEST = (
        "BAD_REQUEST"  # a missing or mistyped field, a malformed version, a bad package, a bad rating
    )
    UNKNOWN_KIND = "UNKNOWN_KIND"  # a kind this listener does not serve
    BAD_CREDENTIALS = "BAD_CREDENTIALS"  # login: wrong username or password
    USERNAME_TAKEN = "USERNAME_TAKEN"  # register: the name exists in that role
    FORBIDDEN = "FORBIDDEN"  # another developer's game; not the room's owner; reviewing a game never played
    NOT_FOUND = "NOT_FOUND"  # no such game or room
    VERSION_NOT_NEWER = (
        "VERSION_NOT_NEWER"  # upload_game: version not above the latest (``latest``, ``suggested``)
    )
    CONFLICT = "CONFLICT"  # another clash with existing state (a game name taken by another developer)
    BAD_STATE = "BAD_STATE"  # not possible now: delisted game, full or started room, no start proposal, ...
    TOO_LARGE = "TOO_LARGE"  # a package over the size a single seed-003 line may carry
    RATE_LIMITED = "RATE_LIMITED"  # too many requests or attempts from this address (``retry_after_s``)
    SERVER_ERROR = "SERVER_ERROR"  # the server failed (a damaged stored package, a full disk)


# Platform code -> seed-003 code, for errors that reach the gateway from the services.
FROM_CODE: dict[int, Seed003Code] = {
    Code.INVALID_REQUEST: Seed003Code.BAD_REQUEST,
    Code.UNAUTHORIZED: Seed003Code.NOT_LOGGED_IN,
    Code.FORBIDDEN: Seed003Code.FORBIDDEN,
    Code.NOT_FOUND: Seed003Code.NOT_FOUND,
    Code.CONFLICT: Seed003Code.CONFLICT,
    Code.BAD_STATE: Seed003Code.BAD_STATE,
    Code.RATE_LIMITED: Seed003Code.RATE_LIMITED,
    Code.CHUNK_OUT_OF_ORDER: Seed003Code.SERVER_ERROR,
    Code.CHECKSUM_MISMATCH: Seed003Code.SERVER_ERROR,
    Code.SERVER_ERROR: Seed003Code.SERVER_ERROR,
}


class Seed003Error(Exception):
    """A refusal decided by the gateway itself, in seed 003's terms."""

    def __init__(self, code: Seed003Code, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


def error_answer(code: Seed003Code, message: str, **extra: Any) -> dict[str, Any]:
    """``{"ok": false, "code", "error", ...}``: ``error`` is the text seed 003's clients print."""
    return {"ok": False, "code": code.value, "error": message, **extra}


def room_update(room: dict[str, Any]) -> dict[str, Any]:
    """The push on a ``subscribe_room`` connection."""
    return {"event": "room_update", "room": room}


# --- requests --------------------------------------------------------------------------------------------------------
class Request(msgspec.Struct, kw_only=True):
    """Every request: its kind, and the token of the session (absent on register/login)."""

    kind: str
    token: str | None = None


class Credentials(Request, kw_only=True):
    username: str | None = None
    user: str | None = None  # seed 003's prose says "user"; its clients send "username"
    password: str = ""


class NameRef(Request, kw_only=True):
    name: str = ""


class UploadGame(Request, kw_only=True):
    name: str = ""
    version: str = ""
    manifest: dict[str, Any] = msgspec.field(default_factory=dict)
    zip_b64: str = ""


class CreateRoom(Request, kw_only=True):
    game: str = ""
    version: str | None = None  # optional; only the latest version may open a room


class RoomRef(Request, kw_only=True):
    room_id: str = ""


class RespondStart(RoomRef, kw_only=True):
    accept: bool = False


class RateGame(Request, kw_only=True):
    name: str = ""
    rating: int | str | None = None  # the reference accepts "5" as well as 5
    text: str | None = ""


class Listeners(enum.Flag):
    DEV = enum.auto()
    LOBBY = enum.auto()
    BOTH = DEV | LOBBY


# kind -> (request Struct, where it is served). ``game_finished`` (from game servers) is served by the lobby
# handlers, not by this door.
KINDS: dict[str, tuple[type[Request], Listeners]] = {
    "register": (Credentials, Listeners.BOTH),
    "login": (Credentials, Listeners.BOTH),
    "logout": (Request, Listeners.BOTH),
    # developer port (dev_server)
    "upload_game": (UploadGame, Listeners.DEV),
    "version_hint": (NameRef, Listeners.DEV),
    "my_games": (Request, Listeners.DEV),
    "remove_game": (NameRef, Listeners.DEV),
    # lobby port (lobby_server)
    "list_games": (Request, Listeners.LOBBY),
    "game_details": (NameRef, Listeners.LOBBY),
    "download_game": (NameRef, Listeners.LOBBY),
    "rate_game": (RateGame, Listeners.LOBBY),
    "list_rooms": (Request, Listeners.LOBBY),
    "create_room": (CreateRoom, Listeners.LOBBY),
    "join_room": (RoomRef, Listeners.LOBBY),
    "leave_room": (RoomRef, Listeners.LOBBY),
    "player_ready": (RoomRef, Listeners.LOBBY),
    "player_unready": (RoomRef, Listeners.LOBBY),
    "propose_start": (RoomRef, Listeners.LOBBY),
    "respond_start": (RespondStart, Listeners.LOBBY),
    "subscribe_room": (RoomRef, Listeners.LOBBY),
    "unsubscribe_room": (RoomRef, Listeners.LOBBY),
}

_DECODERS = {kind: schema for kind, (schema, _) in KINDS.items()}


def decode(kind: str, obj: dict[str, Any]) -> Request:
    """The typed request for ``obj`` (already known to be a dict with this ``kind``); Seed003Error on bad fields."""
    schema = _DECODERS[kind]
    try:
        return msgspec.convert(obj, schema)
    except msgspec.ValidationError as exc:
        raise Seed003Error(Seed003Code.BAD_REQUEST, f"bad {kind} message: {exc}") from None

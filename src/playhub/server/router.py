"""The command catalogue and dispatch.

Each area declares its commands on a ``Routes`` object with the payload schema, the role its token must carry, the
permission key its account's role must hold (services/admin.py) and the listeners it is served on. The router decodes
the envelope once, checks the listener, the token and the permission, decodes the
payload against the schema, calls the handler and encodes its result. Handlers never write to sockets themselves.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from playhub.protocol import envelope
from playhub.protocol.codes import Code
from playhub.protocol.errors import InvalidRequest, PlayHubError, ServerError
from playhub.protocol.seed003 import Seed003Code, error_answer
from playhub.server.context import Services
from playhub.services.sessions import Principal, Role
from playhub.wire.framing import (
    BINARY_MARKER,
    BadBinaryFrame,
    BinaryChunk,
    FrameTooLarge,
    Framing,
    decode_binary,
)

if TYPE_CHECKING:
    from playhub.server.connection import Connection

log = logging.getLogger("playhub.router")
_BINARY_FIRST = bytes((BINARY_MARKER,))
_SEED003_HEAD = re.compile(rb'\s*\{\s*"kind"\s*:')


class Listener(enum.Flag):
    DEV = enum.auto()
    LOBBY = enum.auto()
    BOTH = DEV | LOBBY


@dataclass(slots=True)
class Context:
    """What a handler gets besides its payload."""

    app: Services
    conn: Connection
    user: Principal | None
    req_id: int | str | None
    token: str | None


Handler = Callable[[Context, Any], Awaitable[Any]]
LegacyHandler = Callable[["Connection", dict[str, Any]], Awaitable[None]]
BinaryHandler = Callable[[Context, BinaryChunk], Awaitable[Any]]


@dataclass(slots=True)
class Command:
    name: str
    schema: type[msgspec.Struct]
    handler: Handler
    role: Role | None
    listeners: Listener
    concurrent: bool
    decoder: msgspec.json.Decoder
    permission: str | None = None


class Routes:
    """A group of commands declared by one area module."""

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.legacy: dict[str, LegacyHandler] = {}
        self.binary: dict[int, tuple[BinaryHandler, Listener]] = {}

    def command(
        self,
        name: str,
        schema: type[msgspec.Struct],
        *,
        role: Role | None,
        listeners: Listener,
        concurrent: bool = False,
        permission: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare a command. ``concurrent`` handlers run in their own task so a long wait (a vote) does not stop the
        connection from serving its other requests; their responses carry the request ``id``. ``permission``: the key
        the caller's role must hold (else 102), checked before the payload is decoded."""
        if permission is not None and role is None:
            raise RuntimeError(f"command {name}: a permission needs a role (a logged-in caller)")

        def register(fn: Handler) -> Handler:
            self.commands.append(
                Command(
                    name, schema, fn, role, listeners, concurrent, msgspec.json.Decoder(schema), permission
                )
            )
            return fn

        return register

    def binary_kind(self, kind: int, *, listeners: Listener) -> Callable[[BinaryHandler], BinaryHandler]:
        """Handle binary chunk frames of ``kind`` (see wire/framing.py); the handler authorises the frame itself
        (a binary frame carries no token) and its result is answered like a command's, with the frame's request id."""

        def register(fn: BinaryHandler) -> BinaryHandler:
            self.binary[kind] = (fn, listeners)
            return fn

        return register

    def legacy_kind(self, kind: str) -> Callable[[LegacyHandler], LegacyHandler]:
        """Accept seed 003's ``{"kind": ...}`` lines (no envelope) on the lobby listener."""

        def register(fn: LegacyHandler) -> LegacyHandler:
            self.legacy[kind] = fn
            return fn

        return register


class Router:
    def __init__(self, app: Services, listener: Listener, groups: list[Routes]) -> None:
        self.app = app
        self.listener = listener
        self.commands: dict[str, Command] = {}
        self.legacy: dict[str, LegacyHandler] = {}
        self.binary: dict[int, BinaryHandler] = {}
        for group in groups:
            for kind, (fn, where) in group.binary.items():
                if where & listener:
                    self.binary[kind] = fn
            for cmd in group.commands:
                if cmd.listeners & listener:
                    if cmd.name in self.commands:
                        raise RuntimeError(f"command {cmd.name} declared twice")
                    self.commands[cmd.name] = cmd
            if listener & Listener.LOBBY:
                self.legacy.update(group.legacy)
        self._where = "developer" if listener is Listener.DEV else "lobby"
        # Seed 003's upload_game carries a whole package in one line, on the developer listener only.
        s = app.settings
        self.max_line_bytes = (
            max(s.max_frame_bytes, s.seed003_max_line_bytes)
            if listener is Listener.DEV
            else s.max_frame_bytes
        )

    def too_large(self, exc: FrameTooLarge) -> bytes:
        """The answer to a frame over the limit: in seed 003's shape when the frame began as one of its lines."""
        if _SEED003_HEAD.match(exc.head):
            return envelope.encode(error_answer(Seed003Code.TOO_LARGE, f"{exc}: connection closed"))
        return envelope.error_from(InvalidRequest(f"{exc}: connection closed"))

    async def dispatch(self, conn: Connection, frame: bytes) -> None:
        """Handle one frame; always answers (or hands a concurrent command to its own task)."""
        if frame[:1] == _BINARY_FIRST:
            await self._dispatch_binary(conn, frame)
            return
        try:
            req = envelope.decode_request(frame)
        except InvalidRequest as exc:
            if await self._maybe_legacy(conn, frame):
                return
            conn.send(envelope.error_from(exc))
            return
        cmd = self.commands.get(req.type)
        if cmd is None:
            conn.send(
                envelope.error(
                    Code.INVALID_REQUEST, f"unknown command type '{req.type}' on the {self._where} port", req_id=req.id
                )
            )
            return
        try:
            user = None
            if cmd.role is not None:
                user = self.app.sessions.resolve(req.token, cmd.role, conn)
                conn.authenticated = True
                if cmd.permission is not None:
                    self.app.admin.require(user, cmd.permission)
            payload = envelope.decode_payload(req.payload, cmd.decoder)
        except PlayHubError as exc:
            conn.send(envelope.error_from(exc, req.id))
            return
        ctx = Context(self.app, conn, user, req.id, req.token)
        if cmd.concurrent:
            conn.spawn(self._run(cmd, ctx, payload))
        else:
            await self._run(cmd, ctx, payload)

    async def _dispatch_binary(self, conn: Connection, frame: bytes) -> None:
        if conn.framing is not Framing.LENGTH_PREFIXED:
            conn.send(envelope.error(Code.INVALID_REQUEST, "binary frames are only accepted on length-prefixed connections"))
            return
        try:
            chunk = decode_binary(frame)
        except BadBinaryFrame as exc:
            conn.send(envelope.error(Code.INVALID_REQUEST, str(exc), req_id=exc.req_id))
            return
        req_id = chunk.req_id or None
        handler = self.binary.get(chunk.kind)
        if handler is None:
            conn.send(
                envelope.error(
                    Code.INVALID_REQUEST,
                    f"binary frames of kind {chunk.kind} are not accepted on the {self._where} port",
                    req_id=req_id,
                )
            )
            return
        ctx = Context(self.app, conn, None, req_id, None)
        try:
            result = await handler(ctx, chunk)
        except PlayHubError as exc:
            conn.send(envelope.error_from(exc, req_id))
            return
        except Exception:
            log.exception("binary frame of kind %d failed", chunk.kind)
            conn.send(envelope.error_from(ServerError(), req_id))
            return
        conn.send(envelope.ok(result, req_id))

    async def _run(self, cmd: Command, ctx: Context, payload: Any) -> None:
        try:
            result = await cmd.handler(ctx, payload)
        except PlayHubError as exc:
            ctx.conn.send(envelope.error_from(exc, ctx.req_id))
            return
        except Exception:
            log.exception("command %s failed", cmd.name)
            ctx.conn.send(envelope.error_from(ServerError(), ctx.req_id))
            return
        if ctx.token is not None:
            ctx.conn.authenticated = True  # a command that checks its own token (WHOAMI, LOGOUT) succeeded
        if type(result) is msgspec.Raw:
            ctx.conn.send_parts(envelope.ok_parts(result, ctx.req_id))
        else:
            ctx.conn.send(envelope.ok(result, ctx.req_id))

    async def _maybe_legacy(self, conn: Connection, frame: bytes) -> bool:
        try:
            obj = envelope.decode_json(frame)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # the envelope error stands
            return False
        if not isinstance(obj, dict) or "type" in obj or "kind" not in obj:
            return False
        handler = self.legacy.get(obj.get("kind"))  # type: ignore[arg-type]
        if handler is None:
            door = getattr(self.app, "seed003", None)
            if door is None:
                return False
            await door.serve(conn, self.listener, obj)  # seed 003's own protocol (server/doors/seed003.py)
            return True
        try:
            await handler(conn, obj)
        except PlayHubError as exc:
            conn.send(envelope.error_from(exc))
        except Exception:
            log.exception("legacy message %s failed", obj.get("kind"))
            conn.send(envelope.error_from(ServerError()))
        return True

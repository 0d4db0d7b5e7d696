"""Handlers of the lobby area: players online, rooms, ready marks, the start vote, game-server callbacks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec

from playhub.protocol import envelope
from playhub.protocol.errors import InvalidRequest
from playhub.protocol.lobby import (
    GameFinished,
    LegacyGameFinished,
    MatchStarted,
    MatchTicket,
    RoomEntered,
    RoomList,
    RoomRef,
    RoomReply,
    VotePayload,
)
from playhub.protocol.schemas import Empty, GameRef
from playhub.server.router import Context, Listener, Routes
from playhub.services.matches import MatchPass
from playhub.services.room_seats import room_info
from playhub.services.room_states import Room
from playhub.services.rooms import RoomService
from playhub.services.sessions import Principal, Role

if TYPE_CHECKING:
    from playhub.server.connection import Connection

log = logging.getLogger("playhub.lobby")
routes = Routes()

_PLAYER = Role.PLAYER
_LOBBY = Listener.LOBBY


def _rooms(ctx: Context) -> RoomService:
    return ctx.app.rooms


def _user(ctx: Context) -> Principal:
    assert ctx.user is not None  # the router resolved the token for role=PLAYER
    return ctx.user


def _entered(room: Room) -> RoomEntered:
    return RoomEntered(room.room_id, room.version, room_info(room))


def _reply(room: Room) -> RoomReply:
    return RoomReply(room_info(room))


def _ticket(p: MatchPass) -> MatchTicket:
    return MatchTicket(p.room_id, p.game_id, p.game_name, p.version, p.game_host, p.game_port, p.ticket)


@routes.command("LIST_PLAYERS", Empty, role=_PLAYER, listeners=_LOBBY)
async def list_players(ctx: Context, p: Empty) -> dict:
    return {"online_players": ctx.app.presence.online_players()}


@routes.command("LIST_ROOMS", Empty, role=_PLAYER, listeners=_LOBBY)
async def list_rooms(ctx: Context, p: Empty) -> RoomList:
    return RoomList([room_info(room) for room in _rooms(ctx).seats.list_rooms()])


@routes.command("WATCH_LOBBY", Empty, role=_PLAYER, listeners=_LOBBY)
async def watch_lobby(ctx: Context, p: Empty) -> RoomList:
    return RoomList([room_info(room) for room in _rooms(ctx).seats.watch_lobby(ctx.conn)])


@routes.command("UNWATCH_LOBBY", Empty, role=_PLAYER, listeners=_LOBBY)
async def unwatch_lobby(ctx: Context, p: Empty) -> dict:
    _rooms(ctx).seats.unwatch_lobby(ctx.conn)
    return {}


@routes.command("CREATE_ROOM", GameRef, role=_PLAYER, listeners=_LOBBY, permission="rooms.create")
async def create_room(ctx: Context, p: GameRef) -> RoomEntered:
    return _entered(await _rooms(ctx).seats.create(_user(ctx), p.game_id))


@routes.command("JOIN_ROOM", RoomRef, role=_PLAYER, listeners=_LOBBY)
async def join_room(ctx: Context, p: RoomRef) -> RoomEntered:
    return _entered(_rooms(ctx).seats.join(_user(ctx), p.room_id))


@routes.command("LEAVE_ROOM", RoomRef, role=_PLAYER, listeners=_LOBBY)
async def leave_room(ctx: Context, p: RoomRef) -> dict:
    _rooms(ctx).seats.leave(_user(ctx), p.room_id)
    return {}


@routes.command("LEAVE_MATCH", RoomRef, role=_PLAYER, listeners=_LOBBY)
async def leave_match(ctx: Context, p: RoomRef) -> RoomReply:
    return _reply(_rooms(ctx).matches.leave(_user(ctx), p.room_id))


@routes.command("REJOIN_MATCH", RoomRef, role=_PLAYER, listeners=_LOBBY)
async def rejoin_match(ctx: Context, p: RoomRef) -> MatchTicket:
    return _ticket(_rooms(ctx).matches.rejoin(_user(ctx), p.room_id))


@routes.command("READY", RoomRef, role=_PLAYER, listeners=_LOBBY)
async def ready(ctx: Context, p: RoomRef) -> RoomReply:
    return _reply(_rooms(ctx).start_flow.set_ready(_user(ctx), p.room_id, True))


@routes.command("UNREADY", RoomRef, role=_PLAYER, listeners=_LOBBY)
async def unready(ctx: Context, p: RoomRef) -> RoomReply:
    return _reply(_rooms(ctx).start_flow.set_ready(_user(ctx), p.room_id, False))


@routes.command("START_ROOM", RoomRef, role=_PLAYER, listeners=_LOBBY, concurrent=True)
async def start_room(ctx: Context, p: RoomRef) -> MatchStarted:
    started = await _rooms(ctx).start_flow.start(_user(ctx), p.room_id)
    assert started.game_port is not None  # a pass handed out at the start always has the server's port
    return MatchStarted(
        started.room_id, started.game_host, started.game_port, started.version, started.ticket
    )


@routes.command("VOTE", VotePayload, role=_PLAYER, listeners=_LOBBY)
async def vote(ctx: Context, p: VotePayload) -> dict:
    _rooms(ctx).start_flow.vote(_user(ctx), p.seq, p.accept)
    return {}


@routes.command("SUBSCRIBE_ROOM", RoomRef, role=_PLAYER, listeners=_LOBBY)
async def subscribe_room(ctx: Context, p: RoomRef) -> RoomReply:
    return _reply(_rooms(ctx).seats.subscribe(ctx.conn, p.room_id))


@routes.command("UNSUBSCRIBE_ROOM", RoomRef, role=_PLAYER, listeners=_LOBBY)
async def unsubscribe_room(ctx: Context, p: RoomRef) -> dict:
    _rooms(ctx).seats.unsubscribe(ctx.conn, p.room_id)
    return {}


@routes.command("GAME_FINISHED", GameFinished, role=None, listeners=Listener.LOBBY)
async def game_finished(ctx: Context, p: GameFinished) -> dict:
    """From a game server: authenticated by the room secret it got in PLAYHUB_ROOM_SECRET_FILE (no token)."""
    await _rooms(ctx).matches.finished(p.room_id, secret=p.secret, results=p.results, kick_all=p.kick_all)
    return {}


@routes.legacy_kind("game_finished")
async def legacy_game_finished(conn: Connection, obj: dict[str, Any]) -> None:
    """Seed 003's unauthenticated callback: accepted only over a connection from the room's own game server."""
    try:
        msg = msgspec.convert(obj, LegacyGameFinished)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"bad game_finished message: {exc}") from None
    rooms: RoomService = conn.router.app.rooms
    peer = conn.transport.get_extra_info("peername")
    local = conn.transport.get_extra_info("sockname")
    await rooms.matches.finished(
        msg.room_id,
        secret=None,
        results=None,
        kick_all=msg.kick_all,
        peer=(str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None,
        local=(str(local[0]), int(local[1])) if isinstance(local, tuple) else None,
    )
    conn.send(envelope.ok({"ok": True}))

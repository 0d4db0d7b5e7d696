"""The match lifecycle of a room: from a game server that listens to the end of its match.

A match begins when the start flow hands over a listening game server (``begin``: GAME_STARTED, the liveness probe, the
``plays`` record). It ends when the game server reports it (GAME_FINISHED with the room secret, or seed 003's legacy
line from the server's own connection), exits or crashes, stops answering probes, or too few players remain
("abandoned"); every end is recorded. Members may give up their seat in the match (LEAVE_MATCH) or fetch their way back
into it (REJOIN_MATCH). Guards and state changes are ``room_states``'.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from playhub.protocol.errors import Forbidden
from playhub.protocol.pushes import GameEnded, GameStarted
from playhub.sdk.tickets import player_ticket
from playhub.services import room_states as rs
from playhub.services.events import EventBus
from playhub.services.room_seats import SeatService
from playhub.services.room_states import Member, Room, RoomAction, RoomEvent
from playhub.services.sessions import Principal
from playhub.settings import Settings
from playhub.store import plays
from playhub.store.db import Database
from playhub.supervisor import GameServer, Supervisor
from playhub.supervisor.probe import probe_address, until_unresponsive

log = logging.getLogger("playhub.rooms")

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


@dataclass(frozen=True, slots=True)
class MatchPass:
    """One member's way into a running match: where it runs and the member's ticket."""

    room_id: str
    game_id: str
    game_name: str
    version: str
    game_host: str | None
    game_port: int | None
    ticket: str


class MatchService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        seats: SeatService,
        supervisor: Supervisor,
        spawn: Spawn,
        events: EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.seats = seats
        self.supervisor = supervisor
        self.spawn = spawn
        self.events = events
        seats.on_left_playing.append(self._left_room)
        seats.on_closed.append(self._room_closed)

    # --- the beginning ---------------------------------------------------------------------------------------
    async def begin(self, room: Room, server: GameServer, secret: str, host: str) -> MatchPass:
        """The game server of ``room`` listens: the match is every member. Returns the host's pass."""
        rs.server_ready(room, server, secret, self.settings.advertised_host, server.port)
        self.spawn(self._watch(room, server))
        self.spawn(self._probe(room, server))
        for m in room.members:
            p = _pass(room, m.username)
            started = GameStarted(p.room_id, p.game_id, p.game_name, p.version, p.game_host, p.game_port, p.ticket)
            self.seats.tell([m.username], started)
        self.seats.announce(room)
        host_pass = _pass(room, host)
        try:
            await self.db.run(
                plays.record_start,
                room.game_id,
                [m.account_id for m in room.match],
                room.room_id,
                room.version,
                server.started_at,
            )
        except Exception:  # the match runs even if the record fails; the operator sees the log
            log.exception("could not record the players of room %s", room.room_id)
        else:
            if self.events is not None:
                self.events.emit("game_played", room.game_id, [m.account_id for m in room.match])
        log.info("room %s playing on port %d with %s", room.room_id, server.port, ", ".join(room.names()))
        return host_pass

    # --- members and the running match -----------------------------------------------------------------------
    def rejoin(self, user: Principal, room_id: str) -> MatchPass:
        """REJOIN_MATCH: the running match's address and the player's ticket again (still valid for this match)."""
        room = self.seats.get(room_id)
        rs.check_rejoin(room, user.username)
        return _pass(room, user.username)

    def leave(self, user: Principal, room_id: str) -> Room:
        """LEAVE_MATCH: give up the seat in the running match but stay in the room (a game client that could not
        run, or a player who quits the game)."""
        room = self.seats.get(room_id)
        member = rs.check_leave_match(room, user.username)
        log.info("%s left the match of %s", member.username, room.room_id)
        if not self._leave(room, member):
            self.seats.announce(room)
        return room

    def _left_room(self, room: Room, member: Member) -> bool:
        return self._leave(room, member)

    def _leave(self, room: Room, member: Member) -> bool:
        """Take ``member`` out of the running match; end it as "abandoned" when too few remain. True when the match
        ended (the room was already told)."""
        if not rs.leave_match(room, member):
            return False
        server = rs.detach_server(room)
        match = self._end_now(room, "abandoned", None, None, kick_all=False, also=[member.username])
        self.spawn(self._record_result(room, [*match, member], "abandoned", None))
        if server is not None:
            self.spawn(server.stop())
        return True

    # --- the end ---------------------------------------------------------------------------------------------
    async def finished(
        self,
        room_id: str,
        *,
        secret: str | None,
        results: dict[str, Any] | None,
        kick_all: bool,
        peer: tuple[str, int] | None = None,
        local: tuple[str, int] | None = None,
    ) -> None:
        """A game server reports the end of its match: with the room secret (GAME_FINISHED), or, for seed 003's
        legacy line, without one but only over a connection from the room's own game server: ``peer`` is the
        connection's remote address, ``local`` the lobby's end of it."""
        room = self.seats.get(room_id)
        if secret is not None:
            rs.check_finish(room, secret)
        else:
            rs.require(room.state, RoomAction.FINISH)  # no match running: BAD_STATE, as for GAME_FINISHED
            if not await self._from_room_server(room, peer, local):
                raise Forbidden("game_finished is accepted only from the room's own game server")
            rs.require(
                room.state, RoomAction.FINISH
            )  # the check above awaited: the match may have ended since
        server = rs.detach_server(room)
        await self._end(room, "finished", results, None, kick_all=kick_all)
        if server is not None:
            self.spawn(self._retire(server))

    async def _from_room_server(
        self, room: Room, peer: tuple[str, int] | None, local: tuple[str, int] | None
    ) -> bool:
        server = room.server
        if server is None or peer is None or local is None:
            return False
        return await asyncio.to_thread(self.supervisor.owns_connection, server, peer, local)

    async def _retire(self, server: GameServer) -> None:
        """Give a finished server a moment to say goodbye to its clients and exit, then stop its group."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait(), self.settings.game_server_finish_grace_s)
        await server.stop()

    async def _watch(self, room: Room, server: GameServer) -> None:
        info = await server.wait()
        if not rs.runs_on(room, server):
            return  # already ended by GAME_FINISHED or by closing the room
        rs.detach_server(room)
        reason = _exit_reason(info.exit_code, info.stopped)
        log.info("game server of room %s ended (%s, exit %s)", room.room_id, reason, info.exit_code)
        await self._end(room, reason, None, info.exit_code, kick_all=False)

    async def _probe(self, room: Room, server: GameServer) -> None:
        """Liveness while PLAYING (seed 003's monitor): a server that stops accepting connections for
        ``game_server_probe_failures`` probes in a row has hung or lost its socket; end the match and stop it."""
        s = self.settings
        unresponsive = await until_unresponsive(
            probe_address(s.host),
            server.port,
            interval_s=s.game_server_probe_interval_s,
            failures=s.game_server_probe_failures,
            timeout_s=s.game_server_probe_timeout_s,
            watching=lambda: rs.runs_on(room, server) and server.running,
        )
        if not unresponsive or not rs.runs_on(room, server):
            return
        rs.detach_server(room)
        log.warning("game server of room %s stopped answering; ending its match", room.room_id)
        await self._end(room, "unresponsive", None, None, kick_all=False)
        await server.stop()

    async def _end(
        self,
        room: Room,
        reason: str,
        results: dict[str, Any] | None,
        exit_code: int | None,
        *,
        kick_all: bool,
    ) -> None:
        match = self._end_now(room, reason, results, exit_code, kick_all=kick_all)
        await self._record_result(room, match, reason, results)

    def _end_now(
        self,
        room: Room,
        reason: str,
        results: dict[str, Any] | None,
        exit_code: int | None,
        *,
        kick_all: bool,
        also: Iterable[str] = (),
    ) -> list[Member]:
        """Tell the members, move the room on; the caller records the result (synchronous up to here so that a
        leave handled in the middle of a request cannot interleave with it)."""
        match = rs.end_match(room, kick_all=kick_all)
        self.seats.tell([*room.names(), *also], GameEnded(room.room_id, reason, results, exit_code))
        if kick_all:
            self.seats.close(room, RoomEvent.KICK_ALL, also=also)
        else:
            self.seats.announce(room, also=also)
        return match

    async def _record_result(
        self, room: Room, match: list[Member], reason: str, results: dict[str, Any] | None
    ) -> None:
        try:
            await self.db.run(
                plays.record_result,
                room.game_id,
                room.room_id,
                [m.account_id for m in match],
                reason,
                results,
            )
        except Exception:
            log.exception("could not record the result of room %s", room.room_id)

    # --- closed rooms and shutdown ---------------------------------------------------------------------------
    def _room_closed(self, room: Room, server: GameServer | None) -> None:
        self.spawn(self._dispose(room, server))

    async def _dispose(self, room: Room, server: GameServer | None) -> None:
        if server is not None:
            info = await server.stop()
            if room.match:
                await self._record_result(room, room.match, "stopped", None)
                log.info("game server of closed room %s stopped (exit %s)", room.room_id, info.exit_code)
        await self.supervisor.forget_room(room.room_id)

    async def close(self) -> None:
        """The server stops: stop every game server and record the matches they cut short."""
        unfinished = []
        for room in list(self.seats.rooms.values()):
            match = rs.cut_short(room)
            if match:
                unfinished.append((room, match))
        await self.supervisor.stop_all()
        for room, match in unfinished:
            await self._record_result(room, match, "stopped", None)


def _pass(room: Room, username: str) -> MatchPass:
    assert room.secret is not None
    return MatchPass(
        room_id=room.room_id,
        game_id=room.game_id,
        game_name=room.game_name,
        version=room.version,
        game_host=room.game_host,
        game_port=room.game_port,
        ticket=player_ticket(room.secret, room.room_id, username),
    )


# Signals that mean someone stopped the server on purpose (Ctrl+C, kill), as opposed to a crash.
_STOP_SIGNALS = frozenset({-signal.SIGINT, -signal.SIGTERM, -signal.SIGHUP})


def _exit_reason(exit_code: int, stopped_by_us: bool) -> str:
    if stopped_by_us or exit_code in _STOP_SIGNALS:
        return "stopped"
    return "exited" if exit_code == 0 else "crashed"

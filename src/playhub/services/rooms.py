"""Rooms: membership, ready marks, the start vote, the match's game server, and how rooms end.

All room state lives in memory (seed 003 chose the same: a restart closes every room and stops its game server).
State changes go through the transition table in ``room_states``. The service never touches sockets: it hands
``(recipients, event, data)`` to the ``deliver`` callables the lobby handlers give it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import secrets
import signal
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playhub.protocol.errors import BadState, Forbidden, NotFound
from playhub.sdk.tickets import player_ticket
from playhub.services.events import EventBus
from playhub.services.quotas import Tally, ip_key, over
from playhub.services.room_states import RoomAction, RoomEvent, RoomState, require, transition
from playhub.services.sessions import Peer, Principal, Role, SessionRegistry
from playhub.services.votes import Vote, VoteService
from playhub.settings import Settings
from playhub.store import catalog, plays
from playhub.store.blobs import BlobStore
from playhub.store.db import Database
from playhub.supervisor import GameServer, SpawnFailed, Supervisor
from playhub.supervisor.probe import probe_address, until_unresponsive

log = logging.getLogger("playhub.rooms")

_UNSAFE = re.compile(r"[^a-z0-9_-]+")

DeliverNames = Callable[[Iterable[str], str, dict[str, Any]], None]
DeliverPeers = Callable[[Iterable[Peer], str, dict[str, Any]], None]
Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


@dataclass(frozen=True, slots=True)
class Member:
    username: str
    account_id: int


@dataclass(eq=False, slots=True)
class Room:
    room_id: str
    game_id: str
    game_name: str
    display_name: str
    version: str
    folder: Path
    entry_server: str
    max_players: int
    min_players: int
    host: str
    members: list[Member] = field(default_factory=list)
    ready: set[str] = field(default_factory=set)
    state: RoomState = RoomState.WAITING
    vote_seq: int | None = None
    server: GameServer | None = None
    secret: str | None = None
    match: list[Member] = field(default_factory=list)  # who plays the running match (leavers are taken out)
    game_host: str | None = None
    game_port: int | None = None
    subscribers: set[Peer] = field(default_factory=set)
    creator: tuple[int, str] | None = None  # (account id, IP key) the room counts against while open

    def names(self) -> list[str]:
        return [m.username for m in self.members]

    def member(self, username: str) -> Member | None:
        for m in self.members:
            if m.username == username:
                return m
        return None

    def snapshot(self) -> dict[str, Any]:
        ready = set(self.ready)
        return {
            "room_id": self.room_id,
            "game_id": self.game_id,
            "game_name": self.game_name,
            "display_name": self.display_name,
            "version": self.version,
            "host": self.host,
            "players": self.names(),
            "ready": [n for n in self.names() if n in ready],
            "status": self.state.value,
            "max_players": self.max_players,
            "min_players": self.min_players,
            # Enough members and every one of them ready: the host can start without asking around.
            "all_ready": len(self.members) >= self.min_players and ready.issuperset(self.names()),
            # The running match, so a member whose game client exited (or who reconnected) can go back to it.
            "match": self.match_info(),
        }

    def match_info(self) -> dict[str, Any] | None:
        if self.state is not RoomState.PLAYING or self.game_port is None:
            return None
        return {
            "players": [m.username for m in self.match],
            "game_host": self.game_host,
            "game_port": self.game_port,
        }


class RoomService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        blobs: BlobStore,
        sessions: SessionRegistry,
        supervisor: Supervisor,
        votes: VoteService,
        deliver: DeliverNames,
        deliver_peers: DeliverPeers,
        spawn: Spawn,
        lobby_port: Callable[[], int],
        events: EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.blobs = blobs
        self.sessions = sessions
        self.supervisor = supervisor
        self.votes = votes
        self.deliver = deliver
        self.deliver_peers = deliver_peers
        self.spawn = spawn
        self.lobby_port = lobby_port
        self.events = events
        self.rooms: dict[str, Room] = {}
        self.lobby_watchers: set[Peer] = set()  # connections that see every room change (WATCH_LOBBY)
        self._member_of: dict[int, Room] = {}  # account id -> room: a player is in at most one room
        self._grace: dict[int, asyncio.TimerHandle] = {}
        self._closing = False
        self._rooms_per_account = Tally()
        self._rooms_per_ip = Tally()
        sessions.subscribe(self._on_session)

    # --- reads -----------------------------------------------------------------------------------------------
    def watch_lobby(self, peer: Peer) -> list[dict[str, Any]]:
        """From now on ``peer`` gets ROOM_UPDATED for every room (created, changed, closed): live lobby lists."""
        self.lobby_watchers.add(peer)
        return self.list_rooms()

    def unwatch_lobby(self, peer: Peer) -> None:
        self.lobby_watchers.discard(peer)

    def list_rooms(self) -> list[dict[str, Any]]:
        return [room.snapshot() for room in self.rooms.values()]

    def get(self, room_id: str) -> Room:
        room = self.rooms.get(room_id)
        if room is None:
            raise NotFound(f"no room '{room_id}'")
        return room

    def room_of(self, account_id: int) -> Room | None:
        return self._member_of.get(account_id)

    # --- pushes ----------------------------------------------------------------------------------------------
    def _updated(self, room: Room, also: Iterable[str] = ()) -> None:
        self._fan_out(room, {"room": room.snapshot()}, [*room.names(), *also])

    def _fan_out(self, room: Room, data: dict[str, Any], names: Iterable[str]) -> None:
        """ROOM_UPDATED to the named players, the room's subscribers and the lobby watchers, once per connection."""
        peers: set[Peer] = set(room.subscribers) | self.lobby_watchers
        for name in names:
            principal = self.sessions.by_username(Role.PLAYER, name)
            if principal is not None and principal.peer is not None:
                peers.add(principal.peer)
        self.deliver_peers([p for p in peers if not p.closed], "ROOM_UPDATED", data)

    def _set(self, room: Room, event: RoomEvent) -> None:
        room.state = transition(room.state, event)

    # --- membership ------------------------------------------------------------------------------------------
    def _require_free(self, user: Principal) -> None:
        current = self._member_of.get(user.account_id)
        if current is not None:
            raise BadState(f"you are already in room '{current.room_id}': leave it first")

    async def create(self, user: Principal, game_id: str) -> Room:
        self._require_free(user)
        game, version = await self.db.run(_load_latest, game_id)
        if game is None:
            raise NotFound(f"no game '{game_id}'")
        if game.status == "OFFLINE":
            raise BadState(f"'{game.name}' is delisted: no new rooms")
        if game.latest_version is None or version is None:
            raise BadState(f"'{game.name}' has no published version yet")
        manifest = version.manifest
        entry_server = manifest.get("entry_server")
        folder = self.blobs.version_dir(game.id, version.version)
        if not isinstance(entry_server, str) or not await asyncio.to_thread(folder.is_dir):
            raise BadState(f"version {version.version} of '{game.name}' is not available on this server")
        max_players = _int(manifest.get("max_players"), game.max_players)
        min_players = _int(manifest.get("min_players"), game.min_players or max_players)
        min_players = max(1, min(min_players, max_players))
        # The awaits above let other requests run: check again before taking the seat.
        self._require_free(user)
        if len(self.rooms) >= self.settings.max_rooms:
            raise BadState(f"the server has reached its limit of {self.settings.max_rooms} rooms")
        creator = self._check_room_quota(user)
        # Room ids name log files and folders: keep them to safe characters whatever the game's name.
        prefix = _UNSAFE.sub("-", game.name.lower())[:64] or "room"
        room_id = f"{prefix}-{secrets.token_hex(4)}"
        while room_id in self.rooms:
            room_id = f"{prefix}-{secrets.token_hex(4)}"
        room = Room(
            room_id=room_id,
            game_id=game.id,
            game_name=game.name,
            display_name=game.display_name,
            version=version.version,
            folder=folder,
            entry_server=entry_server,
            max_players=max_players,
            min_players=min_players,
            host=user.username,
        )
        self.rooms[room_id] = room
        self._take_room_quota(room, creator)
        self._seat(room, user)
        log.info("%s created room %s (%s %s)", user.username, room_id, game.name, version.version)
        self._updated(room)
        return room

    def _seat(self, room: Room, user: Principal) -> None:
        room.members.append(Member(user.username, user.account_id))
        self._member_of[user.account_id] = room

    def join(self, user: Principal, room_id: str) -> Room:
        room = self.get(room_id)
        current = self._member_of.get(user.account_id)
        if current is room:
            return room  # joining the room you are in is a no-op
        self._require_free(user)
        require(room.state, RoomAction.JOIN, "the room has already started")
        if len(room.members) >= room.max_players:
            raise BadState(f"room '{room_id}' is full ({room.max_players} players)")
        self._seat(room, user)
        self._updated(room)
        return room

    def leave(self, user: Principal, room_id: str) -> None:
        room = self.get(room_id)
        if room.member(user.username) is None:
            raise BadState(f"you are not in room '{room_id}'")
        self._remove(room, user.account_id, "left the room")

    def _remove(self, room: Room, account_id: int, why: str) -> None:
        member = next((m for m in room.members if m.account_id == account_id), None)
        if member is None:
            return
        room.members.remove(member)
        room.ready.discard(member.username)
        self._member_of.pop(account_id, None)
        self._cancel_grace(account_id)
        if room.vote_seq is not None:
            vote = self.votes.get(room.vote_seq)
            if vote is not None:
                self.votes.cancel(vote, f"{member.username} {why}")
        if not room.members:
            self._close(room, RoomEvent.EMPTIED, also=[member.username])
            return
        if room.host == member.username:
            room.host = room.members[0].username
        log.info("%s %s %s", member.username, why, room.room_id)
        if not self._leave_match(room, member):
            self._updated(room, also=[member.username])

    # --- leaving and rejoining a running match ---------------------------------------------------------------
    def leave_match(self, user: Principal, room_id: str) -> Room:
        """LEAVE_MATCH: give up the seat in the running match but stay in the room (a game client that could not
        run, or a player who quits the game)."""
        room = self.get(room_id)
        member = room.member(user.username)
        if member is None:
            raise BadState(f"you are not in room '{room_id}'")
        if room.state is not RoomState.PLAYING or member not in room.match:
            raise BadState(f"you are not playing a match in room '{room_id}'")
        log.info("%s left the match of %s", member.username, room.room_id)
        if not self._leave_match(room, member):
            self._updated(room)
        return room

    def _leave_match(self, room: Room, member: Member) -> bool:
        """Take ``member`` out of the running match. As seed 003 does when a player leaves mid-game, the match then
        ends and the room waits again, here as soon as fewer than the game's minimum players remain (reason
        "abandoned"). Returns True when the match ended (the room was already told)."""
        if room.state is not RoomState.PLAYING or member not in room.match:
            return False
        room.match = [m for m in room.match if m is not member]
        if len(room.match) >= room.min_players:
            return False
        server, room.server = room.server, None
        match = self._end_match_now(room, "abandoned", None, None, kick_all=False, also=[member.username])
        self.spawn(self._record_result(room, [*match, member], "abandoned", None))
        if server is not None:
            self.spawn(server.stop())
        return True

    def rejoin_match(self, user: Principal, room_id: str) -> dict[str, Any]:
        """REJOIN_MATCH: the running match's address and the player's ticket again (still valid for this match)."""
        room = self.get(room_id)
        member = room.member(user.username)
        if member is None:
            raise BadState(f"you are not in room '{room_id}'")
        if room.state is not RoomState.PLAYING or room.secret is None or room.game_port is None:
            raise BadState(f"no match is running in room '{room_id}'")
        if member not in room.match:
            raise BadState(f"you are not playing the match in room '{room_id}'")
        return self._started_payload(room, user.username)

    def _started_payload(self, room: Room, username: str) -> dict[str, Any]:
        assert room.secret is not None
        return {
            "room_id": room.room_id,
            "game_id": room.game_id,
            "game_name": room.game_name,
            "version": room.version,
            "game_host": room.game_host,
            "game_port": room.game_port,
            "ticket": player_ticket(room.secret, room.room_id, username),
        }

    def set_ready(self, user: Principal, room_id: str, ready: bool) -> Room:
        room = self.get(room_id)
        if room.member(user.username) is None:
            raise BadState(f"you are not in room '{room_id}'")
        require(room.state, RoomAction.READY)
        if ready:
            room.ready.add(user.username)
        else:
            room.ready.discard(user.username)
        self._updated(room)
        return room

    def subscribe(self, peer: Peer, room_id: str) -> Room:
        room = self.get(room_id)
        room.subscribers.add(peer)
        return room

    def unsubscribe(self, peer: Peer, room_id: str | None = None) -> None:
        rooms = [self.get(room_id)] if room_id is not None else list(self.rooms.values())
        for room in rooms:
            room.subscribers.discard(peer)

    # --- closing ---------------------------------------------------------------------------------------------
    def _close(self, room: Room, event: RoomEvent, also: Iterable[str] = ()) -> None:
        """Final: remove the room, its members and its game server."""
        self._set(room, event)
        former = room.names()
        for m in room.members:
            self._member_of.pop(m.account_id, None)
            self._cancel_grace(m.account_id)
        room.members.clear()
        room.ready.clear()
        self.rooms.pop(room.room_id, None)
        self._release_room_quota(room)
        server, room.server = room.server, None
        self._fan_out(room, {"room": room.snapshot()}, [*former, *also])
        room.subscribers.clear()
        log.info("room %s closed", room.room_id)
        self.spawn(self._dispose(room, server))

    async def _dispose(self, room: Room, server: GameServer | None) -> None:
        if server is not None:
            info = await server.stop()
            if room.match:
                await self._record_result(room, room.match, "stopped", None)
                log.info("game server of closed room %s stopped (exit %s)", room.room_id, info.exit_code)
        await self.supervisor.forget_room(room.room_id)

    # --- starting --------------------------------------------------------------------------------------------
    async def start(self, user: Principal, room_id: str) -> dict[str, Any]:
        """The host's START_ROOM: vote, spawn, answer. Runs in a task owned by the app, so a host whose connection
        drops does not leave the room half-started; the caller only waits for the answer."""
        room = self.get(room_id)
        if room.member(user.username) is None:
            raise Forbidden(f"you are not in room '{room_id}'")
        if room.host != user.username:
            raise Forbidden(f"only the host ({room.host}) can start room '{room_id}'")
        require(room.state, RoomAction.START, "the room is already starting or playing")
        if len(room.members) < room.min_players:
            raise BadState(
                f"'{room.game_name}' needs at least {room.min_players} players to start "
                f"({len(room.members)} in the room)"
            )
        # Everything up to the first await happens at once, so two START_ROOMs cannot both pass the checks.
        host = user.username
        others = [n for n in room.names() if n != host]
        if not others:
            self._set(room, RoomEvent.START_SOLO)
            self._updated(room)
            task = self.spawn(self._launch(room, host))
            return await asyncio.shield(task)
        self._set(room, RoomEvent.START_VOTE)
        vote = self.votes.open("START_ROOM", room.room_id, host, set(others), self.settings.vote_timeout_s)
        room.vote_seq = vote.seq
        request = {
            "seq": vote.seq,
            "action": "START_ROOM",
            "room_id": room.room_id,
            "by": host,
            "timeout_s": self.settings.vote_timeout_s,
        }
        self.deliver(others, "VOTE_REQUEST", request)
        self._updated(room)
        task = self.spawn(self._after_vote(room, host, others, vote))
        return await asyncio.shield(task)

    async def _after_vote(self, room: Room, host: str, others: list[str], vote: Vote) -> dict[str, Any]:
        try:
            outcome = await vote.wait()
        finally:
            room.vote_seq = None
            self.votes.close(vote)
        self.deliver(
            dict.fromkeys([*room.names(), *others, host]),
            "VOTE_RESULT",
            {
                "seq": vote.seq,
                "room_id": room.room_id,
                "accepted": outcome.accepted,
                "reason": outcome.reason,
            },
        )
        if not outcome.accepted:
            if room.state is RoomState.VOTING:
                self._set(room, RoomEvent.VOTE_FAILED)
                self._updated(room)
            raise BadState(f"the start vote failed: {outcome.reason}")
        self._set(room, RoomEvent.VOTE_PASSED)
        self._updated(room)
        return await self._launch(room, host)

    async def _launch(self, room: Room, host: str) -> dict[str, Any]:
        secret = secrets.token_hex(32)
        try:
            server = await self.supervisor.spawn(
                room_id=room.room_id,
                game_name=room.game_name,
                version=room.version,
                folder=room.folder,
                entry_server=room.entry_server,
                players=room.names(),
                room_secret=secret,
                lobby_port=self.lobby_port(),
            )
        except Exception as exc:
            # Whatever went wrong (no interpreter, no uid, a full disk...), the room must not stay STARTING.
            if not isinstance(exc, SpawnFailed):
                log.exception("starting the game server of room %s failed", room.room_id)
            reason = f"the game server failed to start: {exc}"
            if room.state is RoomState.STARTING:
                self._set(room, RoomEvent.SERVER_FAILED)
                self._fan_out(room, {"room": room.snapshot(), "reason": reason}, room.names())
            raise BadState(reason) from None
        if room.state is not RoomState.STARTING:  # everyone left while it was starting
            await server.stop(0.2)
            raise BadState(f"room '{room.room_id}' closed while its game server was starting")
        room.server = server
        room.secret = secret
        room.match = list(room.members)
        room.game_host = self.settings.advertised_host
        room.game_port = server.port
        room.ready.clear()
        self._set(room, RoomEvent.SERVER_READY)
        self.spawn(self._watch(room, server))
        self.spawn(self._probe(room, server))
        for m in room.members:
            self.deliver([m.username], "GAME_STARTED", self._started_payload(room, m.username))
        self._updated(room)
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
        return {
            "room_id": room.room_id,
            "game_host": room.game_host,
            "game_port": server.port,
            "version": room.version,
            "ticket": player_ticket(secret, room.room_id, host),
        }

    # --- votes -----------------------------------------------------------------------------------------------
    def vote(self, user: Principal, seq: int, accept: bool) -> None:
        self.votes.cast(seq, user.username, accept)

    # --- the end of a match ----------------------------------------------------------------------------------
    async def _watch(self, room: Room, server: GameServer) -> None:
        info = await server.wait()
        if room.server is not server:
            return  # already ended by GAME_FINISHED or by closing the room
        room.server = None
        reason = _exit_reason(info.exit_code, info.stopped)
        log.info("game server of room %s ended (%s, exit %s)", room.room_id, reason, info.exit_code)
        await self._end_match(room, reason, None, info.exit_code, kick_all=False)

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
            watching=lambda: room.server is server and server.running,
        )
        if not unresponsive or room.server is not server:
            return
        room.server = None
        log.warning("game server of room %s stopped answering; ending its match", room.room_id)
        await self._end_match(room, "unresponsive", None, None, kick_all=False)
        await server.stop()

    async def _end_match(
        self,
        room: Room,
        reason: str,
        results: dict[str, Any] | None,
        exit_code: int | None,
        *,
        kick_all: bool,
    ) -> None:
        match = self._end_match_now(room, reason, results, exit_code, kick_all=kick_all)
        await self._record_result(room, match, reason, results)

    def _end_match_now(
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
        match, room.match = room.match, []
        room.secret = None
        room.game_host = None
        room.game_port = None
        self.deliver(
            dict.fromkeys([*room.names(), *also]),
            "GAME_ENDED",
            {"room_id": room.room_id, "reason": reason, "results": results, "exit_code": exit_code},
        )
        if kick_all:
            self._close(room, RoomEvent.KICK_ALL, also=also)
        else:
            self._set(room, RoomEvent.GAME_ENDED)
            room.ready.clear()
            self._updated(room, also=also)
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

    async def game_finished(
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
        room = self.get(room_id)
        if secret is not None:
            if room.secret is None or not hmac.compare_digest(room.secret, secret):
                raise Forbidden("wrong room secret")
        else:
            require(room.state, RoomAction.FINISH)  # no match running: 105, as for GAME_FINISHED
            if not await self._from_room_server(room, peer, local):
                raise Forbidden("game_finished is accepted only from the room's own game server")
        require(room.state, RoomAction.FINISH)
        server, room.server = room.server, None
        await self._end_match(room, "finished", results, None, kick_all=kick_all)
        if server is not None:
            self.spawn(self._retire(server))

    async def _retire(self, server: GameServer) -> None:
        """Give a finished server a moment to say goodbye to its clients and exit, then stop its group."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait(), self.settings.game_server_finish_grace_s)
        await server.stop()

    async def _from_room_server(
        self, room: Room, peer: tuple[str, int] | None, local: tuple[str, int] | None
    ) -> bool:
        server = room.server
        if server is None or peer is None or local is None:
            return False
        return await asyncio.to_thread(self.supervisor.owns_connection, server, peer, local)

    # --- sessions: logout, dropped connections, reconnects ----------------------------------------------------
    def _cancel_grace(self, account_id: int) -> None:
        handle = self._grace.pop(account_id, None)
        if handle is not None:
            handle.cancel()

    def _on_session(self, event: str, principal: Principal) -> None:
        if principal.role is not Role.PLAYER or self._closing:
            return
        room = self._member_of.get(principal.account_id)
        if room is None:
            return
        if event == "disconnect":
            self._cancel_grace(principal.account_id)
            loop = asyncio.get_running_loop()
            self._grace[principal.account_id] = loop.call_later(
                self.settings.disconnect_grace_s, self._grace_over, principal.account_id
            )
        elif event in ("resume", "login"):
            self._cancel_grace(principal.account_id)
            self.deliver([principal.username], "ROOM_UPDATED", {"room": room.snapshot()})
        elif event in ("logout", "expire"):
            self._remove(room, principal.account_id, "logged out" if event == "logout" else "timed out")

    def _grace_over(self, account_id: int) -> None:
        self._grace.pop(account_id, None)
        room = self._member_of.get(account_id)
        if room is None:
            return
        current = self.sessions.by_account(Role.PLAYER, account_id)
        if current is None or not current.online:
            self._remove(room, account_id, "was disconnected too long")

    # --- shutdown --------------------------------------------------------------------------------------------
    # --- quotas: open rooms per creating account and per client IP ----------------------------------------------
    def _check_room_quota(self, user: Principal) -> tuple[int, str]:
        ip = ip_key(user.peer.remote_ip) if user.peer is not None else ""
        s = self.settings
        if over(self._rooms_per_account, user.account_id, s.max_rooms_per_account):
            raise BadState(f"you already have {s.max_rooms_per_account} open rooms: close one first")
        if over(self._rooms_per_ip, ip, s.max_rooms_per_ip):
            raise BadState(f"this address already has {s.max_rooms_per_ip} open rooms: close one first")
        return (user.account_id, ip)

    def _take_room_quota(self, room: Room, creator: tuple[int, str]) -> None:
        room.creator = creator
        self._rooms_per_account.add(creator[0])
        self._rooms_per_ip.add(creator[1])

    def _release_room_quota(self, room: Room) -> None:
        creator, room.creator = room.creator, None
        if creator is not None:
            self._rooms_per_account.remove(creator[0])
            self._rooms_per_ip.remove(creator[1])

    async def close(self) -> None:
        self._closing = True
        for handle in self._grace.values():
            handle.cancel()
        self._grace.clear()
        unfinished = []
        for room in list(self.rooms.values()):
            room.server = None
            if room.match:
                unfinished.append((room, room.match))
                room.match = []
        await self.supervisor.stop_all()
        for room, match in unfinished:
            await self._record_result(room, match, "stopped", None)


# Signals that mean someone stopped the server on purpose (Ctrl+C, kill), as opposed to a crash.
_STOP_SIGNALS = frozenset({-signal.SIGINT, -signal.SIGTERM, -signal.SIGHUP})


def _exit_reason(exit_code: int, stopped_by_us: bool) -> str:
    if stopped_by_us or exit_code in _STOP_SIGNALS:
        return "stopped"
    return "exited" if exit_code == 0 else "crashed"


def _int(value: Any, default: int) -> int:
    return value if type(value) is int and value > 0 else default


def _load_latest(conn: Any, game_id: str) -> tuple[catalog.GameRow | None, catalog.VersionRow | None]:
    game = catalog.get_game(conn, game_id)
    if game is None or game.latest_version is None:
        return game, None
    return game, catalog.get_version(conn, game_id, game.latest_version)

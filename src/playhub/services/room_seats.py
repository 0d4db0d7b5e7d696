"""Rooms and their seats: create, join, leave, host hand-over, the disconnect grace, watchers and subscriptions.

This is the registry every other room service reads (``get``, ``room_of``) and the one place that announces a room
(``announce``: ``ROOM_UPDATED`` to its members, the room's topic ``room:<id>`` and the ``lobby`` topic, through the
push bus). It knows nothing of votes or game servers: the start flow and the match lifecycle hook into a departure
(``on_departure``, ``on_left_playing``) and into a closing room (``on_closed``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from playhub.protocol.errors import BadState, NotFound
from playhub.protocol.lobby import MatchInfo, RoomInfo
from playhub.protocol.pushes import Push, RoomUpdated
from playhub.services import room_states as rs
from playhub.services.bus import Audience, PushBus
from playhub.services.quotas import Tally, ip_key, over
from playhub.services.room_states import Member, Room, RoomEvent
from playhub.services.sessions import Peer, Principal, Role, SessionRegistry
from playhub.settings import Settings
from playhub.store import catalog
from playhub.store.blobs import BlobStore
from playhub.store.db import Database
from playhub.supervisor import GameServer

log = logging.getLogger("playhub.rooms")

_UNSAFE = re.compile(r"[^a-z0-9_-]+")

LOBBY_TOPIC = "lobby"  # WATCH_LOBBY: every room change


def room_topic(room_id: str) -> str:
    """SUBSCRIBE_ROOM: one room's changes."""
    return f"room:{room_id}"


# A player took a seat (created or joined the room): e.g. the room's chat channel.
SeatedHook = Callable[[Room, Member], None]
# A member left (any state, before the room may close): e.g. cancel a running vote.
DepartureHook = Callable[[Room, Member, str], None]
# A member left a room that stays open: True when the hook already announced the room (the match ended).
LeftHook = Callable[[Room, Member], bool]
# A room closed; the game server it still had (if any) is handed over to be stopped.
ClosedHook = Callable[[Room, GameServer | None], None]


def room_info(room: Room) -> RoomInfo:
    """How a room is shown in every reply and push."""
    names = room.names()
    ready = room.ready
    match = None
    if room.match_running:
        match = MatchInfo([m.username for m in room.match], room.game_host, room.game_port)
    return RoomInfo(
        room_id=room.room_id,
        game_id=room.game_id,
        game_name=room.game_name,
        display_name=room.display_name,
        version=room.version,
        host=room.host,
        players=names,
        ready=[n for n in names if n in ready],
        status=room.state.value,
        max_players=room.max_players,
        min_players=room.min_players,
        all_ready=room.all_ready,
        match=match,
    )


class SeatService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        blobs: BlobStore,
        sessions: SessionRegistry,
        bus: PushBus,
    ) -> None:
        self.settings = settings
        self.db = db
        self.blobs = blobs
        self.sessions = sessions
        self.bus = bus
        self.rooms: dict[str, Room] = {}
        self._member_of: dict[int, Room] = {}  # account id -> room: a player is in at most one room
        self._grace: dict[int, asyncio.TimerHandle] = {}
        self._closing = False
        self._rooms_per_account = Tally()
        self._rooms_per_ip = Tally()
        self.on_seated: list[SeatedHook] = []
        self.on_departure: list[DepartureHook] = []
        self.on_left_playing: list[LeftHook] = []
        self.on_closed: list[ClosedHook] = []
        sessions.subscribe(self._on_session)

    # --- reads -----------------------------------------------------------------------------------------------
    def list_rooms(self) -> list[Room]:
        return list(self.rooms.values())

    def get(self, room_id: str) -> Room:
        room = self.rooms.get(room_id)
        if room is None:
            raise NotFound(f"no room '{room_id}'")
        return room

    def room_of(self, account_id: int) -> Room | None:
        return self._member_of.get(account_id)

    # --- announcing ------------------------------------------------------------------------------------------
    def announce(self, room: Room, also: Iterable[str] = (), reason: str | None = None) -> None:
        """ROOM_UPDATED to the members (and ``also``), the room's subscribers and the lobby watchers, once per
        connection."""
        audience = Audience.users([*room.names(), *also]) | Audience.topic(room_topic(room.room_id), LOBBY_TOPIC)
        push = RoomUpdated(room_info(room)) if reason is None else RoomUpdated(room_info(room), reason)
        self.bus.publish(audience, push)

    def tell(self, names: Iterable[str], push: Push) -> None:
        """One push to the named players (each once)."""
        self.bus.publish(Audience.users(names), push)

    # --- watching the lobby, subscribing to a room -----------------------------------------------------------
    # A closed connection leaves every topic by itself (the server drops it from the bus).
    def watch_lobby(self, peer: Peer) -> list[Room]:
        """From now on ``peer`` gets ROOM_UPDATED for every room (created, changed, closed): live lobby lists."""
        self.bus.subscribe(LOBBY_TOPIC, peer)
        return self.list_rooms()

    def unwatch_lobby(self, peer: Peer) -> None:
        self.bus.unsubscribe(LOBBY_TOPIC, peer)

    def subscribe(self, peer: Peer, room_id: str) -> Room:
        room = self.get(room_id)
        self.bus.subscribe(room_topic(room_id), peer)
        return room

    def unsubscribe(self, peer: Peer, room_id: str) -> None:
        self.get(room_id)
        self.bus.unsubscribe(room_topic(room_id), peer)

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
        prefix = _UNSAFE.sub("-", game.name.lower())[: self.settings.room_id_prefix_chars] or "room"
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
        self.announce(room)
        return room

    def _seat(self, room: Room, user: Principal) -> None:
        member = Member(user.username, user.account_id)
        rs.seat(room, member)
        self._member_of[user.account_id] = room
        for seated in self.on_seated:
            seated(room, member)

    def join(self, user: Principal, room_id: str) -> Room:
        room = self.get(room_id)
        current = self._member_of.get(user.account_id)
        if current is room:
            return room  # joining the room you are in is a no-op
        self._require_free(user)
        rs.check_join(room)
        self._seat(room, user)
        self.announce(room)
        return room

    def leave(self, user: Principal, room_id: str) -> None:
        room = self.get(room_id)
        rs.require_member(room, user.username)
        self.remove(room, user.account_id, "left the room")

    def remove(self, room: Room, account_id: int, why: str) -> None:
        """Take a member out of ``room``: the room closes when it empties, else its host may change and a running
        match may be abandoned."""
        member = rs.unseat(room, account_id)
        if member is None:
            return
        self._member_of.pop(account_id, None)
        self._cancel_grace(account_id)
        for departure in self.on_departure:
            departure(room, member, why)
        if not room.members:
            self.close(room, RoomEvent.EMPTIED, also=[member.username])
            return
        log.info("%s %s %s", member.username, why, room.room_id)
        announced = False
        for left in self.on_left_playing:
            announced = left(room, member) or announced
        if not announced:
            self.announce(room, also=[member.username])

    # --- closing ---------------------------------------------------------------------------------------------
    def close(self, room: Room, event: RoomEvent, also: Iterable[str] = ()) -> None:
        """Final: remove the room and its members; its game server goes to the ``on_closed`` hooks."""
        former, server = rs.close(room, event)
        for m in former:
            self._member_of.pop(m.account_id, None)
            self._cancel_grace(m.account_id)
        self.rooms.pop(room.room_id, None)
        self._release_room_quota(room)
        self.announce(room, also=[*(m.username for m in former), *also])
        self.bus.drop_topic(room_topic(room.room_id))
        log.info("room %s closed", room.room_id)
        for closed in self.on_closed:
            closed(room, server)

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
            self.tell([principal.username], RoomUpdated(room_info(room)))
        elif event in ("logout", "expire"):
            self.remove(room, principal.account_id, "logged out" if event == "logout" else "timed out")

    def _grace_over(self, account_id: int) -> None:
        self._grace.pop(account_id, None)
        room = self._member_of.get(account_id)
        if room is None:
            return
        current = self.sessions.by_account(Role.PLAYER, account_id)
        if current is None or not current.online:
            self.remove(room, account_id, "was disconnected too long")

    # --- quotas: open rooms per creating account and per client IP --------------------------------------------
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

    # --- shutdown --------------------------------------------------------------------------------------------
    def close_all(self) -> None:
        """Stop reacting to sessions (the server is stopping); rooms stay as they are."""
        self._closing = True
        for handle in self._grace.values():
            handle.cancel()
        self._grace.clear()


def _int(value: Any, default: int) -> int:
    return value if type(value) is int and value > 0 else default


def _load_latest(conn: Any, game_id: str) -> tuple[catalog.GameRow | None, catalog.VersionRow | None]:
    game = catalog.get_game(conn, game_id)
    if game is None or game.latest_version is None:
        return game, None
    return game, catalog.get_version(conn, game_id, game.latest_version)

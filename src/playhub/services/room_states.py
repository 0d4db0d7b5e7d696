"""A room's life cycle: one explicit transition table, its guards and its side state (in the manner of h11's
``_state.py``).

Every change of a room's ``status`` goes through :func:`transition`, so ``TRANSITIONS`` is the whole truth about which
events are allowed in which state. Actions that do not change the state (a member joins, marks ready, ...) are checked
against ``ACCEPTS``. Everything else that decides or accompanies a transition lives here too: the guards (who may
start, how many players a start needs, whose secret ends a match, when a match is abandoned) and the side state each
transition sets or clears (ready marks, the vote, the match, its address and secret). This module is pure: no I/O, no
asyncio, no pushes; the room services call it and announce what changed.

Mapping to seed 003's status strings: ``WAITING`` = "waiting", ``VOTING`` = "waiting" with ``start.state`` "proposed",
``STARTING`` = "agreed" (the game server is being spawned), ``PLAYING`` = "in_game", ``CLOSED`` = "closed".
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from playhub.protocol.errors import BadState, Forbidden

if TYPE_CHECKING:
    from playhub.supervisor import GameServer


class RoomState(enum.StrEnum):
    WAITING = "WAITING"  # members gather, mark ready; the host may start
    VOTING = "VOTING"  # the host asked to start; waiting for every other member's vote
    STARTING = "STARTING"  # vote passed; the game server is being spawned and probed
    PLAYING = "PLAYING"  # the game server accepts connections; a match is running
    CLOSED = "CLOSED"  # final: the room is gone


class RoomEvent(enum.StrEnum):
    START_VOTE = "start_vote"  # host's START_ROOM with other members present
    START_SOLO = "start_solo"  # host's START_ROOM alone in the room (no vote needed)
    VOTE_PASSED = "vote_passed"
    VOTE_FAILED = "vote_failed"  # refused, timed out, or a member left during the vote
    SERVER_READY = "server_ready"
    SERVER_FAILED = "server_failed"  # crashed at start or never listened
    GAME_ENDED = "game_ended"  # finished (GAME_FINISHED), exited or crashed mid-game
    KICK_ALL = "kick_all"  # GAME_FINISHED with kick_all: the room is dissolved
    EMPTIED = "emptied"  # the last member left


S, E = RoomState, RoomEvent

TRANSITIONS: dict[tuple[RoomState, RoomEvent], RoomState] = {
    (S.WAITING, E.START_VOTE): S.VOTING,
    (S.WAITING, E.START_SOLO): S.STARTING,
    (S.WAITING, E.EMPTIED): S.CLOSED,
    (S.VOTING, E.VOTE_PASSED): S.STARTING,
    (S.VOTING, E.VOTE_FAILED): S.WAITING,
    (S.VOTING, E.EMPTIED): S.CLOSED,
    (S.STARTING, E.SERVER_READY): S.PLAYING,
    (S.STARTING, E.SERVER_FAILED): S.WAITING,
    (S.STARTING, E.EMPTIED): S.CLOSED,
    (S.PLAYING, E.GAME_ENDED): S.WAITING,
    (S.PLAYING, E.KICK_ALL): S.CLOSED,
    (S.PLAYING, E.EMPTIED): S.CLOSED,
}


class RoomAction(enum.StrEnum):
    """Things members do that need a given state but do not change it."""

    JOIN = "join"
    LEAVE = "leave"
    READY = "ready"
    START = "start"
    FINISH = "finish"  # a game server reports the end of its match


ACCEPTS: dict[RoomAction, frozenset[RoomState]] = {
    RoomAction.JOIN: frozenset({S.WAITING}),
    RoomAction.LEAVE: frozenset({S.WAITING, S.VOTING, S.STARTING, S.PLAYING}),
    RoomAction.READY: frozenset({S.WAITING, S.VOTING}),
    RoomAction.START: frozenset({S.WAITING}),
    RoomAction.FINISH: frozenset({S.PLAYING}),
}

_REFUSALS: dict[RoomAction, str] = {
    RoomAction.JOIN: "the room cannot be joined now",
    RoomAction.LEAVE: "the room is closed",
    RoomAction.READY: "ready marks can change only while the room is waiting",
    RoomAction.START: "the room cannot start now",
    RoomAction.FINISH: "no match is running in this room",
}


def transition(state: RoomState, event: RoomEvent) -> RoomState:
    """The state after ``event``; raises BadState (105) for an event the table does not allow in ``state``."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise BadState(f"room is {state.value}: '{event.value}' is not possible now") from None


def can(state: RoomState, event: RoomEvent) -> bool:
    return (state, event) in TRANSITIONS


def allowed(state: RoomState, action: RoomAction) -> bool:
    return state in ACCEPTS[action]


def require(state: RoomState, action: RoomAction, detail: str | None = None) -> None:
    """Raise BadState (105) when ``action`` is not possible in ``state``."""
    if state not in ACCEPTS[action]:
        raise BadState(f"{detail or _REFUSALS[action]} (room is {state.value})")


# --- the state a transition reads and writes -------------------------------------------------------------------------
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
    creator: tuple[int, str] | None = None  # (account id, IP key) the room counts against while open

    def names(self) -> list[str]:
        return [m.username for m in self.members]

    def member(self, username: str) -> Member | None:
        for m in self.members:
            if m.username == username:
                return m
        return None

    @property
    def all_ready(self) -> bool:
        """Enough members and every one of them ready: the host can start without asking around."""
        return len(self.members) >= self.min_players and self.ready.issuperset(self.names())

    @property
    def match_running(self) -> bool:
        """A match whose address can be handed out (PLAYING with a listening game server)."""
        return self.state is RoomState.PLAYING and self.game_port is not None


def fire(room: Room, event: RoomEvent) -> None:
    room.state = transition(room.state, event)


# --- guards ----------------------------------------------------------------------------------------------------------
def require_member(room: Room, username: str) -> Member:
    member = room.member(username)
    if member is None:
        raise BadState(f"you are not in room '{room.room_id}'")
    return member


def check_join(room: Room) -> None:
    require(room.state, RoomAction.JOIN, "the room has already started")
    if len(room.members) >= room.max_players:
        raise BadState(f"room '{room.room_id}' is full ({room.max_players} players)")


def check_ready(room: Room, username: str) -> None:
    require_member(room, username)
    require(room.state, RoomAction.READY)


def check_start(room: Room, username: str) -> None:
    """The host's START_ROOM: 102 for a non-member or a non-host, 105 in the wrong state or with too few members."""
    if room.member(username) is None:
        raise Forbidden(f"you are not in room '{room.room_id}'")
    if room.host != username:
        raise Forbidden(f"only the host ({room.host}) can start room '{room.room_id}'")
    require(room.state, RoomAction.START, "the room is already starting or playing")
    if len(room.members) < room.min_players:
        raise BadState(
            f"'{room.game_name}' needs at least {room.min_players} players to start ({len(room.members)} in the room)"
        )


def check_leave_match(room: Room, username: str) -> Member:
    member = require_member(room, username)
    if room.state is not RoomState.PLAYING or member not in room.match:
        raise BadState(f"you are not playing a match in room '{room.room_id}'")
    return member


def check_rejoin(room: Room, username: str) -> Member:
    member = require_member(room, username)
    if room.state is not RoomState.PLAYING or room.secret is None or room.game_port is None:
        raise BadState(f"no match is running in room '{room.room_id}'")
    if member not in room.match:
        raise BadState(f"you are not playing the match in room '{room.room_id}'")
    return member


def check_finish(room: Room, secret: str) -> None:
    """GAME_FINISHED with the room secret: 102 for a wrong secret (or no match), 105 when no match is running."""
    if room.secret is None or not hmac.compare_digest(room.secret, secret):
        raise Forbidden("wrong room secret")
    require(room.state, RoomAction.FINISH)


# --- membership (no state change) ------------------------------------------------------------------------------------
def seat(room: Room, member: Member) -> None:
    room.members.append(member)


def unseat(room: Room, account_id: int) -> Member | None:
    """Take a member out; when the host leaves, the next member in join order becomes host."""
    member = next((m for m in room.members if m.account_id == account_id), None)
    if member is None:
        return None
    room.members.remove(member)
    room.ready.discard(member.username)
    if room.members and room.host == member.username:
        room.host = room.members[0].username
    return member


def set_ready(room: Room, username: str, ready: bool) -> None:
    check_ready(room, username)
    if ready:
        room.ready.add(username)
    else:
        room.ready.discard(username)


# --- transitions with their side state -------------------------------------------------------------------------------
def start(room: Room, host: str) -> list[str]:
    """START_ROOM passed its guards: start alone (START_SOLO) or ask the others (START_VOTE). Returns the others."""
    check_start(room, host)
    others = [n for n in room.names() if n != host]
    fire(room, RoomEvent.START_VOTE if others else RoomEvent.START_SOLO)
    return others


def vote_opened(room: Room, seq: int) -> None:
    room.vote_seq = seq


def vote_closed(room: Room) -> None:
    room.vote_seq = None


def vote_decided(room: Room, accepted: bool) -> bool:
    """VOTE_PASSED, or VOTE_FAILED while the room still waits for it. True when the state changed."""
    if accepted:
        fire(room, RoomEvent.VOTE_PASSED)
        return True
    if room.state is RoomState.VOTING:
        fire(room, RoomEvent.VOTE_FAILED)
        return True
    return False


def server_failed(room: Room) -> bool:
    """SERVER_FAILED while the room still waits for its game server. True when the state changed."""
    if room.state is not RoomState.STARTING:
        return False
    fire(room, RoomEvent.SERVER_FAILED)
    return True


def still_starting(room: Room) -> bool:
    """False when every member left while the game server was starting (the server must then be stopped)."""
    return room.state is RoomState.STARTING


def server_ready(room: Room, server: GameServer, secret: str, game_host: str, game_port: int) -> None:
    """SERVER_READY: the match is every member, ready marks are cleared."""
    fire(room, RoomEvent.SERVER_READY)
    room.server = server
    room.secret = secret
    room.match = list(room.members)
    room.game_host = game_host
    room.game_port = game_port
    room.ready.clear()


def runs_on(room: Room, server: GameServer) -> bool:
    """Is ``server`` still the room's game server? False once the match was ended another way (GAME_FINISHED, the
    room closing, a probe or the exit watcher): whoever detached it handles the end."""
    return room.server is server


def detach_server(room: Room) -> GameServer | None:
    """Take the game server out of the room (whoever detaches it stops it); None when already taken."""
    server, room.server = room.server, None
    return server


def leave_match(room: Room, member: Member) -> bool:
    """Take ``member`` out of the running match. True when fewer than the game's minimum remain: the match is
    abandoned (seed 003 ends a game when a player leaves it) and must end."""
    if room.state is not RoomState.PLAYING or member not in room.match:
        return False
    room.match = [m for m in room.match if m is not member]
    return len(room.match) < room.min_players


def end_match(room: Room, *, kick_all: bool) -> list[Member]:
    """The match is over: forget its players, address and secret. Without ``kick_all`` the room waits again
    (GAME_ENDED, ready marks cleared); with it the caller closes the room (KICK_ALL). Returns who played."""
    match, room.match = room.match, []
    room.secret = None
    room.game_host = None
    room.game_port = None
    if not kick_all:
        fire(room, RoomEvent.GAME_ENDED)
        room.ready.clear()
    return match


def cut_short(room: Room) -> list[Member]:
    """The platform stops with the match running: its server is stopped by the supervisor, its players returned to
    be recorded as "stopped". The room itself is not kept across a restart."""
    detach_server(room)
    match, room.match = room.match, []
    return match


def close(room: Room, event: RoomEvent) -> tuple[list[Member], GameServer | None]:
    """EMPTIED or KICK_ALL: final. Returns the former members and the game server still to stop (if any)."""
    fire(room, event)
    former = list(room.members)
    room.members.clear()
    room.ready.clear()
    return former, detach_server(room)

"""A room's life cycle as one explicit transition table (in the manner of h11's ``_state.py``).

Every change of a room's ``status`` goes through :func:`transition`, so the table below is the whole truth about which
events are allowed in which state. Events that do not change the state (a member joins, marks ready, ...) are checked
by :func:`allowed` against ``ACCEPTS``.

Mapping to seed 003's status strings: ``WAITING`` = "waiting", ``VOTING`` = "waiting" with ``start.state`` "proposed",
``STARTING`` = "agreed" (the game server is being spawned), ``PLAYING`` = "in_game", ``CLOSED`` = "closed".
"""

from __future__ import annotations

import enum

from playhub.protocol.errors import BadState


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

"""The room state machine, its guards and side state, tested as tables."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from playhub.protocol.codes import Code
from playhub.protocol.errors import BadState
from playhub.services import room_states as rs
from playhub.services.room_states import (
    ACCEPTS,
    TRANSITIONS,
    RoomAction,
    RoomEvent,
    RoomState,
    allowed,
    can,
    require,
    transition,
)

S, E, A = RoomState, RoomEvent, RoomAction

# The expected table, written out independently of the implementation.
EXPECTED = {
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


@pytest.mark.parametrize(("state", "event"), list(itertools.product(S, E)))
def test_every_state_event_pair(state: RoomState, event: RoomEvent) -> None:
    if (state, event) in EXPECTED:
        assert can(state, event)
        assert transition(state, event) is EXPECTED[(state, event)]
    else:
        assert not can(state, event)
        with pytest.raises(BadState) as info:
            transition(state, event)
        assert state.value in info.value.message and event.value in info.value.message


def test_table_is_exactly_the_expected_one() -> None:
    assert TRANSITIONS == EXPECTED


def test_closed_is_final_and_every_other_state_can_close() -> None:
    assert not any(s is S.CLOSED for s, _ in TRANSITIONS)
    for state in (S.WAITING, S.VOTING, S.STARTING, S.PLAYING):
        assert transition(state, E.EMPTIED) is S.CLOSED


def test_every_state_is_reachable_from_waiting() -> None:
    seen, frontier = {S.WAITING}, [S.WAITING]
    while frontier:
        state = frontier.pop()
        for (src, _), dst in TRANSITIONS.items():
            if src is state and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    assert seen == set(S)


ACTIONS_EXPECTED = {
    A.JOIN: {S.WAITING},
    A.LEAVE: {S.WAITING, S.VOTING, S.STARTING, S.PLAYING},
    A.READY: {S.WAITING, S.VOTING},
    A.START: {S.WAITING},
    A.FINISH: {S.PLAYING},
}


@pytest.mark.parametrize(("action", "state"), list(itertools.product(A, S)))
def test_actions_table(action: RoomAction, state: RoomState) -> None:
    expected = state in ACTIONS_EXPECTED[action]
    assert allowed(state, action) is expected
    assert (state in ACCEPTS[action]) is expected
    if expected:
        require(state, action)
    else:
        with pytest.raises(BadState):
            require(state, action)


# --- guards and side state, as tables ---------------------------------------------------------------------------------


def _room(state: RoomState = S.WAITING, names: tuple[str, ...] = ("ann", "bob"), min_players: int = 2) -> rs.Room:
    room = rs.Room("r-1", "g1", "game", "Game", "1.0.0", Path("."), "server.py", 3, min_players, names[0])
    for i, name in enumerate(names):
        rs.seat(room, rs.Member(name, i + 1))
    room.state = state
    return room


def _code(fn, *args) -> Code | None:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except BadState:
        return Code.BAD_STATE
    except rs.Forbidden:
        return Code.FORBIDDEN
    return None


# (room state, members, min players, who starts) -> the code START_ROOM answers (None = it starts)
START_GUARDS = [
    (S.WAITING, ("ann", "bob"), 2, "ann", None),
    (S.WAITING, ("ann", "bob"), 2, "bob", Code.FORBIDDEN),  # not the host
    (S.WAITING, ("ann", "bob"), 2, "cid", Code.FORBIDDEN),  # not a member
    (S.WAITING, ("ann",), 2, "ann", Code.BAD_STATE),  # too few members
    (S.VOTING, ("ann", "bob"), 2, "ann", Code.BAD_STATE),
    (S.STARTING, ("ann", "bob"), 2, "ann", Code.BAD_STATE),
    (S.PLAYING, ("ann", "bob"), 2, "ann", Code.BAD_STATE),
]


@pytest.mark.parametrize(("state", "names", "min_players", "who", "code"), START_GUARDS)
def test_start_guards(state: RoomState, names: tuple[str, ...], min_players: int, who: str, code: Code | None) -> None:
    room = _room(state, names, min_players)
    assert _code(rs.check_start, room, who) is code


@pytest.mark.parametrize(
    ("names", "expected_state", "others"),
    [(("ann",), S.STARTING, []), (("ann", "bob"), S.VOTING, ["bob"])],
)
def test_start_goes_solo_or_to_a_vote(names: tuple[str, ...], expected_state: RoomState, others: list[str]) -> None:
    room = _room(names=names, min_players=1)
    assert rs.start(room, "ann") == others
    assert room.state is expected_state


JOIN_GUARDS = [(S.WAITING, 2, None), (S.WAITING, 3, Code.BAD_STATE)] + [
    (state, 1, Code.BAD_STATE) for state in (S.VOTING, S.STARTING, S.PLAYING)
]


@pytest.mark.parametrize(("state", "members", "code"), JOIN_GUARDS)
def test_join_guards(state: RoomState, members: int, code: Code | None) -> None:
    room = _room(state, ("ann", "bob", "cid")[:members])
    assert _code(rs.check_join, room) is code


def _playing(names: tuple[str, ...] = ("ann", "bob", "cid"), min_players: int = 2) -> rs.Room:
    room = _room(S.STARTING, names, min_players)
    room.ready.update(names)
    rs.server_ready(room, None, "s3cret", "127.0.0.1", 4242)  # type: ignore[arg-type]
    return room


def test_server_ready_sets_the_match_and_clears_ready_marks() -> None:
    room = _playing()
    assert room.state is S.PLAYING and room.ready == set()
    assert [m.username for m in room.match] == ["ann", "bob", "cid"]
    assert (room.secret, room.game_host, room.game_port) == ("s3cret", "127.0.0.1", 4242)
    assert room.match_running


@pytest.mark.parametrize(("kick_all", "state"), [(False, S.WAITING), (True, S.PLAYING)])
def test_end_match_forgets_the_match(kick_all: bool, state: RoomState) -> None:
    room = _playing()
    room.ready.add("ann")
    match = rs.end_match(room, kick_all=kick_all)
    assert [m.username for m in match] == ["ann", "bob", "cid"]
    assert room.match == [] and room.secret is None and room.game_port is None and not room.match_running
    assert room.state is state  # with kick_all the caller closes the room
    if not kick_all:
        assert room.ready == set()


def test_leaving_the_match_abandons_it_below_the_minimum() -> None:
    room = _playing(min_players=2)
    ann, bob, cid = room.members
    assert rs.leave_match(room, ann) is False  # two remain
    assert rs.leave_match(room, ann) is False  # no longer in the match
    assert rs.leave_match(room, bob) is True  # one remains: abandoned
    assert room.match == [cid]


# (state, secret given) -> the code GAME_FINISHED answers
FINISH_GUARDS = [
    (True, "s3cret", None),
    (True, "wrong", Code.FORBIDDEN),
    (False, "s3cret", Code.FORBIDDEN),  # no match: no secret to compare with
]


@pytest.mark.parametrize(("playing", "secret", "code"), FINISH_GUARDS)
def test_finish_guards(playing: bool, secret: str, code: Code | None) -> None:
    room = _playing() if playing else _room()
    assert _code(rs.check_finish, room, secret) is code


def test_finish_needs_a_running_match_even_with_the_right_secret() -> None:
    room = _playing()
    room.state = S.WAITING
    assert _code(rs.check_finish, room, "s3cret") is Code.BAD_STATE


def test_host_passes_to_the_next_member_in_join_order() -> None:
    room = _room(names=("ann", "bob", "cid"))
    room.ready.add("ann")
    gone = rs.unseat(room, 1)
    assert gone is not None and gone.username == "ann"
    assert room.host == "bob" and room.ready == set()
    assert rs.unseat(room, 1) is None


@pytest.mark.parametrize(("state", "changes"), [(S.VOTING, True), (S.CLOSED, False)])
def test_a_failed_vote_returns_the_room_to_waiting_only_while_voting(state: RoomState, changes: bool) -> None:
    room = _room(state)
    assert rs.vote_decided(room, False) is changes
    assert room.state is (S.WAITING if changes else state)


@pytest.mark.parametrize("event", [E.EMPTIED, E.KICK_ALL])
def test_close_empties_the_room_and_hands_over_its_server(event: RoomEvent) -> None:
    room = _playing()
    former, server = rs.close(room, event)
    assert [m.username for m in former] == ["ann", "bob", "cid"]
    assert server is None and room.members == [] and room.state is S.CLOSED
    assert room.match  # kept, so the cut-short match is recorded when its server stops


def test_the_server_belongs_to_the_room_until_detached() -> None:
    room = _room(S.STARTING)
    server = object()
    rs.server_ready(room, server, "s3cret", "127.0.0.1", 4242)  # type: ignore[arg-type]
    assert rs.runs_on(room, server)  # type: ignore[arg-type]
    assert rs.detach_server(room) is server
    assert not rs.runs_on(room, server)  # type: ignore[arg-type]
    assert rs.detach_server(room) is None  # only one caller stops it


def test_a_stopping_platform_cuts_the_match_short() -> None:
    room = _playing()
    assert [m.username for m in rs.cut_short(room)] == ["ann", "bob", "cid"]
    assert room.match == [] and room.server is None
    assert rs.cut_short(room) == []

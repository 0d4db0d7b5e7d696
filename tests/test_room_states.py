"""The room state machine, tested as a table."""

from __future__ import annotations

import itertools

import pytest

from playhub.protocol.errors import BadState
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

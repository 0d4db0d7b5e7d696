"""The vote service on its own: how long decided votes are remembered (setting ``vote_memory``)."""

from __future__ import annotations

import asyncio

import pytest

from playhub.protocol.codes import Code
from playhub.protocol.errors import BadState, NotFound, PlayHubError
from playhub.services.votes import VoteService
from tests.lobby_helpers import make_game


def _cast_code(votes: VoteService, seq: int) -> Code:
    with pytest.raises(PlayHubError) as info:
        votes.cast(seq, "bob", True)
    return Code(info.value.code)


async def test_a_late_vote_is_already_decided_while_remembered_then_unknown() -> None:
    votes = VoteService(memory=2)
    seqs = []
    for _ in range(3):
        vote = votes.open("START_ROOM", "r-1", "ann", {"bob"}, 30.0)
        votes.cancel(vote, "ann left the room")
        votes.close(vote)
        seqs.append(vote.seq)
    assert _cast_code(votes, seqs[2]) is Code.BAD_STATE
    assert _cast_code(votes, seqs[1]) is Code.BAD_STATE
    assert _cast_code(votes, seqs[0]) is Code.NOT_FOUND  # forgotten: only the last two are remembered
    assert _cast_code(votes, 999) is Code.NOT_FOUND


async def test_the_server_remembers_vote_memory_decided_votes(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(vote_memory=1)
    game_id = await make_game(hub.app, "memory", max_players=2, min_players=2)
    host, guest = await hub.player("p0-memory"), await hub.player("p1-memory")
    room_id = (await host.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await guest.request("JOIN_ROOM", {"room_id": room_id})
    requests = guest.subscribe("VOTE_REQUEST")
    seqs = []
    for _ in range(2):
        pending = asyncio.ensure_future(host.request("START_ROOM", {"room_id": room_id}))
        seq = (await asyncio.wait_for(requests.get(), 5))["payload"]["seq"]
        await guest.request("VOTE", {"seq": seq, "accept": False})
        with pytest.raises(BadState):
            await pending
        seqs.append(seq)
    with pytest.raises(BadState):  # the last decided vote is remembered
        await guest.request("VOTE", {"seq": seqs[1], "accept": True})
    with pytest.raises(NotFound):  # the one before it is forgotten
        await guest.request("VOTE", {"seq": seqs[0], "accept": True})

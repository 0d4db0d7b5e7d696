"""The blocking start vote: refusal, timeout, members leaving, and every VOTE error."""

from __future__ import annotations

import asyncio

import pytest

from playhub.client.connection import ConnectionLost
from playhub.protocol.errors import BadState, Forbidden, NotFound
from tests.helpers import Harness
from tests.lobby_helpers import make_game


async def _room(hub: Harness, n: int, name: str = "voting") -> tuple[list, str]:
    game_id = await make_game(hub.app, name, max_players=n, min_players=n)
    clients = [await hub.player(f"p{i}-{name}") for i in range(n)]
    room_id = (await clients[0].request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    for c in clients[1:]:
        await c.request("JOIN_ROOM", {"room_id": room_id})
    return clients, room_id


async def test_refused_vote_answers_105_naming_who(hub: Harness) -> None:
    (host, guest), room_id = await _room(hub, 2)
    votes = guest.subscribe("VOTE_REQUEST")
    results = [host.subscribe("VOTE_RESULT"), guest.subscribe("VOTE_RESULT")]
    pending = asyncio.ensure_future(host.request("START_ROOM", {"room_id": room_id}))
    req = (await asyncio.wait_for(votes.get(), 5))["payload"]
    assert (await host.request("LIST_ROOMS"))["rooms"][0]["status"] == "VOTING"
    await guest.request("VOTE", {"seq": req["seq"], "accept": False})
    with pytest.raises(BadState) as info:
        await pending
    assert "refused by p1-voting" in info.value.message
    for q in results:
        res = (await asyncio.wait_for(q.get(), 5))["payload"]
        assert res == {
            "seq": req["seq"],
            "room_id": room_id,
            "accepted": False,
            "reason": "refused by p1-voting",
        }
    assert (await host.request("LIST_ROOMS"))["rooms"][0]["status"] == "WAITING"
    with pytest.raises(BadState):  # the vote is decided: a late answer is 105
        await guest.request("VOTE", {"seq": req["seq"], "accept": True})


async def test_vote_timeout_answers_105(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(vote_timeout_s=0.5)
    (host, guest), room_id = await _room(hub, 2)
    result = asyncio.ensure_future(guest.wait_push("VOTE_RESULT"))
    with pytest.raises(BadState) as info:
        await host.request("START_ROOM", {"room_id": room_id})
    assert "timed out" in info.value.message and "p1-voting" in info.value.message
    assert (await result)["accepted"] is False
    assert (await host.request("LIST_ROOMS"))["rooms"][0]["status"] == "WAITING"


async def test_host_is_not_blocked_for_other_requests_during_the_vote(hub: Harness) -> None:
    (host, guest), room_id = await _room(hub, 2)
    votes = guest.subscribe("VOTE_REQUEST")
    pending = asyncio.ensure_future(host.request("START_ROOM", {"room_id": room_id}))
    req = (await asyncio.wait_for(votes.get(), 5))["payload"]
    assert (await host.request("LIST_PLAYERS"))["online_players"] == ["p0-voting", "p1-voting"]
    assert not pending.done()
    await guest.request("VOTE", {"seq": req["seq"], "accept": True})
    assert (await pending)["room_id"] == room_id


async def test_vote_errors(hub: Harness) -> None:
    (host, g1, g2), room_id = await _room(hub, 3)
    outsider = await hub.player("outsider")
    votes = g1.subscribe("VOTE_REQUEST")
    pending = asyncio.ensure_future(host.request("START_ROOM", {"room_id": room_id}))
    seq = (await asyncio.wait_for(votes.get(), 5))["payload"]["seq"]
    with pytest.raises(NotFound):
        await g1.request("VOTE", {"seq": seq + 1000, "accept": True})
    with pytest.raises(Forbidden):
        await outsider.request("VOTE", {"seq": seq, "accept": True})
    with pytest.raises(Forbidden):  # the host proposed; it does not vote
        await host.request("VOTE", {"seq": seq, "accept": True})
    await g1.request("VOTE", {"seq": seq, "accept": True})
    with pytest.raises(BadState):
        await g1.request("VOTE", {"seq": seq, "accept": True})
    with pytest.raises(BadState):  # no second start while the vote runs
        await host.request("START_ROOM", {"room_id": room_id})
    with pytest.raises(BadState):  # nobody joins a room that is voting
        await outsider.request("JOIN_ROOM", {"room_id": room_id})
    await g2.request("VOTE", {"seq": seq, "accept": True})
    assert (await pending)["game_port"] > 0


async def test_member_leaving_cancels_the_vote(hub: Harness) -> None:
    (host, g1, g2), room_id = await _room(hub, 3, "leaving")
    votes = g1.subscribe("VOTE_REQUEST")
    pending = asyncio.ensure_future(host.request("START_ROOM", {"room_id": room_id}))
    seq = (await asyncio.wait_for(votes.get(), 5))["payload"]["seq"]
    await g1.request("VOTE", {"seq": seq, "accept": True})
    await g2.request("LEAVE_ROOM", {"room_id": room_id})
    with pytest.raises(BadState) as info:
        await pending
    assert "p2-leaving left the room" in info.value.message
    room = (await host.request("LIST_ROOMS"))["rooms"][0]
    assert room["status"] == "WAITING" and room["players"] == ["p0-leaving", "p1-leaving"]


async def test_host_disconnecting_does_not_break_the_start(hub: Harness) -> None:
    """The start belongs to the room: the vote goes on and the match starts even if the host's connection drops."""
    (host, guest), room_id = await _room(hub, 2, "sturdy")
    votes = guest.subscribe("VOTE_REQUEST")
    pending = asyncio.ensure_future(host.request("START_ROOM", {"room_id": room_id}))
    seq = (await asyncio.wait_for(votes.get(), 5))["payload"]["seq"]
    await host.close()
    with pytest.raises(ConnectionLost):
        await pending
    started = asyncio.ensure_future(guest.wait_push("GAME_STARTED"))
    await guest.request("VOTE", {"seq": seq, "accept": True})
    assert (await started)["game_port"] > 0

"""A running match seen from the room: rejoining it, leaving it, and the liveness probe of its game server."""

from __future__ import annotations

import asyncio

import pytest

from playhub.protocol.codes import Code
from playhub.protocol.errors import PlayHubError
from tests.helpers import Harness
from tests.lobby_helpers import GameConn, make_game, start_two, wait_dead

# Listens until a client says "deaf": then it closes its listening socket but keeps running (a hung server).
DEAF_SERVER = r"""
import os, socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((os.environ["GAME_HOST"], int(os.environ["GAME_PORT"])))
s.listen()
while True:
    c, _ = s.accept()
    data = c.recv(100)
    if data.startswith(b"deaf"):
        s.close()
        c.close()
        break
    c.close()
time.sleep(600)
"""


async def _code(coro: object) -> int:
    with pytest.raises(PlayHubError) as info:
        await coro  # type: ignore[misc]
    return int(info.value.code)


async def test_room_shows_the_running_match_and_rejoin_gives_the_same_ticket(hub: Harness) -> None:
    game_id = await make_game(hub.app, "duel")
    host, guest, answer, room_id = await start_two(hub, game_id)
    room = (await guest.request("SUBSCRIBE_ROOM", {"room_id": room_id}))["room"]
    assert room["status"] == "PLAYING"
    assert room["match"] == {
        "players": ["alice", "bob"],
        "game_host": "127.0.0.1",
        "game_port": answer["game_port"],
    }
    again = await host.request("REJOIN_MATCH", {"room_id": room_id})
    assert again["ticket"] == answer["ticket"]
    assert again["game_port"] == answer["game_port"] and again["game_host"] == answer["game_host"]
    assert set(again) == {"room_id", "game_id", "game_name", "version", "game_host", "game_port", "ticket"}
    # The ticket still opens the game server.
    game = await GameConn.open(again["game_host"], again["game_port"])
    assert await game.ask(f"hello alice {again['ticket']}") == "ticket ok"
    # The server got seed 003's extras: SERVER_PORT and --room=<id>.
    info = await game.ask_json("env")
    assert info["env"]["SERVER_PORT"] == str(answer["game_port"])
    assert info["argv"] == [f"--room={room_id}"]
    await game.close()
    carol = await hub.player("carol")
    assert await _code(carol.request("REJOIN_MATCH", {"room_id": room_id})) == Code.BAD_STATE
    assert await _code(carol.request("REJOIN_MATCH", {"room_id": "nope-1"})) == Code.NOT_FOUND
    assert await _code(carol.request("LEAVE_MATCH", {"room_id": room_id})) == Code.BAD_STATE


async def test_a_reconnected_player_sees_the_match_and_rejoins(hub: Harness) -> None:
    game_id = await make_game(hub.app, "duel")
    _host, guest, answer, room_id = await start_two(hub, game_id)
    await guest.close()
    again = await hub.lobby()
    told = asyncio.ensure_future(again.wait_push("ROOM_UPDATED"))
    await again.login_player("bob", "secret-pw")
    room = (await told)["room"]
    assert room["match"]["game_port"] == answer["game_port"]
    rejoin = await again.request("REJOIN_MATCH", {"room_id": room_id})
    game = await GameConn.open(rejoin["game_host"], rejoin["game_port"])
    assert await game.ask(f"hello bob {rejoin['ticket']}") == "ticket ok"
    await game.close()


async def test_leave_match_ends_a_two_player_match_as_abandoned(hub: Harness) -> None:
    game_id = await make_game(hub.app, "duel")
    host, guest, answer, room_id = await start_two(hub, game_id)
    game = await GameConn.open(answer["game_host"], answer["game_port"])
    pid = (await game.ask_json("env"))["pid"]
    ended_host = asyncio.ensure_future(host.wait_push("GAME_ENDED"))
    ended_guest = asyncio.ensure_future(guest.wait_push("GAME_ENDED"))
    room = (await guest.request("LEAVE_MATCH", {"room_id": room_id}))["room"]
    assert room["players"] == ["alice", "bob"]  # still in the room
    expected = {"room_id": room_id, "reason": "abandoned", "results": None, "exit_code": None}
    assert await ended_host == expected and await ended_guest == expected
    assert room["status"] == "WAITING" and room["match"] is None
    assert await wait_dead(pid)
    # No match any more: leaving or rejoining it is refused.
    assert await _code(guest.request("LEAVE_MATCH", {"room_id": room_id})) == Code.BAD_STATE
    assert await _code(guest.request("REJOIN_MATCH", {"room_id": room_id})) == Code.BAD_STATE
    assert await _code(guest.request("LEAVE_MATCH", {"room_id": "nope-1"})) == Code.NOT_FOUND


async def test_leaving_the_room_mid_match_abandons_it(hub: Harness) -> None:
    game_id = await make_game(hub.app, "duel")
    host, guest, _answer, room_id = await start_two(hub, game_id)
    ended = asyncio.ensure_future(guest.wait_push("GAME_ENDED"))
    waiting = asyncio.ensure_future(
        guest.wait_push("ROOM_UPDATED", lambda p: p["room"]["status"] == "WAITING")
    )
    await host.request("LEAVE_ROOM", {"room_id": room_id})
    assert (await ended)["reason"] == "abandoned"
    room = (await waiting)["room"]
    assert room["players"] == ["bob"] and room["host"] == "bob"


async def test_match_goes_on_while_enough_players_remain(hub: Harness) -> None:
    game_id = await make_game(hub.app, "trio", max_players=3, min_players=2)
    a, b = await hub.player("alice"), await hub.player("bob")
    c = await hub.player("carol")
    room_id = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    for p in (b, c):
        await p.request("JOIN_ROOM", {"room_id": room_id})
    for p in (b, c):
        votes = p.subscribe("VOTE_REQUEST")
        p._votes = votes  # type: ignore[attr-defined]
    pending = asyncio.ensure_future(a.request("START_ROOM", {"room_id": room_id}))
    for p in (b, c):
        req = (await asyncio.wait_for(p._votes.get(), 10))["payload"]  # type: ignore[attr-defined]
        await p.request("VOTE", {"seq": req["seq"], "accept": True})
    await pending
    room = (await c.request("LEAVE_MATCH", {"room_id": room_id}))["room"]
    assert room["status"] == "PLAYING" and room["match"]["players"] == ["alice", "bob"]
    assert await _code(c.request("REJOIN_MATCH", {"room_id": room_id})) == Code.BAD_STATE
    ended = asyncio.ensure_future(a.wait_push("GAME_ENDED"))
    await b.request("LEAVE_ROOM", {"room_id": room_id})
    assert (await ended)["reason"] == "abandoned"


async def test_a_game_server_that_stops_answering_ends_the_match(make_hub: object) -> None:
    hub: Harness = await make_hub(  # type: ignore[operator]
        game_server_probe_interval_s=0.1, game_server_probe_failures=3, game_server_probe_timeout_s=0.5
    )
    game_id = await make_game(hub.app, "deaf", DEAF_SERVER)
    host, guest, answer, room_id = await start_two(hub, game_id)
    await asyncio.sleep(0.5)  # probes succeed meanwhile: the match goes on
    assert (await host.request("LIST_ROOMS"))["rooms"][0]["status"] == "PLAYING"
    ended = asyncio.ensure_future(guest.wait_push("GAME_ENDED"))
    waiting = asyncio.ensure_future(
        guest.wait_push("ROOM_UPDATED", lambda p: p["room"]["status"] == "WAITING")
    )
    _r, w = await asyncio.open_connection(answer["game_host"], answer["game_port"])
    w.write(b"deaf")
    await w.drain()
    w.close()
    assert await ended == {"room_id": room_id, "reason": "unresponsive", "results": None, "exit_code": None}
    assert (await waiting)["room"]["match"] is None
    assert not hub.app.rooms.supervisor.running or await _no_servers(hub)


async def _no_servers(hub: Harness) -> bool:
    for _ in range(100):
        if not hub.app.rooms.supervisor.running:
            return True
        await asyncio.sleep(0.05)
    return False

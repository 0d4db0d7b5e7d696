"""Rooms end to end over real sockets: create, join, vote, start, play on the spawned server, finish."""

from __future__ import annotations

import asyncio
import json

import pytest

from playhub.protocol.errors import BadState
from playhub.sdk.tickets import player_ticket
from playhub.store import plays
from playhub.wire import Framing
from tests.helpers import Harness
from tests.lobby_helpers import LEGACY_SERVER, GameConn, make_game, set_status, start_two, wait_dead

ROOM_KEYS = {
    "room_id",
    "game_id",
    "game_name",
    "display_name",
    "version",
    "host",
    "players",
    "ready",
    "status",
    "max_players",
    "min_players",
    "all_ready",
    "match",
}


async def test_two_players_vote_start_play_and_finish(hub: Harness) -> None:
    game_id = await make_game(hub.app, "duel")
    played: list[tuple[str, list[int]]] = []
    hub.app.events.on("game_played", lambda gid, ids: played.append((gid, ids)))
    host, guest, answer, room_id = await start_two(hub, game_id)
    assert set(answer) == {"room_id", "game_host", "game_port", "version", "ticket"}
    assert answer["room_id"] == room_id and answer["version"] == "1.0.0"
    assert answer["game_host"] == "127.0.0.1" and answer["game_port"] > 0
    game = await GameConn.open(answer["game_host"], answer["game_port"])
    info = await game.ask_json("env")
    env = info["env"]
    assert env["PLAYHUB_PLAYERS"] == "alice,bob"
    assert answer["ticket"] == player_ticket(info["secret"], room_id, "alice")
    assert await game.ask(f"hello alice {answer['ticket']}") == "ticket ok"
    assert await game.ask(f"hello bob {answer['ticket']}") == "ticket bad"
    rooms = (await host.request("LIST_ROOMS"))["rooms"]
    assert rooms[0]["status"] == "PLAYING"
    ended = asyncio.ensure_future(guest.wait_push("GAME_ENDED"))
    waiting = asyncio.ensure_future(
        guest.wait_push("ROOM_UPDATED", lambda p: p["room"]["status"] == "WAITING")
    )
    reply = json.loads(await game.ask('finish {"results": {"winner": "bob"}}'))
    assert reply["status"] == "ok" and reply["code"] == 0
    assert (await ended) == {
        "room_id": room_id,
        "reason": "finished",
        "results": {"winner": "bob"},
        "exit_code": None,
    }
    await waiting
    rooms = (await host.request("LIST_ROOMS"))["rooms"]
    assert rooms[0]["status"] == "WAITING" and rooms[0]["players"] == ["alice", "bob"]
    assert await wait_dead(info["pid"])  # stopped after the finish grace
    rows = await hub.app.db.run(plays.plays_of_room, room_id)
    assert len(rows) == 2 and all(r["game_id"] == game_id and r["version"] == "1.0.0" for r in rows)
    assert played == [(game_id, sorted(r["player_id"] for r in rows))]
    assert all(json.loads(r["result"]) == {"reason": "finished", "results": {"winner": "bob"}} for r in rows)
    await game.close()
    # The room can play again.
    votes = guest.subscribe("VOTE_REQUEST")
    pending = asyncio.ensure_future(host.request("START_ROOM", {"room_id": room_id}))
    seq = (await asyncio.wait_for(votes.get(), 10))["payload"]["seq"]
    await guest.request("VOTE", {"seq": seq, "accept": True})
    again = await pending
    assert again["game_port"] > 0 and again["ticket"] != answer["ticket"]  # a new secret per match


async def test_three_players_everyone_gets_game_started_with_own_ticket(hub: Harness) -> None:
    game_id = await make_game(hub.app, "trio", max_players=4, min_players=3)
    a, b, c = await hub.player("ann"), await hub.player("ben"), await hub.player("cat")
    created = await a.request("CREATE_ROOM", {"game_id": game_id})
    room_id = created["room_id"]
    assert created["version"] == "1.0.0" and room_id.startswith("trio-")
    await b.request("JOIN_ROOM", {"room_id": room_id})
    joined = await c.request("JOIN_ROOM", {"room_id": room_id})
    assert joined["room_id"] == room_id and joined["version"] == "1.0.0"
    started = {cl: asyncio.ensure_future(cl.wait_push("GAME_STARTED")) for cl in (a, b, c)}
    vb, vc = b.subscribe("VOTE_REQUEST"), c.subscribe("VOTE_REQUEST")
    pending = asyncio.ensure_future(a.request("START_ROOM", {"room_id": room_id}))
    req_b = (await asyncio.wait_for(vb.get(), 10))["payload"]
    req_c = (await asyncio.wait_for(vc.get(), 10))["payload"]
    assert req_b == req_c
    assert req_b["action"] == "START_ROOM" and req_b["room_id"] == room_id and req_b["by"] == "ann"
    assert req_b["timeout_s"] == hub.app.settings.vote_timeout_s
    results = a.subscribe("VOTE_RESULT")
    await b.request("VOTE", {"seq": req_b["seq"], "accept": True})
    await asyncio.sleep(0.1)
    assert not pending.done()  # still blocked: cat has not voted
    await c.request("VOTE", {"seq": req_b["seq"], "accept": True})
    answer = await pending
    result = (await asyncio.wait_for(results.get(), 10))["payload"]
    assert result == {"seq": req_b["seq"], "room_id": room_id, "accepted": True, "reason": "accepted"}
    pushes = {cl.username: await fut for cl, fut in started.items()}
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    secret = (await game.ask_json("env"))["secret"]
    for name, push in pushes.items():
        assert push == {
            "room_id": room_id,
            "game_id": game_id,
            "game_name": "trio",
            "version": "1.0.0",
            "game_host": "127.0.0.1",
            "game_port": answer["game_port"],
            "ticket": player_ticket(secret, room_id, name),
        }
        assert await game.ask(f"hello {name} {push['ticket']}") == "ticket ok"
    assert pushes["ann"]["ticket"] == answer["ticket"]
    await game.close()


async def test_room_object_ready_marks_and_updates(hub: Harness) -> None:
    game_id = await make_game(hub.app, "chess")
    a = await hub.player("alice")
    b = await hub.player("bob")
    room_id = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    updates = a.subscribe("ROOM_UPDATED")
    await b.request("JOIN_ROOM", {"room_id": room_id})
    room = (await asyncio.wait_for(updates.get(), 5))["payload"]["room"]
    assert set(room) == ROOM_KEYS
    assert room == {
        "room_id": room_id,
        "game_id": game_id,
        "game_name": "chess",
        "display_name": "Chess",
        "version": "1.0.0",
        "host": "alice",
        "players": ["alice", "bob"],
        "ready": [],
        "status": "WAITING",
        "max_players": 2,
        "min_players": 2,
        "all_ready": False,
        "match": None,
    }
    assert (await b.request("READY", {"room_id": room_id}))["room"]["ready"] == ["bob"]
    assert (await asyncio.wait_for(updates.get(), 5))["payload"]["room"]["ready"] == ["bob"]
    await a.request("READY", {"room_id": room_id})
    both = (await asyncio.wait_for(updates.get(), 5))["payload"]["room"]
    assert both["ready"] == ["alice", "bob"] and both["all_ready"] is True
    await b.request("UNREADY", {"room_id": room_id})
    assert (await asyncio.wait_for(updates.get(), 5))["payload"]["room"]["ready"] == ["alice"]
    listed = (await b.request("LIST_ROOMS"))["rooms"]
    assert listed == [{**room, "ready": ["alice"], "all_ready": False}]


async def test_solo_room_starts_without_a_vote(hub: Harness) -> None:
    game_id = await make_game(hub.app, "solitaire", max_players=4, min_players=1)
    a = await hub.player("alice")
    room_id = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    started = asyncio.ensure_future(a.wait_push("GAME_STARTED"))
    answer = await a.request("START_ROOM", {"room_id": room_id})
    assert (await started)["ticket"] == answer["ticket"]
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    assert await game.ask("ping") == "ping"
    await game.close()


async def test_finish_via_legacy_line_from_the_sdk_test_server(hub: Harness) -> None:
    game_id = await make_game(hub.app, "oldie")
    host, guest, answer, room_id = await start_two(hub, game_id)
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    ended = asyncio.ensure_future(host.wait_push("GAME_ENDED"))
    reply = json.loads(await game.ask('legacy {"kick_all": false}'))
    assert reply["status"] == "ok" and reply["payload"] == {"ok": True}
    assert (await ended)["reason"] == "finished" and (await ended)["results"] is None
    assert (await host.request("LIST_ROOMS"))["rooms"][0]["status"] == "WAITING"
    await game.close()


async def test_unmodified_seed_003_game_reports_by_itself(hub: Harness) -> None:
    game_id = await make_game(hub.app, "legacy", LEGACY_SERVER, max_players=1)
    a = await hub.player("alice")
    room_id = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    ended = asyncio.ensure_future(a.wait_push("GAME_ENDED"))
    await a.request("START_ROOM", {"room_id": room_id})
    assert (await ended) == {"room_id": room_id, "reason": "finished", "results": None, "exit_code": None}


async def test_kick_all_closes_the_room_and_frees_its_members(hub: Harness) -> None:
    game_id = await make_game(hub.app, "party")
    host, guest, answer, room_id = await start_two(hub, game_id)
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    pid = (await game.ask_json("env"))["pid"]
    closed = asyncio.ensure_future(guest.wait_push("ROOM_UPDATED", lambda p: p["room"]["status"] == "CLOSED"))
    reply = json.loads(await game.ask('finish {"kick_all": true, "results": {"draw": true}}'))
    assert reply["status"] == "ok"
    room = (await closed)["room"]
    assert room["players"] == [] and room["room_id"] == room_id
    assert (await host.request("LIST_ROOMS"))["rooms"] == []
    assert await wait_dead(pid)
    # Both are free to create or join other rooms now.
    other = (await guest.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await host.request("JOIN_ROOM", {"room_id": other})
    await game.close()


async def test_host_leaving_passes_the_host_and_last_member_closes(hub: Harness) -> None:
    game_id = await make_game(hub.app, "relay", max_players=3, min_players=2)
    a, b, c = await hub.player("ann"), await hub.player("ben"), await hub.player("cat")
    room_id = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await b.request("JOIN_ROOM", {"room_id": room_id})
    await c.request("JOIN_ROOM", {"room_id": room_id})
    upd = asyncio.ensure_future(b.wait_push("ROOM_UPDATED", lambda p: p["room"]["host"] == "ben"))
    await a.request("LEAVE_ROOM", {"room_id": room_id})
    assert (await upd)["room"]["players"] == ["ben", "cat"]
    await b.request("LEAVE_ROOM", {"room_id": room_id})
    assert (await c.request("LIST_ROOMS"))["rooms"][0]["host"] == "cat"
    closed = asyncio.ensure_future(c.wait_push("ROOM_UPDATED", lambda p: p["room"]["status"] == "CLOSED"))
    await c.request("LEAVE_ROOM", {"room_id": room_id})
    await closed
    assert (await c.request("LIST_ROOMS"))["rooms"] == []


async def test_host_leaving_while_playing_and_last_leave_stops_the_server(hub: Harness) -> None:
    # min_players 1: the match goes on with one player left (with 2 it would end as "abandoned").
    game_id = await make_game(hub.app, "marathon", min_players=1)
    host, guest, answer, room_id = await start_two(hub, game_id)
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    pid = (await game.ask_json("env"))["pid"]
    await host.request("LEAVE_ROOM", {"room_id": room_id})
    room = (await guest.request("LIST_ROOMS"))["rooms"][0]
    assert room["host"] == "bob" and room["status"] == "PLAYING" and room["players"] == ["bob"]
    await guest.request("LEAVE_ROOM", {"room_id": room_id})
    assert await wait_dead(pid)
    assert (await guest.request("LIST_ROOMS"))["rooms"] == []
    await game.close()


async def test_subscribe_room_for_watchers(hub: Harness) -> None:
    game_id = await make_game(hub.app, "watched")
    a = await hub.player("alice")
    watcher = await hub.player("wally")
    room_id = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    snap = await watcher.request("SUBSCRIBE_ROOM", {"room_id": room_id})
    assert snap["room"]["players"] == ["alice"]
    upd = asyncio.ensure_future(watcher.wait_push("ROOM_UPDATED"))
    await a.request("READY", {"room_id": room_id})
    assert (await upd)["room"]["ready"] == ["alice"]
    await watcher.request("UNSUBSCRIBE_ROOM", {"room_id": room_id})
    queue = watcher.subscribe("ROOM_UPDATED")
    await a.request("UNREADY", {"room_id": room_id})
    await a.request("LIST_ROOMS")
    await asyncio.sleep(0.1)
    assert queue.empty()


async def test_watch_lobby_sees_every_room_change_once(hub: Harness) -> None:
    game_id = await make_game(hub.app, "watched")
    a = await hub.player("alice")
    watcher = await hub.player("wally")
    assert (await watcher.request("WATCH_LOBBY"))["rooms"] == []
    queue = watcher.subscribe("ROOM_UPDATED")
    room_id = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    created = await asyncio.wait_for(queue.get(), 5)
    assert created["payload"]["room"]["room_id"] == room_id
    # A member who also watches the lobby gets each change once, not twice.
    await a.request("WATCH_LOBBY")
    own = a.subscribe("ROOM_UPDATED")
    await a.request("READY", {"room_id": room_id})
    assert (await asyncio.wait_for(queue.get(), 5))["payload"]["room"]["ready"] == ["alice"]
    await asyncio.wait_for(own.get(), 5)
    await a.request("LEAVE_ROOM", {"room_id": room_id})
    closed = await asyncio.wait_for(queue.get(), 5)
    assert closed["payload"]["room"]["status"] == "CLOSED"
    await a.request("LIST_ROOMS")  # a round trip: any duplicate push would have arrived by now
    assert own.qsize() == 1  # the CLOSED update only
    await watcher.request("UNWATCH_LOBBY")
    await a.request("CREATE_ROOM", {"game_id": game_id})
    await watcher.request("LIST_ROOMS")
    await asyncio.sleep(0.1)
    assert queue.empty()


async def test_delisted_game_keeps_its_room_but_allows_no_new_ones(hub: Harness) -> None:
    game_id = await make_game(hub.app, "retired", max_players=1)
    a, b = await hub.player("alice"), await hub.player("bob")
    room_id = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await set_status(hub.app, game_id, "OFFLINE")
    with pytest.raises(BadState, match="delisted"):
        await b.request("CREATE_ROOM", {"game_id": game_id})
    answer = await a.request("START_ROOM", {"room_id": room_id})  # the room that exists continues
    assert answer["game_port"] > 0


async def test_length_prefixed_client_gets_answers_and_pushes_in_its_framing(hub: Harness) -> None:
    game_id = await make_game(hub.app, "framed", max_players=1)
    c = await hub.lobby(Framing.LENGTH_PREFIXED)
    await c.register_player("lenny", "secret-pw")
    room_id = (await c.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    started = asyncio.ensure_future(c.wait_push("GAME_STARTED"))
    answer = await c.request("START_ROOM", {"room_id": room_id})
    assert (await started)["game_port"] == answer["game_port"]


async def test_two_start_requests_at_once_only_one_wins(hub: Harness) -> None:
    game_id = await make_game(hub.app, "race", max_players=1)
    a = await hub.player("alice")
    room_id = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    first = a.send_request("START_ROOM", {"room_id": room_id})
    second = a.send_request("START_ROOM", {"room_id": room_id})
    answers = await asyncio.gather(first, second)
    assert sorted(r["code"] for r in answers) == [0, 105]


async def test_bind_all_addresses_and_public_host(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(host="0.0.0.0", public_host="127.0.0.2")
    game_id = await make_game(hub.app, "public", max_players=1)
    a = await hub.player("alice")
    room_id = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    answer = await a.request("START_ROOM", {"room_id": room_id})
    assert answer["game_host"] == "127.0.0.2"
    game = await GameConn.open(answer["game_host"], answer["game_port"])
    env = (await game.ask_json("env"))["env"]
    assert env["GAME_HOST"] == "0.0.0.0" and env["LOBBY_HOST"] == "127.0.0.2"
    assert env["LOBBY_CONNECT_HOST"] == "127.0.0.1"
    ended = asyncio.ensure_future(a.wait_push("GAME_ENDED"))
    assert json.loads(await game.ask("legacy {}"))["status"] == "ok"  # loopback is this machine
    assert (await ended)["reason"] == "finished"
    await game.close()

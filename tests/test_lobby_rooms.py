"""Rooms end to end over real sockets: create, join, vote, start, play on the spawned server, finish."""

from __future__ import annotations

import asyncio
import json
import os

from playhub.sdk.tickets import player_ticket
from tests.helpers import Harness
from tests.lobby_helpers import GameConn, make_game, start_two, wait_dead


async def test_two_players_vote_start_play_and_finish(hub: Harness) -> None:
    game_id = await make_game(hub.app, "duel")
    host, guest, answer, room_id = await start_two(hub, game_id)
    assert answer["room_id"] == room_id and answer["version"] == "1.0.0"
    assert answer["game_host"] == "127.0.0.1" and answer["game_port"] > 0
    game = await GameConn.open(answer["game_host"], answer["game_port"])
    info = await game.ask_json("env")
    env = info["env"]
    assert env["GAME_PORT"] == str(answer["game_port"]) and env["ROOM_ID"] == room_id
    assert env["GAME_NAME"] == "duel" and env["GAME_VERSION"] == "1.0.0"
    assert env["LOBBY_PORT"] == str(hub.app.lobby_port) == env["LOBBY_CONNECT_PORT"]
    assert env["PLAYHUB_PLAYERS"] == "alice,bob"
    assert info["cwd"] == str(hub.app.blobs.version_dir(game_id, "1.0.0"))
    assert answer["ticket"] == player_ticket(env["PLAYHUB_ROOM_SECRET"], room_id, "alice")
    assert await game.ask(f"hello alice {answer['ticket']}") == "ticket ok"
    ended = asyncio.ensure_future(guest.wait_push("GAME_ENDED"))
    reply = json.loads(await game.ask('finish {"results": {"winner": "bob"}}'))
    assert reply["status"] == "ok"
    assert (await ended) == {
        "room_id": room_id,
        "reason": "finished",
        "results": {"winner": "bob"},
        "exit_code": None,
    }
    rooms = (await host.request("LIST_ROOMS"))["rooms"]
    assert rooms[0]["status"] == "WAITING"
    assert await wait_dead(info["pid"])
    await game.close()

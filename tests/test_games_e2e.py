"""The sample games through the real platform: publish → download → room → vote → spawned server → bots launched
with the env of GAME_STARTED → results reported → GAME_ENDED → reviews unlocked."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from playhub.client import Client
from playhub.client.library import LocalLibrary, download_game
from playhub.client.publishing import publish_folder
from playhub.protocol.errors import Forbidden
from playhub.templates import create_game
from tests.games_helpers import GAMES, finish, reap, start
from tests.helpers import Harness, subprocess_env

pytestmark = pytest.mark.usefixtures(reap.__name__)


def client_env(started: dict, username: str) -> dict[str, str]:
    """What the player app puts in the environment of ``entry_client`` (the lobby protocol's contract)."""
    env = subprocess_env()
    env.update(
        GAME_HOST=started["game_host"],
        GAME_PORT=str(started["game_port"]),
        ROOM_ID=started["room_id"],
        GAME_NAME=started["game_name"],
        GAME_VERSION=started["version"],
        PLAYER_USERNAME=username,
        PLAYER_NAME=username,
        PLAYHUB_TICKET=started["ticket"],
        SDL_VIDEODRIVER="dummy",
        SDL_AUDIODRIVER="dummy",
    )
    return env


async def start_room(players: list[Client], game_id: str) -> str:
    """The first player creates a room, the others join, the host starts and everyone accepts the vote."""
    host, *guests = players
    room_id = (await host.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    votes = []
    for g in guests:
        await g.request("JOIN_ROOM", {"room_id": room_id})
        votes.append(g.subscribe("VOTE_REQUEST"))
    pending = asyncio.ensure_future(host.request("START_ROOM", {"room_id": room_id}))
    for g, q in zip(guests, votes, strict=True):
        req = (await asyncio.wait_for(q.get(), 10))["payload"]
        await g.request("VOTE", {"seq": req["seq"], "accept": True})
    answer = await asyncio.wait_for(pending, 20)
    assert answer["room_id"] == room_id
    return room_id


@pytest.mark.parametrize(("game", "count"), [("rps", 2), ("connect4", 2), ("pig", 3), ("template:multi", 3)])
async def test_sample_game_end_to_end(hub: Harness, tmp_path: Path, game: str, count: int) -> None:
    if game.startswith("template:"):  # a game fresh from `playhub dev init`, published as generated
        folder = create_game(tmp_path / "stones", "stones", game.removeprefix("template:"))
    else:
        folder = GAMES / game
    dev = await hub.developer("studio")
    published = await publish_folder(dev, folder)
    assert published["created"] and published["is_latest"]
    game_id = published["game_id"]
    names = ["ann", "bob", "cat", "dan"][:count]
    players = [await hub.player(n) for n in names]
    with pytest.raises(Forbidden):  # no review before playing
        await players[0].request("ADD_REVIEW", {"game_id": game_id, "score": 5, "comment": "sight unseen"})

    # Each player downloads the game into their own library, as the player app does.
    installs = {}
    for n, p in zip(names, players, strict=True):
        installs[n] = await download_game(p, LocalLibrary(tmp_path / "downloads", n), game_id)
        assert (installs[n].path / "manifest.json").is_file()
    manifest = json.loads((installs[names[0]].path / "manifest.json").read_text())

    started_q = [p.subscribe("GAME_STARTED") for p in players]
    ended_q = [p.subscribe("GAME_ENDED") for p in players]
    room_id = await start_room(players, game_id)
    started = {
        n: (await asyncio.wait_for(q.get(), 10))["payload"] for n, q in zip(names, started_q, strict=True)
    }
    assert all(s["room_id"] == room_id and s["game_id"] == game_id for s in started.values())

    # Bots stand in for the players, launched from each player's downloaded copy with the GAME_STARTED env.
    bots = [await start(installs[n].path, "bot.py", client_env(started[n], n)) for n in names]
    outputs = [await finish(b, 30) for b in bots]
    for rc, out in outputs:
        assert rc == 0, out
    ended = [(await asyncio.wait_for(q.get(), 15))["payload"] for q in ended_q]
    results = ended[0]["results"]
    assert all(e == ended[0] for e in ended)
    assert ended[0]["reason"] == "finished" and ended[0]["room_id"] == room_id
    assert set(results["scores"]) == set(names) and results["summary"]
    assert results["winner"] in [*names, None]
    assert all(results["summary"] in out for _, out in outputs)
    assert manifest["entry_client"] == "client.py"

    # The room is waiting again and reviews are unlocked for everyone who played.
    room = (await players[0].request("LIST_ROOMS"))["rooms"]
    assert any(r["room_id"] == room_id and r["status"] == "WAITING" for r in room)
    for n, p in zip(names, players, strict=True):
        await p.request("ADD_REVIEW", {"game_id": game_id, "score": 4, "comment": f"fun, says {n}"})
    reviews = (await players[0].request("LIST_REVIEWS", {"game_id": game_id}))["reviews"]
    assert {r["player"] for r in reviews} == set(names)

"""Seed 003's own clients, scripted line for line, through the whole journey on a real server: a developer publishes
rps and a new version; two players browse, download, make a room, get ready, propose and accept the start, play
the match on the spawned game server through the address the room gave them, and review; the developer sees the
reviews and removes the game. And the mixed case: a seed-003 player and a PlayHub player in one room."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.games_helpers import GAMES, finish, reap, start
from tests.helpers import Harness, subprocess_env
from tests.lobby_helpers import make_game
from tests.seed003_helpers import Seed003Client, Subscription, install, zip_folder_b64

pytestmark = pytest.mark.usefixtures(reap.__name__)
RPS = GAMES / "rps"


def game_env(room: dict[str, Any], username: str, moves: str) -> dict[str, str]:
    """What seed 003's player client puts in the game client's environment: the room's address, no ticket."""
    env = subprocess_env()
    env.update(
        GAME_HOST=room["host"],
        GAME_PORT=str(room["port"]),
        ROOM_ID=room["room_id"],
        GAME_NAME=room["game"],
        GAME_VERSION=room["version"],
        PLAYER_USERNAME=username,
        PLAYER_NAME=username,
        RPS_BOT_MOVES=moves,
    )
    return env


async def publish(hub: Harness, tmp_path: Path) -> Seed003Client:
    dev = await Seed003Client(hub.app.dev_port, "studio").register_and_login()
    hint = await dev.req("version_hint", name="rps")
    assert hint == {"ok": True, "exists": False, "name": "rps", "latest": None, "suggested": "1.0.0"}
    manifest = json.loads((RPS / "manifest.json").read_text())
    up = await dev.req(
        "upload_game", name="rps", version="1.0.0", manifest=manifest, zip_b64=zip_folder_b64(RPS)
    )
    assert up["ok"] and up["latest"] == "1.0.0" and up["status"] == "active", up
    # A new version of the folder.
    folder = tmp_path / "rps"
    shutil.copytree(RPS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    manifest["version"] = "1.0.1"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    hint = await dev.req("version_hint", name="rps")
    assert hint["exists"] and hint["latest"] == "1.0.0" and hint["suggested"] == "1.0.1"
    assert hint["versions"] == ["1.0.0"] and hint["status"] == "active"
    up = await dev.req(
        "upload_game", name="rps", version="1.0.1", manifest=manifest, zip_b64=zip_folder_b64(folder)
    )
    assert up["ok"] and up["latest"] == "1.0.1", up
    return dev


async def test_seed003_journey(hub: Harness, tmp_path: Path) -> None:
    dev = await publish(hub, tmp_path)
    mine = await dev.req("my_games")
    assert mine["ok"] and list(mine["games"]) == ["rps"]
    assert list(mine["games"]["rps"]["versions"]) == ["1.0.0", "1.0.1"]
    assert mine["games"]["rps"]["review_count"] == 0 and mine["games"]["rps"]["reviews"] == {}

    lobby = hub.app.lobby_port
    ann = await Seed003Client(lobby, "ann").register_and_login()
    bob = await Seed003Client(lobby, "bob").register_and_login()

    games = (await ann.req("list_games"))["games"]
    assert games["rps"]["latest"] == "1.0.1" and games["rps"]["versions"] == ["1.0.0", "1.0.1"]
    assert games["rps"]["author"] == "studio" and games["rps"]["display_name"] == "Rock Paper Scissors"
    assert games["rps"]["avg_rating"] is None and games["rps"]["review_count"] == 0
    details = (await ann.req("game_details", name="rps"))["details"]
    assert details["author"] == "studio" and details["status"] == "active" and details["latest"] == "1.0.1"
    assert details["versions"]["1.0.1"]["manifest"]["entry_client"] == "client.py"
    assert details["reviews"] == {}

    refused = await ann.req("rate_game", name="rps", rating=5, text="sight unseen")
    assert refused["ok"] is False and refused["code"] == "FORBIDDEN"

    downloads = tmp_path / "downloads"
    folders = {}
    for p in (ann, bob):
        resp = await p.req("download_game", name="rps")
        assert resp["ok"] and resp["version"] == "1.0.1" and resp["manifest"]["name"] == "rps"
        folders[p.username] = install(resp, downloads, p.username, "rps")
        assert (folders[p.username] / "client.py").is_file()

    created = await ann.req("create_room", game="rps", version="1.0.1")
    assert created["ok"], created
    room_id = created["room_id"]
    assert created["game"] == "rps" and created["version"] == "1.0.1" and created["owner"] == "ann"
    assert created["status"] == "waiting" and created["players"] == ["ann"] and created["max_players"] == 2
    assert created["start"] == {"state": "idle"} and created["host"] == "127.0.0.1" and created["port"] > 0
    ann_sub = await Subscription.open(ann, room_id)
    assert ann_sub.first["ok"] and ann_sub.first["room"]["players"] == ["ann"]

    joined = await bob.req("join_room", room_id=room_id)
    assert joined["ok"] and joined["players"] == ["ann", "bob"]
    assert (joined["host"], joined["port"]) == (created["host"], created["port"])
    bob_sub = await Subscription.open(bob, room_id)
    await ann_sub.until(lambda r: r["players"] == ["ann", "bob"])
    listed = (await bob.req("list_rooms"))["rooms"]
    assert listed[room_id]["players"] == ["ann", "bob"] and listed[room_id]["port"] == created["port"]

    for p in (ann, bob):
        assert (await p.req("player_ready", room_id=room_id))["ok"]
    await ann_sub.until(lambda r: r["status"] == "ready" and r["ready_players"] == ["ann", "bob"])
    assert (await bob.req("player_unready", room_id=room_id))["ready_players"] == ["ann"]
    assert (await bob.req("player_ready", room_id=room_id))["ok"]

    assert (await ann.req("propose_start", room_id=room_id))["ok"]
    proposed = await bob_sub.until(lambda r: r["start"]["state"] == "proposed")
    assert proposed["start"]["by"] == "ann" and proposed["start"]["responses"] == {}
    assert (await bob.req("respond_start", room_id=room_id, accept=True))["ok"]
    for sub in (ann_sub, bob_sub):
        room = await sub.until(lambda r: r["status"] == "in_game")
        assert room["start"]["state"] == "agreed"

    # Each player client launches the game client from its download with the address of the room.
    bots = [
        await start(folders["ann"], "bot.py", game_env(created, "ann", "rock")),
        await start(folders["bob"], "bot.py", game_env(joined, "bob", "scissors")),
    ]
    outputs = [await finish(b, 60) for b in bots]
    for rc, out in outputs:
        assert rc == 0, out
        assert "ann wins" in out
    ended = await ann_sub.until(lambda r: r["status"] == "waiting")
    assert ended["start"] == {"state": "idle"} and ended["players"] == ["ann", "bob"]

    rated = await ann.req("rate_game", name="rps", rating=5, text="great fun")
    assert rated == {"ok": True, "msg": "review saved", "avg_rating": 5.0, "count": 1}
    rated = await bob.req("rate_game", name="rps", rating="4", text="")
    assert rated["avg_rating"] == 4.5 and rated["count"] == 2

    info = (await dev.req("my_games"))["games"]["rps"]
    assert info["avg_rating"] == 4.5 and info["review_count"] == 2 and info["latest"] == "1.0.1"
    assert info["reviews"]["ann"]["rating"] == 5 and info["reviews"]["ann"]["text"] == "great fun"
    assert info["reviews"]["bob"]["rating"] == 4
    details = (await bob.req("game_details", name="rps"))["details"]
    assert details["reviews"]["ann"]["text"] == "great fun" and details["review_count"] == 2

    # Leaving: the leaver's stream shows a room without them (the client's cue to go back to the lobby).
    assert (await bob.req("leave_room", room_id=room_id))["ok"]
    left = await bob_sub.until(lambda r: "bob" not in r["players"])
    assert left["owner"] == "ann"
    await ann_sub.until(lambda r: r["players"] == ["ann"])

    removed = await dev.req("remove_game", name="rps")
    assert removed["ok"] and removed["status"] == "removed"
    assert "rps" not in (await bob.req("list_games"))["games"]
    refused = await bob.req("create_room", game="rps")
    assert refused["ok"] is False and refused["code"] == "BAD_STATE"
    refused = await bob.req("download_game", name="rps")
    assert refused["ok"] is False and refused["code"] == "BAD_STATE"
    assert (await dev.req("my_games"))["games"]["rps"]["status"] == "removed"

    assert (await ann.req("logout")) == {"ok": True, "msg": "logged out"}
    after = await ann.req("list_rooms")
    assert after["ok"] is False and after["code"] == "NOT_LOGGED_IN"
    await ann_sub.close()
    await bob_sub.close()


async def test_seed003_and_native_player_share_a_room(hub: Harness, tmp_path: Path) -> None:
    await publish(hub, tmp_path)
    cat = await hub.player("cat")  # PlayHub's own client
    dan = await Seed003Client(hub.app.lobby_port, "dan").register_and_login()
    game_id = (await cat.request("LIST_GAMES"))["games"][0]["game_id"]
    room_id = (await cat.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]

    rooms = (await dan.req("list_rooms"))["rooms"]
    assert rooms[room_id]["owner"] == "cat" and rooms[room_id]["players"] == ["cat"]
    updates = cat.subscribe("ROOM_UPDATED")
    joined = await dan.req("join_room", room_id=room_id)
    assert joined["ok"] and joined["players"] == ["cat", "dan"] and joined["port"] > 0
    seen = (await asyncio.wait_for(updates.get(), 10))["payload"]["room"]
    assert seen["players"] == ["cat", "dan"]
    sub = await Subscription.open(dan, room_id)
    assert sub.first["room"]["owner"] == "cat"

    # The native host starts; the seed-003 guest sees a proposal and accepts it.
    pending = asyncio.ensure_future(cat.request("START_ROOM", {"room_id": room_id}))
    await sub.until(lambda r: r["start"]["state"] == "proposed")
    assert (await dan.req("respond_start", room_id=room_id, accept=True))["ok"]
    started = await asyncio.wait_for(pending, 30)
    await sub.until(lambda r: r["status"] == "in_game")

    folder = install(await dan.req("download_game", name="rps"), tmp_path / "dl", "dan", "rps")
    cat_env = subprocess_env()
    cat_env.update(
        GAME_HOST=started["game_host"],
        GAME_PORT=str(started["game_port"]),
        ROOM_ID=room_id,
        GAME_NAME="rps",
        GAME_VERSION=started["version"],
        PLAYER_USERNAME="cat",
        PLAYER_NAME="cat",
        PLAYHUB_TICKET=started["ticket"],
        RPS_BOT_MOVES="paper",
    )
    bots = [
        await start(RPS, "bot.py", cat_env),
        await start(folder, "bot.py", game_env(joined, "dan", "rock")),
    ]
    for b in bots:
        rc, out = await finish(b, 60)
        assert rc == 0 and "cat wins" in out, out
    await sub.until(lambda r: r["status"] == "waiting")
    assert (await dan.req("rate_game", name="rps", rating=3, text="lost"))["ok"]
    await sub.close()


async def test_refusal_by_a_native_guest_shows_in_the_seed003_room(hub: Harness) -> None:
    await make_game(hub.app, "duel", max_players=2)
    ann = await Seed003Client(hub.app.lobby_port, "ann").register_and_login()
    bob = await hub.player("bob")
    room_id = (await ann.req("create_room", game="duel"))["room_id"]
    votes = bob.subscribe("VOTE_REQUEST")
    await bob.request("JOIN_ROOM", {"room_id": room_id})
    sub = await Subscription.open(ann, room_id)
    assert (await ann.req("propose_start", room_id=room_id))["ok"]
    seq = (await asyncio.wait_for(votes.get(), 10))["payload"]["seq"]
    await bob.request("VOTE", {"seq": seq, "accept": False})
    room = await sub.until(lambda r: r["start"]["state"] == "rejected")
    assert room["start"]["rejected_by"] == "bob" and room["status"] == "waiting"
    await sub.close()

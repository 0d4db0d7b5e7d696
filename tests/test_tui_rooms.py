"""Joining a room from the lobby, the start vote prompt over any screen, and launch failures."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playhub.client.library import download_game
from playhub.client.publishing import publish_folder
from playhub.tui.screens.lobby import LobbyScreen
from playhub.tui.screens.modals import VoteModal
from playhub.tui.screens.room import RoomScreen
from playhub.tui.screens.store import StoreScreen
from playhub.tui.widgets import NumberedTable
from tests.helpers import Harness
from tests.tui_helpers import login, make_app, make_duel, publish_duel, screen_name, wait_for


async def test_join_from_lobby_downloads_first_then_votes_and_plays(hub: Harness, tmp_path: Path) -> None:
    game_id = await publish_duel(hub, tmp_path)
    await hub.player("bob")  # registered; the app logs in
    alice = await hub.player("alice")
    room_id = (await alice.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]

    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "bob")
        await pilot.press("3")
        lobby = await wait_for(pilot, lambda: isinstance(app.screen, LobbyScreen) and app.screen)
        await wait_for(pilot, lambda: {"alice", "bob"} <= lobby.online, what="presence")
        rooms = await wait_for(pilot, lambda: lobby.query_one("#rooms", NumberedTable))
        await wait_for(pilot, lambda: rooms.row_count == 1, what="room list")

        # Joining needs the room's version: the app offers to download it first.
        await pilot.press("1")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmModal", what="download offer")
        await pilot.press("y")
        room = await wait_for(pilot, lambda: isinstance(app.screen, RoomScreen) and app.screen, what="room")
        assert app.installed_version("duel") == "1.0.0"
        assert room.room_id == room_id
        await wait_for(pilot, lambda: room.room.get("players") == ["alice", "bob"])

        # Wander off to the store: the vote prompt still appears, over whatever is on screen.
        await pilot.press("r")  # ready
        await wait_for(pilot, lambda: "bob" in room.room.get("ready", []), what="ready mark")
        app.push_screen(StoreScreen())
        await wait_for(pilot, lambda: screen_name(app) == "StoreScreen")
        start = asyncio.ensure_future(alice.request("START_ROOM", {"room_id": room_id}, timeout=30))
        modal = await wait_for(pilot, lambda: isinstance(app.screen, VoteModal) and app.screen, what="vote")
        assert modal.by == "alice"
        await pilot.press("1")  # yes
        started = await start
        assert started["room_id"] == room_id

        # Bob's client runs (from the GAME_STARTED push); the app comes back to the room with the result.
        await wait_for(pilot, lambda: room.client_result, timeout=30, what="client result")
        assert room.client_ok, room.client_result
        await wait_for(pilot, lambda: app.screen is room, what="back in the room")
        await wait_for(pilot, lambda: room.match_result, timeout=20, what="match result")
        assert "winner: bob" in room.match_result
        assert (app.library.version_dir("duel", "1.0.0") / "env-bob.json").is_file()


async def test_refusing_the_vote_keeps_everyone_in_the_room(hub: Harness, tmp_path: Path) -> None:
    game_id = await publish_duel(hub, tmp_path)
    alice = await hub.player("alice")
    room_id = (await alice.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await hub.player("bob")
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "bob")
        # Bob has the game already, so joining from the lobby goes straight in.
        await download_game(app.session.client, app.library, game_id)
        await pilot.press("3")
        lobby = await wait_for(pilot, lambda: isinstance(app.screen, LobbyScreen) and app.screen)
        await wait_for(pilot, lambda: lobby.query_one("#rooms", NumberedTable).row_count == 1)
        await pilot.press("enter")
        room = await wait_for(pilot, lambda: isinstance(app.screen, RoomScreen) and app.screen)
        start = asyncio.ensure_future(alice.request_raw("START_ROOM", {"room_id": room_id}, timeout=30))
        await wait_for(pilot, lambda: isinstance(app.screen, VoteModal), what="vote")
        await pilot.press("n")
        answer = await start
        assert answer["code"] == 105
        await wait_for(pilot, lambda: "cancelled" in room.activity, what="vote result shown")
        assert app.screen is room and not room.gone and not app.games_running


async def test_missing_game_client_is_explained_and_the_player_stays(hub: Harness, tmp_path: Path) -> None:
    game_id = await publish_duel(hub, tmp_path)
    bob = await hub.player("bob")
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "alice", register=True)
        installed = await download_game(app.session.client, app.library, game_id)
        (installed.path / "client.py").unlink()  # a damaged local copy
        app.create_room_flow({"game_id": game_id, "name": "duel", "display_name": "Duel"})
        room = await wait_for(pilot, lambda: isinstance(app.screen, RoomScreen) and app.screen)
        await bob.request("JOIN_ROOM", {"room_id": room.room_id})
        await wait_for(pilot, lambda: len(room.room.get("players", [])) == 2)
        vote = asyncio.ensure_future(bob.wait_push("VOTE_REQUEST", timeout=15))
        await pilot.press("s")
        await bob.request("VOTE", {"seq": (await vote)["seq"], "accept": True})
        await wait_for(pilot, lambda: room.client_result, timeout=20, what="launch failure")
        assert not room.client_ok
        assert "client.py is missing" in room.client_result
        assert app.screen is room and not room.gone


async def test_game_client_that_fails_shows_its_last_words(hub: Harness, tmp_path: Path) -> None:
    crash = "import sys\nprint('cannot reach the game server: refused', file=sys.stderr)\nsys.exit(3)\n"
    dev = await hub.developer("devA")
    game_id = (await publish_folder(dev, make_duel(tmp_path / "src", "crashy", client_code=crash), "1.0.0"))[
        "game_id"
    ]
    bob = await hub.player("bob")
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "alice", register=True)
        await download_game(app.session.client, app.library, game_id)
        app.create_room_flow({"game_id": game_id, "name": "crashy", "display_name": "Crashy"})
        room = await wait_for(pilot, lambda: isinstance(app.screen, RoomScreen) and app.screen)
        await bob.request("JOIN_ROOM", {"room_id": room.room_id})
        await wait_for(pilot, lambda: len(room.room.get("players", [])) == 2)
        vote = asyncio.ensure_future(bob.wait_push("VOTE_REQUEST", timeout=15))
        await pilot.press("s")
        await bob.request("VOTE", {"seq": (await vote)["seq"], "accept": True})
        await wait_for(pilot, lambda: room.client_result, timeout=20, what="client failure")
        assert not room.client_ok
        assert "exit code 3" in room.client_result and "refused" in room.client_result
        assert app.screen is room


async def test_create_from_the_lobby_offers_the_download_and_a_lone_host_cannot_start(
    hub: Harness, tmp_path: Path
) -> None:
    await publish_duel(hub, tmp_path)
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "mia", register=True)
        await pilot.press("3")
        await wait_for(pilot, lambda: screen_name(app) == "LobbyScreen" and app.screen.query_one("#rooms"))
        await pilot.press("c")
        await wait_for(pilot, lambda: screen_name(app) == "PickGameModal" and app.screen.query_one("#games"))
        await pilot.press("1")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmModal", what="download offer")
        await pilot.press("n")  # not now: no room is created
        await wait_for(pilot, lambda: screen_name(app) == "LobbyScreen")
        assert app.current_room_id is None and app.installed_version("duel") is None
        await pilot.press("c")
        await wait_for(pilot, lambda: screen_name(app) == "PickGameModal" and app.screen.query_one("#games"))
        await pilot.press("1")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.press("y")
        room = await wait_for(pilot, lambda: isinstance(app.screen, RoomScreen) and app.screen, what="room")
        assert app.installed_version("duel") == "1.0.0"
        await wait_for(pilot, lambda: room.room.get("host") == "mia")
        # Two players are needed: the server refuses and the room says why.
        await pilot.press("s")
        await wait_for(pilot, lambda: "did not start" in room.activity, what="refusal")
        assert not app.games_running
        # Leaving brings the lobby back, without the room.
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.press("y")
        lobby = await wait_for(pilot, lambda: isinstance(app.screen, LobbyScreen) and app.screen)
        await wait_for(pilot, lambda: not lobby.rooms, what="room gone from the list")

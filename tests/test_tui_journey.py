"""The whole player journey through the app, driven by the pilot against a real server: register, browse the store,
download, create a room, a second player joins and accepts the start vote, the game client runs with the right
environment, the app comes back to the room with the result, and the player reviews the game."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from playhub.tui.screens.room import RoomScreen
from playhub.tui.screens.store import GameScreen, StoreScreen
from playhub.tui.widgets import NumberedTable
from tests.helpers import Harness
from tests.tui_helpers import login, make_app, publish_duel, row_text, screen_name, wait_for


async def test_register_download_create_play_and_review(hub: Harness, tmp_path: Path) -> None:
    game_id = await publish_duel(hub, tmp_path)
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "alice", register=True)
        assert app.library.base == tmp_path / "downloads" / "alice"

        # Store: the table lists the game, not installed yet.
        await pilot.press("1")
        store = await wait_for(pilot, lambda: isinstance(app.screen, StoreScreen) and app.screen)
        table = await wait_for(pilot, lambda: store.query_one(NumberedTable))
        await wait_for(pilot, lambda: table.row_count == 1, what="store rows")
        row = row_text(table, 0)
        assert row[1] == "Duel" and row[4] == "1.0.0" and row[6] == "—"

        # Details, then download with the progress modal.
        await pilot.press("1")
        game = await wait_for(pilot, lambda: isinstance(app.screen, GameScreen) and app.screen)
        await wait_for(pilot, lambda: game.detail.get("description"), what="game details")
        await pilot.press("1")  # Download 1.0.0
        await wait_for(pilot, lambda: app.installed_version("duel") == "1.0.0", what="download")
        await wait_for(pilot, lambda: screen_name(app) == "GameScreen")

        # Create a room in the same flow.
        await pilot.press("2")
        room = await wait_for(pilot, lambda: isinstance(app.screen, RoomScreen) and app.screen)
        assert room.room.get("game_id") == game_id

        # A second player joins with a plain client; the room updates live.
        bob = await hub.player("bob")
        await bob.request("JOIN_ROOM", {"room_id": room.room_id})
        await wait_for(pilot, lambda: "bob" in room.room.get("players", []), what="bob in the room")
        await bob.request("READY", {"room_id": room.room_id})
        await wait_for(pilot, lambda: "bob" in room.room.get("ready", []), what="bob ready")

        # Start: bob is asked and accepts; the app launches alice's game client.
        vote_request = asyncio.ensure_future(bob.wait_push("VOTE_REQUEST", timeout=15))
        await pilot.press("s")
        request = await vote_request
        assert request["by"] == "alice" and request["room_id"] == room.room_id
        await bob.request("VOTE", {"seq": request["seq"], "accept": True})

        await wait_for(pilot, lambda: room.client_result, timeout=30, what="the game client's result")
        assert room.client_ok, room.client_result
        await wait_for(pilot, lambda: room.match_result, timeout=20, what="GAME_ENDED")
        assert "winner: alice" in room.match_result
        assert app.screen is room

        env = json.loads((app.library.version_dir("duel", "1.0.0") / "env-alice.json").read_text())
        assert env["GAME_NAME"] == "duel" and env["GAME_VERSION"] == "1.0.0"
        assert env["PLAYER_USERNAME"] == env["PLAYER_NAME"] == "alice"
        assert env["ROOM_ID"] == room.room_id
        assert env["GAME_HOST"] and int(env["GAME_PORT"]) > 0
        assert env["PLAYHUB_TICKET"] and env["sdk"] is True
        assert Path(env["cwd"]) == app.library.version_dir("duel", "1.0.0")

        # Leave the room, go to My games, review.
        await pilot.press("l")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.press("1")
        await wait_for(pilot, lambda: screen_name(app) == "GameScreen", what="back from the room")
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: screen_name(app) == "HomeScreen")
        await pilot.press("4")
        played = await wait_for(
            pilot, lambda: screen_name(app) == "MyGamesScreen" and app.screen.query_one(NumberedTable)
        )
        await wait_for(pilot, lambda: played.row_count == 1, what="played games")
        assert row_text(played, 0)[1:3] == ["Duel", "1"] and row_text(played, 0)[4] == "not reviewed"
        await pilot.press("1")
        await wait_for(pilot, lambda: screen_name(app) == "ReviewScreen")
        await pilot.press("5")
        await pilot.click("#comment")
        await pilot.press(*"great")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_name(app) == "MyGamesScreen", what="review saved")
        reviews = (await bob.request("LIST_REVIEWS", {"game_id": game_id}))["reviews"]
        assert [(r["player"], r["score"], r["comment"]) for r in reviews] == [("alice", 5, "great")]

"""The player journey's rough edges, driven through the app: the vote prompt, window games that cannot run, an
expired login, refused joins, the store, quitting, reviews."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from playhub.client.library import download_game
from playhub.client.publishing import publish_folder
from playhub.tui.app import PlayerApp
from playhub.tui.messages import ServerPush
from playhub.tui.screens.login import LoginScreen
from playhub.tui.screens.modals import VoteModal
from playhub.tui.screens.mygames import ReviewScreen
from playhub.tui.screens.room import RoomScreen
from playhub.tui.screens.store import StoreScreen
from playhub.tui.widgets import NumberedTable
from tests.helpers import Harness
from tests.store_helpers import record_play
from tests.tui_helpers import login, make_app, make_duel, publish_duel, row_text, screen_name, wait_for


def _notes(app: PlayerApp) -> list[str]:
    seen: list[str] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        seen.append(message)
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return seen


async def test_the_vote_prompt_is_dismissed_once(hub: Harness, tmp_path: Path) -> None:
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "vera", register=True)
        room = RoomScreen("r-1", {"room_id": "r-1", "players": ["vera"], "host": "vera"})
        await app.push_screen(room)
        modal = VoteModal({"seq": 7, "room_id": "r-1", "by": "host", "timeout_s": 30})
        await app.push_screen(modal)
        # Our own vote completes the vote: its answer and the VOTE_RESULT push both close the prompt.
        result = ServerPush(
            "VOTE_RESULT", {"seq": 7, "room_id": "r-1", "accepted": True, "reason": "accepted"}
        )
        modal.on_server_push(result)
        modal.finish(True)
        modal.on_server_push(result)
        await pilot.pause(0.1)
        assert app.screen is room  # still in the room, where the result shows


async def _start_with(
    hub: Harness, tmp_path: Path, app: PlayerApp, pilot: Any, game_id: str
) -> tuple[Any, Any]:
    bob = await hub.player("bob")
    await login(pilot, "alice", register=True)
    await download_game(app.session.client, app.library, game_id)
    app.create_room_flow({"game_id": game_id, "name": "gui", "display_name": "Gui"})
    room = await wait_for(pilot, lambda: isinstance(app.screen, RoomScreen) and app.screen)
    await bob.request("JOIN_ROOM", {"room_id": room.room_id})
    await wait_for(pilot, lambda: len(room.room.get("players", [])) == 2)
    vote = asyncio.ensure_future(bob.wait_push("VOTE_REQUEST", timeout=15))
    await pilot.press("s")
    ended = asyncio.ensure_future(bob.wait_push("GAME_ENDED", timeout=30))
    await bob.request("VOTE", {"seq": (await vote)["seq"], "accept": True})
    return room, ended


async def test_window_game_without_a_display_is_explained_and_releases_the_seat(
    hub: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(var, raising=False)
    dev = await hub.developer("devA")
    game_id = (await publish_folder(dev, make_duel(tmp_path / "src", "gui", type="gui"), "1.0.0"))["game_id"]
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        room, ended = await _start_with(hub, tmp_path, app, pilot, game_id)
        await wait_for(pilot, lambda: room.client_result, timeout=20, what="explanation")
        assert "no display" in room.client_result and not room.client_ok
        assert (await ended)["reason"] == "abandoned"  # the seat was given back: the match did not hang
        await wait_for(pilot, lambda: room.room.get("status") == "WAITING", what="room waiting again")
        assert app.screen is room


async def test_window_game_missing_pygame_says_how_to_install_it(
    hub: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", ":99")
    client = "import sys\nraise ModuleNotFoundError(\"No module named 'pygame'\")\n"
    dev = await hub.developer("devA")
    folder = make_duel(tmp_path / "src", "gui", type="gui", client_code=client)
    game_id = (await publish_folder(dev, folder, "1.0.0"))["game_id"]
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        room, ended = await _start_with(hub, tmp_path, app, pilot, game_id)
        await wait_for(pilot, lambda: room.client_result, timeout=20, what="explanation")
        assert "pip install 'playhub[games]'" in room.client_result
        assert (await ended)["reason"] == "abandoned"


async def test_another_login_sends_the_app_back_to_the_login_form(hub: Harness, tmp_path: Path) -> None:
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "lena", register=True)
        await pilot.press("1")  # the store
        await wait_for(pilot, lambda: screen_name(app) == "StoreScreen")
        other = await hub.lobby()
        await other.login_player(
            "lena", "secret-pw"
        )  # the same account elsewhere replaces this session (105)
        await pilot.press("r")  # the next request finds out
        form = await wait_for(
            pilot, lambda: isinstance(app.screen, LoginScreen) and app.screen, what="login form"
        )
        assert "Login expired, log in again" in form.message
        # Logging in again works from there.
        app.screen.query_one("#username", Input).value = "lena"
        field = app.screen.query_one("#password", Input)
        field.value = "secret-pw"
        field.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "HomeScreen", what="home again")


async def test_full_room_and_second_room_are_refused_before_any_download(
    hub: Harness, tmp_path: Path
) -> None:
    game_id = await publish_duel(hub, tmp_path)
    alice, bob = await hub.player("alice"), await hub.player("bob")
    full = (await alice.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await bob.request("JOIN_ROOM", {"room_id": full})
    app = make_app(hub, tmp_path / "downloads")
    notes = _notes(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "cara", register=True)
        await pilot.press("3")
        lobby = await wait_for(pilot, lambda: screen_name(app) == "LobbyScreen" and app.screen)
        await wait_for(pilot, lambda: lobby.query_one("#rooms", NumberedTable).row_count == 1)
        await pilot.press("1")
        await wait_for(pilot, lambda: any("full" in n for n in notes), what="full room refusal")
        assert screen_name(app) == "LobbyScreen"  # no download offer
        app.current_room_id = "elsewhere-1"  # as if cara sat in another room
        app.join_room_flow({"room_id": "other", "status": "WAITING", "players": [], "max_players": 2})
        await wait_for(pilot, lambda: any("already in room elsewhere-1" in n for n in notes), what="refusal")
        app.create_room_flow({"game_id": game_id, "name": "duel"})
        await wait_for(pilot, lambda: sum("already in room" in n for n in notes) == 2, what="create refusal")
        assert screen_name(app) == "LobbyScreen" and app.installed_version("duel") is None


async def test_store_shows_descriptions_and_refreshes_when_shown_again(hub: Harness, tmp_path: Path) -> None:
    dev = await hub.developer("devA")
    await publish_folder(dev, make_duel(tmp_path / "src", "duel"), "1.0.0")
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(140, 30)) as pilot:
        await login(pilot, "sam", register=True)
        await pilot.press("1")
        store = await wait_for(pilot, lambda: isinstance(app.screen, StoreScreen) and app.screen)
        table = await wait_for(pilot, lambda: store.query_one(NumberedTable))
        await wait_for(pilot, lambda: table.row_count == 1)
        assert "Duel: a two-player test game." in " ".join(row_text(table, 0))
        await publish_folder(
            dev, make_duel(tmp_path / "src", "arena"), "1.0.0"
        )  # published while the store is open
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "GameScreen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is store and table.row_count == 2, what="store refreshed")


async def test_escape_on_home_asks_before_quitting(hub: Harness, tmp_path: Path) -> None:
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "quin", register=True)
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmModal", what="quit question")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "HomeScreen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, what="the app quits")


async def test_a_review_shows_the_new_average_and_count(hub: Harness, tmp_path: Path) -> None:
    game_id = await publish_duel(hub, tmp_path)
    bob = await hub.player("bob")
    await record_play(hub.app, game_id, "bob")
    await bob.request("ADD_REVIEW", {"game_id": game_id, "score": 2, "comment": ""})
    await hub.player("rita")
    await record_play(hub.app, game_id, "rita")
    app = make_app(hub, tmp_path / "downloads")
    notes = _notes(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "rita")
        await app.push_screen(ReviewScreen({"game_id": game_id, "name": "duel", "display_name": "Duel"}))
        await wait_for(pilot, lambda: screen_name(app) == "ReviewScreen" and app.screen.query_one("#comment"))
        await pilot.press("5")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("saved" in n for n in notes), what="saved")
        assert any("Now 3.5 ★ on average from 2 reviews." in n for n in notes), notes


ENDLESS_SERVER = r"""
import os, socket
srv = socket.create_server((os.environ["GAME_HOST"], int(os.environ["GAME_PORT"])))
while True:
    srv.accept()[0].close()
"""

COUNTING_CLIENT = r"""
with open("starts.txt", "a") as fh:
    fh.write("start\n")
"""


async def test_logging_in_again_finds_the_running_match_and_goes_back_in(
    hub: Harness, tmp_path: Path
) -> None:
    dev = await hub.developer("devA")
    folder = make_duel(tmp_path / "src", "endless", client_code=COUNTING_CLIENT)
    (folder / "server.py").write_text(ENDLESS_SERVER)
    game_id = (await publish_folder(dev, folder, "1.0.0"))["game_id"]
    alice, bob = await hub.player("alice"), await hub.player("bob")
    room_id = (await alice.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await bob.request("JOIN_ROOM", {"room_id": room_id})
    votes = bob.subscribe("VOTE_REQUEST")
    pending = asyncio.ensure_future(alice.request("START_ROOM", {"room_id": room_id}))
    await bob.request(
        "VOTE", {"seq": (await asyncio.wait_for(votes.get(), 10))["payload"]["seq"], "accept": True}
    )
    await pending
    await bob.close()  # bob's computer goes away; he opens the app again
    app = make_app(hub, tmp_path / "downloads")
    notes = _notes(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "bob")
        await wait_for(pilot, lambda: app.current_room_id == room_id, what="the server told us our room")
        assert any("still running" in n for n in notes)
        await download_game(app.session.client, app.library, game_id)
        await pilot.press("3")
        lobby = await wait_for(pilot, lambda: screen_name(app) == "LobbyScreen" and app.screen)
        await wait_for(pilot, lambda: lobby.query_one("#rooms", NumberedTable).row_count == 1)
        await pilot.press("1")
        room = await wait_for(
            pilot, lambda: isinstance(app.screen, RoomScreen) and app.screen, what="our room"
        )
        await wait_for(pilot, lambda: room.can_rejoin, what="the match and the way back")
        await pilot.press("g")
        starts = app.library.version_dir("endless", "1.0.0") / "starts.txt"
        await wait_for(pilot, lambda: starts.is_file(), what="the client started again")
        await wait_for(pilot, lambda: room.client_result, what="client finished")
        assert (await alice.request("LIST_ROOMS"))["rooms"][0]["status"] == "PLAYING"

"""Login errors, menus driven by digits and arrows, help, the library (updates, removal), and the review form."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.widgets import Input, Static

from playhub.client.library import download_game
from playhub.client.publishing import publish_folder
from playhub.tui.screens.library import LibraryScreen
from playhub.tui.screens.mygames import ReviewScreen
from playhub.tui.widgets import NumberedMenu, NumberedTable
from tests.helpers import Harness
from tests.store_helpers import record_play
from tests.tui_helpers import login, make_app, make_duel, publish_duel, row_text, screen_name, wait_for


async def test_login_errors_are_inline_and_the_password_is_hidden(hub: Harness, tmp_path: Path) -> None:
    await hub.player("erin")
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        password = await wait_for(
            pilot, lambda: screen_name(app) == "LoginScreen" and app.screen.query_one("#password", Input)
        )
        assert password.password  # rendered as dots, never echoed
        await pilot.click("#username")
        await pilot.press(*"erin", "enter", *"wrong-pw", "enter")
        error = app.screen.query_one("#error", Static)
        await wait_for(pilot, lambda: "Login failed" in str(error.render()), what="inline error")
        assert "wrong-pw" not in str(error.render())
        assert screen_name(app) == "LoginScreen"
        # Registering a name that exists says so, on the same form.
        await pilot.click("#register")
        await wait_for(pilot, lambda: "Registration failed" in str(error.render()))
        # Short passwords are refused with the rule.
        password.value = "123"
        app.screen.query_one("#username", Input).value = "newbie"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "Not accepted" in str(error.render()), what="the password rule")
        assert "password" in str(error.render())


async def test_menus_work_with_digits_and_arrows_and_help_explains(hub: Harness, tmp_path: Path) -> None:
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "fran", register=True)
        menu = await wait_for(pilot, lambda: app.screen.query_one(NumberedMenu))
        assert menu.option_count == 5
        await pilot.press("down", "enter")  # arrows: the second entry is the library
        await wait_for(pilot, lambda: screen_name(app) == "LibraryScreen")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: screen_name(app) == "HelpModal" and len(app.screen.query(Static)) > 2)
        text = "\n".join(str(w.render()) for w in app.screen.query(Static))
        assert "Remove" in text and "Update" in text and "Esc" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "LibraryScreen")
        await pilot.press("escape")  # back
        await wait_for(pilot, lambda: screen_name(app) == "HomeScreen")
        await pilot.press("3")  # digits: the lobby
        await wait_for(pilot, lambda: screen_name(app) == "LobbyScreen")
        await pilot.press("escape", "5")  # log out
        await wait_for(pilot, lambda: screen_name(app) == "LoginScreen", what="logged out")
        assert app.library is None


async def test_library_shows_updates_updates_and_removes(hub: Harness, tmp_path: Path) -> None:
    dev = await hub.developer("devA")
    folder = make_duel(tmp_path / "src")
    game_id = (await publish_folder(dev, folder, "1.0.0"))["game_id"]
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "gina", register=True)
        await download_game(app.session.client, app.library, game_id)
        await publish_folder(dev, folder, "1.1.0")
        await pilot.press("2")
        library = await wait_for(pilot, lambda: isinstance(app.screen, LibraryScreen) and app.screen)
        table = await wait_for(pilot, lambda: library.query_one(NumberedTable))
        await wait_for(
            pilot, lambda: table.row_count == 1 and "update available (1.1.0)" in row_text(table, 0)
        )
        await pilot.press("u")
        await wait_for(pilot, lambda: app.library.versions("duel") == ["1.0.0", "1.1.0"], what="updated")
        await wait_for(pilot, lambda: table.row_count == 2)
        assert [row_text(table, i)[4] for i in range(2)] == ["older version", "up to date"]
        # Remove the old copy (after confirming).
        table.move_cursor(row=0)
        await pilot.press("d")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmModal")
        await pilot.press("1")
        await wait_for(pilot, lambda: app.library.versions("duel") == ["1.1.0"], what="removed")
        await wait_for(pilot, lambda: table.row_count == 1)


async def test_failed_review_keeps_what_was_typed(hub: Harness, tmp_path: Path) -> None:
    game_id = await publish_duel(hub, tmp_path)
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "hana", register=True)
        # Reviews are only for players who played: the server refuses (102) and the form keeps its content.
        await app.push_screen(ReviewScreen({"game_id": game_id, "name": "duel", "display_name": "Duel"}))
        error = await wait_for(
            pilot, lambda: screen_name(app) == "ReviewScreen" and app.screen.query_one("#error", Static)
        )
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Pick a score" in str(error.render()))
        await pilot.press("4")
        comment = app.screen.query_one("#comment", Input)
        comment.value = "nice game"
        comment.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "not saved" in str(error.render()), what="refusal shown")
        assert app.screen.query_one("#comment", Input).value == "nice game"
        assert app.screen.score == 4
        assert screen_name(app) == "ReviewScreen"


async def test_names_and_comments_are_shown_literally_never_as_markup(hub: Harness, tmp_path: Path) -> None:
    dev = await hub.developer("devA")
    folder = make_duel(
        tmp_path / "src", "tricky", display_name="[b]Tricky[/b] [red", description="Uses [/] and [link=x]"
    )
    game_id = (await publish_folder(dev, folder, "1.0.0"))["game_id"]
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "lee", register=True)
        await record_play(hub.app, game_id, "lee")
        await app.session.request(
            "ADD_REVIEW", {"game_id": game_id, "score": 3, "comment": "[/b] closing tags [x"}
        )
        await pilot.press("1")
        table = await wait_for(
            pilot, lambda: screen_name(app) == "StoreScreen" and app.screen.query_one(NumberedTable)
        )
        await wait_for(pilot, lambda: table.row_count == 1)
        assert row_text(table, 0)[1] == "[b]Tricky[/b] [red"
        await pilot.press("1")
        await wait_for(pilot, lambda: screen_name(app) == "GameScreen" and app.screen.reviews, what="details")
        about = app.screen.query_one("#about", Static)
        reviews = app.screen.query_one("#reviews", Static)
        await pilot.pause()
        assert "[b]Tricky[/b] [red" in str(about.render()) and "Uses [/] and [link=x]" in str(about.render())
        assert "[/b] closing tags [x" in str(reviews.render())
        app.notify("a [/] message from [b]someone")  # notifications never parse markup either
        await pilot.pause()


async def test_leaving_screens_while_they_load_never_breaks_the_app(hub: Harness, tmp_path: Path) -> None:
    await publish_duel(hub, tmp_path)
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "nina", register=True)
        # A slow network: every answer arrives after the player already left the screen that asked.
        request = app.session.request

        async def slow_request(*args: Any, **kwargs: Any) -> dict[str, Any]:
            await asyncio.sleep(0.3)
            return await request(*args, **kwargs)

        app.session.request = slow_request  # type: ignore[method-assign]
        for key in ("1", "2", "3", "4"):
            await pilot.press(key, "escape")
        await pilot.pause(0.8)
        assert screen_name(app) == "HomeScreen"
        assert app.is_running

"""Strings from the server are printed inert: no terminal escape sequences, control characters, bidi overrides or
markup reach the terminal, in the ``playhub play`` CLI, the ``playhub dev`` tables and the player TUI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Static

from playhub.cli.dev.views import games_table, reviews_view
from playhub.cli.main import main
from playhub.client.publishing import publish_folder
from playhub.names import UNSAFE_CHARS
from playhub.tui.format import safe_console_markup, safe_markup, safe_text
from playhub.tui.widgets import NumberedTable
from tests.helpers import Harness
from tests.store_helpers import record_play
from tests.tui_helpers import login, make_app, make_duel, row_text, screen_name, wait_for

HOSTILE_NAME = "Evil\x1b[2J\x1b]0;owned\x07\u202eGame\x9b31m"
HOSTILE_TEXT = "Line one\x1b[31m red\nline two [bold red]not markup[/] \x07\x1bc"
HOSTILE_COMMENT = "[link=https://x]click[/link] \x1b[8m hidden \u2066[b]loud[/b]"


def _assert_inert(text: str) -> None:
    bad = [ch for ch in text if UNSAFE_CHARS.match(ch) and ch not in "\n"]
    assert not bad, (bad, text)


def test_helpers() -> None:
    assert safe_text(HOSTILE_NAME) == "EvilGame"
    assert safe_text("a\nb") == "a b" and safe_text("a\nb", multiline=True) == "a\nb"
    assert safe_markup("[b]x[/b] [$accent]") == "\\[b]x\\[/b] \\[$accent]"
    assert safe_console_markup("[b]x\x1b[1m") == "\\[b]x"


async def _hostile_game(hub: Harness, tmp_path: Path) -> str:
    dev = await hub.developer("devA")
    game_id = (await publish_folder(dev, make_duel(tmp_path / "src", "evil"), "1.0.0"))["game_id"]

    # Input refuses these characters; a store written by an older release (or a hostile server) may still hold them.
    player = await hub.player("ivy")
    await record_play(hub.app, game_id, "ivy")
    await player.request("ADD_REVIEW", {"game_id": game_id, "score": 2, "comment": "fine"})

    def poison(conn):  # type: ignore[no-untyped-def]
        conn.execute(
            "UPDATE games SET display_name = ?, description = ? WHERE id = ?", (HOSTILE_NAME, HOSTILE_TEXT, game_id)
        )
        conn.execute("UPDATE reviews SET comment = ? WHERE game_id = ?", (HOSTILE_COMMENT, game_id))

    await hub.app.db.run(poison)
    hub.app.events.emit("catalog_changed", game_id)
    return game_id


async def test_play_cli_prints_server_strings_inert(
    hub: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _hostile_game(hub, tmp_path)
    base = ["--port", str(hub.app.lobby_port), "--host", "127.0.0.1", "--user", "ivy", "--password", "secret-pw"]
    for argv in (["show", "evil"], ["games", "--downloads", str(tmp_path / "dl")], ["rooms"]):
        code = await asyncio.to_thread(main, ["play", *argv, *base])
        out, err = capsys.readouterr()
        assert code == 0, err
        _assert_inert(out + err)
        if argv[0] == "show":
            assert "EvilGame" in out
            assert "[bold red]not markup[/]" in out and "[link=https://x]click[/link]" in out
            assert "[b]loud[/b]" in out


def test_dev_tables_print_inert() -> None:
    from rich.console import Console

    console = Console(record=True, width=200, force_terminal=True, color_system=None)
    game = {"name": "evil", "display_name": HOSTILE_NAME, "max_players": 2, "status": "ONLINE", "game_type": "cli"}
    console.print(games_table([game]))
    console.print(reviews_view("evil", {"reviews": [{"player": "ivy", "score": 2, "comment": HOSTILE_COMMENT}]}))
    out = console.export_text()
    _assert_inert(out)
    assert "EvilGame" in out and "[link=https://x]click[/link]" in out


async def test_tui_shows_server_strings_inert(hub: Harness, tmp_path: Path) -> None:
    await _hostile_game(hub, tmp_path)
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(120, 40)) as pilot:
        await login(pilot, "lee", register=True)
        await pilot.press("1")
        table = await wait_for(
            pilot, lambda: screen_name(app) == "StoreScreen" and app.screen.query_one(NumberedTable)
        )
        await wait_for(pilot, lambda: table.row_count == 1)
        assert row_text(table, 0)[1] == "EvilGame"
        await pilot.press("1")
        await wait_for(pilot, lambda: screen_name(app) == "GameScreen" and app.screen.reviews, what="details")
        await pilot.pause()
        about = str(app.screen.query_one("#about", Static).render())
        reviews = str(app.screen.query_one("#reviews", Static).render())
        _assert_inert(about + reviews + str(app.screen.title))
        assert "EvilGame" in about and "[bold red]not markup[/]" in about and "line two" in about
        assert "[link=https://x]click[/link]" in reviews and "[b]loud[/b]" in reviews

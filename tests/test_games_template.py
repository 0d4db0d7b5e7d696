"""``playhub.templates.create_game``: every type generates a game that passes its own tests, plays to the end
against bots, and publishes and plays through the real platform."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from playhub.packages import read_manifest_file
from playhub.templates import create_game
from tests.games_helpers import ReportSink, Room, finish, play_match, reap, start, wait_output
from tests.helpers import subprocess_env

pytestmark = pytest.mark.usefixtures(reap.__name__)
TYPES = ["cli", "gui", "multi"]


@pytest.mark.parametrize("game_type", TYPES)
async def test_generated_game_plays_to_the_end(tmp_path: Path, game_type: str) -> None:
    folder = create_game(tmp_path / "my-game", "my-game", game_type)
    assert folder == tmp_path / "my-game"
    assert {p.name for p in folder.iterdir()} == {
        "manifest.json",
        "rules.py",
        "server.py",
        "client.py",
        "bot.py",
        "test_game.py",
        "README.md",
    }
    assert not any("@@" in p.read_text() for p in folder.iterdir())
    manifest = read_manifest_file(folder)  # the platform's own manifest check
    assert (manifest.name, manifest.type, manifest.display_name) == ("my-game", game_type, "My Game")
    players = ["ann", "bob", "cat", "dan"][: manifest.min_players]
    assert len(players) == (3 if game_type == "multi" else 2)
    sink, _, outs = await play_match(folder, players)
    results = sink.results()
    assert results["winner"] in players and set(results["scores"]) == set(players)
    assert all(results["summary"] in out for out in outs)


async def test_generated_test_file_passes(tmp_path: Path) -> None:
    folder = create_game(tmp_path / "quiz", "quiz", "multi")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "unittest",
        "test_game",
        cwd=folder,
        env=subprocess_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    rc, out = await finish(proc, 60)
    assert rc == 0, out
    assert "Ran 3 tests" in out and "OK" in out


async def test_generated_clients_run(tmp_path: Path) -> None:
    """The terminal client plays from stdin; the pygame client opens its window headless and leaves on SIGTERM."""
    cli = create_game(tmp_path / "cli", "pile-cli", "cli")
    gui = create_game(tmp_path / "gui", "pile-gui", "gui")
    async with ReportSink() as sink:
        room = Room(["ann", "bob"], lobby_port=sink.port)
        server = await start(cli, "server.py", room.server_env())
        client = await start(cli, "client.py", room.client_env("ann"), stdin=True)
        bot = await start(cli, "bot.py", room.client_env("bob"))
        assert client.stdin is not None
        client.stdin.write(b"9\n" + b"1\n" * 15)
        client.stdin.close()
        rc, out = await finish(client)
        assert "type a number from 1 to 3" in out and ("You win!" in out or "bob wins." in out)
        assert (await finish(bot))[0] == 0 and (await finish(server))[0] == 0

        room = Room(["ann", "bob"], lobby_port=sink.port)
        server = await start(gui, "server.py", room.server_env())
        window = await start(gui, "client.py", room.client_env("ann"))
        bot = await start(gui, "bot.py", room.client_env("bob"))
        await wait_output(server, "ann joined", "bob joined")
        assert window.returncode is None  # up and waiting for a click
        window.terminate()
        await finish(window)
        assert (await finish(bot))[0] == 0 and (await finish(server))[0] == 0
    assert sink.messages[-1]["payload"]["results"]["winner"] == "bob"  # ann left: bob is the last one


def test_create_game_refusals(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a valid game name"):
        create_game(tmp_path / "x", "Bad Name", "cli")
    with pytest.raises(ValueError, match="game type"):
        create_game(tmp_path / "x", "good", "vr")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        create_game(tmp_path / "busy", "good", "cli")
    (tmp_path / "empty").mkdir()
    assert create_game(tmp_path / "empty", "good", "GUI") == tmp_path / "empty"  # case-insensitive type
    assert read_manifest_file(tmp_path / "empty").type == "gui"

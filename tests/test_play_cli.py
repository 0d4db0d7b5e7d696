"""``playhub play`` subcommands against a real server: games, show, download (with update), library, rooms, review,
and the errors they report."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from playhub.cli.main import main
from playhub.client.publishing import publish_folder
from tests.helpers import Harness, subprocess_env
from tests.store_helpers import record_play
from tests.tui_helpers import make_duel


async def play(
    capsys: pytest.CaptureFixture[str], hub: Harness, *argv: str, user: str = "ivy"
) -> tuple[int, str, str]:
    """Run ``playhub play ...`` in a thread (it runs its own event loop) against the hub; return (status, out, err)."""
    args = ["play", *argv, "--port", str(hub.app.lobby_port), "--host", "127.0.0.1"]
    if user:
        args += ["--user", user, "--password", "secret-pw"]
    code = await asyncio.to_thread(main, args)
    out, err = capsys.readouterr()
    return code, out, err


async def test_games_show_download_update_library_rooms_review(
    hub: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev = await hub.developer("devA")
    folder = make_duel(tmp_path / "src")
    game_id = (await publish_folder(dev, folder, "1.0.0"))["game_id"]
    await hub.player("ivy")
    downloads = str(tmp_path / "dl")

    code, out, _ = await play(capsys, hub, "games", "--downloads", downloads)
    assert code == 0 and "duel" in out and "1.0.0" in out

    code, out, _ = await play(capsys, hub, "show", "Duel")
    assert code == 0 and "a two-player test game" in out and "No reviews yet." in out

    code, out, _ = await play(capsys, hub, "download", "duel", "--downloads", downloads)
    assert code == 0 and "Installed Duel 1.0.0" in out
    assert (tmp_path / "dl" / "ivy" / "duel" / "1.0.0" / "manifest.json").is_file()

    code, out, _ = await play(capsys, hub, "download", "duel", "--downloads", downloads)
    assert code == 0 and "up to date" in out

    await publish_folder(dev, folder, "1.1.0")
    code, out, _ = await play(capsys, hub, "games", "--downloads", downloads)
    assert "update" in out and "1.1.0" in out
    code, out, _ = await play(capsys, hub, "download", "duel", "--downloads", downloads)
    assert code == 0 and "Updated Duel 1.1.0" in out

    code, out, _ = await play(capsys, hub, "library", "--downloads", downloads)
    assert code == 0 and "1.0.0, 1.1.0" in out

    alice = await hub.player("alice")
    room_id = (await alice.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    code, out, _ = await play(capsys, hub, "rooms")
    assert code == 0 and room_id in out and "alice" in out

    # A review needs a played game: 102 first, then accepted.
    code, _, err = await play(capsys, hub, "review", "duel", "--score", "4", "--comment", "tidy")
    assert code == 1 and "code 102" in err
    await record_play(hub.app, game_id, "ivy")
    code, out, _ = await play(capsys, hub, "review", "duel", "--score", "4", "--comment", "tidy")
    assert code == 0 and "Review saved" in out and "★ 4.0" in out


async def test_errors_are_one_line_with_exit_status_1(
    hub: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await hub.player("ivy")
    code, _, err = await play(capsys, hub, "show", "nope")
    assert code == 1 and "no game 'nope'" in err
    code, _, err = await play(capsys, hub, "games", user="")
    assert code == 1 and "--user and --password" in err
    code, _, err = await play(capsys, hub, "games", "--password", "wrong-pw", user="")
    assert code == 1
    args = ["play", "games", "--port", str(hub.app.lobby_port), "--user", "ivy", "--password", "wrong-pw"]
    code = await asyncio.to_thread(main, args)
    assert code == 1 and "code 101" in capsys.readouterr().err
    # Nobody listening.
    code = await asyncio.to_thread(
        main, ["play", "games", "--port", "1", "--user", "ivy", "--password", "x" * 8]
    )
    assert code == 1 and "cannot reach the lobby" in capsys.readouterr().err


def test_help_explains_the_commands_and_where_the_server_is() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "playhub", "play", "--help"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for word in (
        "games",
        "show",
        "download",
        "library",
        "rooms",
        "review",
        "PLAYHUB_LOBBY_HOST",
        "PLAYHUB_USER",
    ):
        assert word in out


async def test_credentials_and_server_from_the_environment(
    hub: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await hub.player("ivy")
    monkeypatch.setenv("PLAYHUB_USER", "ivy")
    monkeypatch.setenv("PLAYHUB_PASSWORD", "secret-pw")
    monkeypatch.setenv("PLAYHUB_LOBBY_HOST", "127.0.0.1")
    monkeypatch.setenv("PLAYHUB_LOBBY_PORT", str(hub.app.lobby_port))
    code = await asyncio.to_thread(main, ["play", "games"])
    assert code == 0 and "no games yet" in capsys.readouterr().out
    # Seed 003's variable names work too.
    monkeypatch.delenv("PLAYHUB_LOBBY_HOST")
    monkeypatch.delenv("PLAYHUB_LOBBY_PORT")
    monkeypatch.setenv("LOBBY_CONNECT_HOST", "127.0.0.1")
    monkeypatch.setenv("LOBBY_CONNECT_PORT", str(hub.app.lobby_port))
    code = await asyncio.to_thread(main, ["play", "rooms"])
    assert code == 0 and "No rooms are open." in capsys.readouterr().out

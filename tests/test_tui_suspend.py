"""A terminal game holding the terminal, in a real pseudo-terminal: the app draws nothing meanwhile (updates wait and
are shown once it is back), Ctrl-C ends only the game, and a player goes back into a running match."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from playhub.client.library import LocalLibrary, download_game
from playhub.client.publishing import publish_folder
from tests.helpers import Harness, subprocess_env
from tests.test_tui_terminal import Terminal
from tests.tui_helpers import make_duel

# Reports the end of the match a moment after it starts (the clients are not told): the room waits again while the
# player's client still holds the terminal.
FINISH_SOON_SERVER = r"""
import os, socket, time
from playhub.sdk import RoomContext
room = RoomContext.from_env()
srv = socket.create_server((os.environ["GAME_HOST"], int(os.environ["GAME_PORT"])))
time.sleep(1.0)
room.report_finished({"winner": "nobody", "summary": "ended early"})
time.sleep(0.5)
"""

# Runs until stopped: a match that goes on.
ENDLESS_SERVER = r"""
import os, socket
srv = socket.create_server((os.environ["GAME_HOST"], int(os.environ["GAME_PORT"])))
while True:
    srv.accept()[0].close()
"""

# Waits for Enter; counts its starts in a file next to itself.
WAITING_CLIENT = r"""
import os
with open("starts.txt", "a") as fh:
    fh.write("start\n")
print("CLIENT WAITING", flush=True)
input()
print("CLIENT DONE", flush=True)
"""


async def _setup(hub: Harness, tmp_path: Path, server_code: str) -> tuple[str, Path]:
    dev = await hub.developer("devA")
    folder = make_duel(tmp_path / "src", "holder", client_code=WAITING_CLIENT)
    (folder / "server.py").write_text(server_code)
    game_id = str((await publish_folder(dev, folder, "1.0.0"))["game_id"])
    await (await hub.lobby()).register_player("alice", "secret-pw")
    downloads = tmp_path / "downloads"
    fetch = await hub.player("fetcher")
    await download_game(fetch, LocalLibrary(downloads, "alice"), game_id)
    return game_id, downloads


def _app(hub: Harness, downloads: Path, tmp_path: Path) -> Terminal:
    env = subprocess_env()
    env["TERM"] = "xterm-256color"
    argv = [sys.executable, "-m", "playhub", "play", "--port", str(hub.app.lobby_port)]
    argv += ["--user", "alice", "--password", "secret-pw", "--downloads", str(downloads)]
    return Terminal(argv, env, tmp_path)


async def _start_match(term: Terminal, hub: Harness) -> tuple[object, str, int]:
    bob = await hub.player("bob")
    pos = await term.expect("Hello, alice!")
    term.send("3")  # lobby
    pos = await term.expect("No rooms yet", pos)
    term.send("c")
    pos = await term.expect("Create a room for which game?", pos)
    term.send("1")
    pos = await term.expect("Leave the room", pos)
    room_id = (await bob.request("LIST_ROOMS"))["rooms"][0]["room_id"]
    await bob.request("JOIN_ROOM", {"room_id": room_id})
    vote = asyncio.ensure_future(bob.wait_push("VOTE_REQUEST", timeout=20))
    await asyncio.sleep(0.3)
    term.send("s")
    await bob.request("VOTE", {"seq": (await vote)["seq"], "accept": True})
    pos = await term.expect("CLIENT WAITING", pos)
    return bob, room_id, pos


async def test_updates_while_a_terminal_game_runs_do_not_freeze_the_app(hub: Harness, tmp_path: Path) -> None:
    _game_id, downloads = await _setup(hub, tmp_path, FINISH_SOON_SERVER)
    term = _app(hub, downloads, tmp_path)
    try:
        bob, room_id, pos = await _start_match(term, hub)
        await bob.wait_push("ROOM_UPDATED", lambda p: p["room"]["status"] == "WAITING", timeout=20)  # type: ignore[attr-defined]
        # The room changes 120 times while the game client holds the terminal (Textual's output queue holds 30).
        # Spread out, so that each one makes a frame of its own (Textual coalesces repaints within a frame).
        for _ in range(60):
            await bob.request("READY", {"room_id": room_id})  # type: ignore[attr-defined]
            await asyncio.sleep(0.03)
            await bob.request("UNREADY", {"room_id": room_id})  # type: ignore[attr-defined]
            await asyncio.sleep(0.03)
        await bob.request("READY", {"room_id": room_id})  # type: ignore[attr-defined]
        await asyncio.sleep(0.5)
        term.send("\r")  # the client ends
        pos = await term.expect("CLIENT DONE", pos)
        pos = await term.expect(
            "Match over (finished)", pos, timeout=20
        )  # the app is back, with what happened
        # ...and it answers keys: mark ready, and bob sees it.
        alice_ready = asyncio.ensure_future(
            bob.wait_push("ROOM_UPDATED", lambda p: "alice" in p["room"]["ready"], timeout=20)  # type: ignore[attr-defined]
        )
        term.send("r")
        await alice_ready
        await term.expect("All ready!", pos)  # both marked ready: the room says so
        term.send("\x11")  # Ctrl+Q
        assert await term.wait_exit() == 0
    finally:
        term.kill()


async def test_ctrl_c_ends_only_the_game_and_the_player_goes_back_in(hub: Harness, tmp_path: Path) -> None:
    _game_id, downloads = await _setup(hub, tmp_path, ENDLESS_SERVER)
    term = _app(hub, downloads, tmp_path)
    try:
        bob, room_id, pos = await _start_match(term, hub)
        term.send("\x03")  # Ctrl-C: meant for the game
        pos = await term.expect("You left holder (Ctrl-C)", pos, timeout=20)
        pos = await term.expect("Back to the game", pos)
        rooms = (await bob.request("LIST_ROOMS"))["rooms"]  # type: ignore[attr-defined]
        assert rooms[0]["status"] == "PLAYING" and rooms[0]["match"]["players"] == ["alice", "bob"]
        term.send("g")  # back into the match: the client starts again with a valid ticket
        pos = await term.expect("CLIENT WAITING", pos)
        starts = downloads / "alice" / "holder" / "1.0.0" / "starts.txt"
        assert starts.read_text().count("start") == 2
        term.send("\x03")
        pos = await term.expect("Back to the game", pos, timeout=20)
        term.send("\x11")
        assert await term.wait_exit() == 0
    finally:
        term.kill()

"""``playhub play`` in a real terminal (a pseudo-terminal): a CLI game client gets the terminal while it runs and the
app takes it back afterwards."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
from pathlib import Path

from playhub.client.library import LocalLibrary, download_game
from tests.helpers import Harness, subprocess_env
from tests.tui_helpers import publish_duel

ANSI = re.compile(r"\x1b\[[0-9;?<>=$]*[a-zA-Z~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


class Terminal:
    """A child process on a pseudo-terminal, with its output kept as plain text."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the app
            os.chdir(cwd)
            os.execve(argv[0], argv, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.text = ""
        self.reaped = False

    def _read(self, seconds: float) -> None:
        r, _, _ = select.select([self.fd], [], [], seconds)
        if r:
            try:
                self.text += ANSI.sub("", os.read(self.fd, 65536).decode(errors="replace"))
            except OSError:
                pass

    async def expect(self, marker: str, start: int = 0, timeout: float = 20.0) -> int:
        """Wait until ``marker`` appears in the output after ``start``; returns where it ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (found := self.text.find(marker, start)) < 0:
            assert loop.time() < deadline, f"never saw {marker!r}; output ends with {self.text[-400:]!r}"
            await asyncio.to_thread(self._read, 0.1)
        return found + len(marker)

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def _reap(self) -> int | None:
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if not pid:
            return None
        self.reaped = True
        return os.waitstatus_to_exitcode(status)

    async def wait_exit(self, timeout: float = 15.0) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (code := await asyncio.to_thread(self._reap)) is None:
            assert loop.time() < deadline, "the app did not exit"
            await asyncio.to_thread(self._read, 0.1)
        os.close(self.fd)
        return code

    def kill(self) -> None:
        """Stop the child if the test ended before it exited (never touches a pid already reaped)."""
        if self.reaped:
            return
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self.reaped = True
        os.close(self.fd)


async def test_cli_game_client_gets_the_terminal_then_the_app_comes_back(
    hub: Harness, tmp_path: Path
) -> None:
    game_id = await publish_duel(hub, tmp_path)
    await (await hub.lobby()).register_player("alice", "secret-pw")
    bob = await hub.player("bob")
    downloads = tmp_path / "downloads"
    await download_game(bob, LocalLibrary(downloads, "alice"), game_id)  # alice's copy is already there

    env = subprocess_env()
    env["TERM"] = "xterm-256color"
    argv = [sys.executable, "-m", "playhub", "play", "--port", str(hub.app.lobby_port)]
    argv += ["--user", "alice", "--password", "secret-pw", "--downloads", str(downloads)]
    term = Terminal(argv, env, tmp_path)
    try:
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
        term.send("s")
        await bob.request("VOTE", {"seq": (await vote)["seq"], "accept": True})
        # The game client writes to the terminal itself, then the app redraws the room.
        pos = await term.expect("server said welcome", pos)
        await term.expect("Leave the room", pos)
        env_file = downloads / "alice" / "duel" / "1.0.0" / "env-alice.json"
        assert env_file.is_file()
        term.send("\x11")  # Ctrl+Q
        assert await term.wait_exit() == 0
    finally:
        term.kill()

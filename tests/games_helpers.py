"""Helpers for the SDK and game tests: hand-built room environments, a lobby endpoint that records what game
servers report, and running a game server plus bots as real subprocesses."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from playhub.sdk import jsonl
from playhub.sdk.tickets import player_ticket
from tests.helpers import REPO, subprocess_env

GAMES = REPO / "games"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReportSink:
    """A TCP endpoint on a free port answering GAME_FINISHED the way the lobby does, recording each message."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.messages: list[dict[str, Any]] = []
        self.received = asyncio.Event()
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> ReportSink:
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        msg = await jsonl.recv(reader)
        if msg is not None:
            self.messages.append(msg)
            self.received.set()
            if "type" in msg:
                if self.accept:
                    reply = {"status": "ok", "code": 0, "message": "ok", "payload": {}}
                else:
                    reply = {"status": "error", "code": 102, "message": "wrong secret", "payload": {}}
                await jsonl.send(writer, reply)
        await jsonl.close(writer)

    def results(self) -> dict[str, Any]:
        assert self.messages, "the game server reported nothing"
        return self.messages[-1]["payload"].get("results") or {}


@dataclass
class Room:
    """A hand-built room: what PlayHub would put in the env of the server and of each client."""

    players: list[str]
    game_port: int = field(default_factory=free_port)
    room_id: str = field(default_factory=lambda: "room-" + secrets.token_hex(4))
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    lobby_port: int = 0
    game_name: str = "game"
    version: str = "1.0.0"

    def server_env(self, **extra: str) -> dict[str, str]:
        env = subprocess_env()
        env.update(
            GAME_HOST="127.0.0.1",
            GAME_PORT=str(self.game_port),
            ROOM_ID=self.room_id,
            GAME_NAME=self.game_name,
            GAME_VERSION=self.version,
            LOBBY_HOST="127.0.0.1",
            LOBBY_PORT=str(self.lobby_port),
            LOBBY_CONNECT_HOST="127.0.0.1",
            LOBBY_CONNECT_PORT=str(self.lobby_port),
            PLAYHUB_ROOM_SECRET=self.secret,
            PLAYHUB_PLAYERS=",".join(self.players),
        )
        env.update(extra)
        return env

    def client_env(self, username: str, ticket: str | None = None, **extra: str) -> dict[str, str]:
        env = subprocess_env()
        env.update(
            GAME_HOST="127.0.0.1",
            GAME_PORT=str(self.game_port),
            ROOM_ID=self.room_id,
            GAME_NAME=self.game_name,
            GAME_VERSION=self.version,
            PLAYER_USERNAME=username,
            PLAYER_NAME=username,
            PLAYHUB_TICKET=player_ticket(self.secret, self.room_id, username) if ticket is None else ticket,
            SDL_VIDEODRIVER="dummy",
            SDL_AUDIODRIVER="dummy",
        )
        env.update(extra)
        return env


_started: list[asyncio.subprocess.Process] = []


@pytest.fixture
async def reap() -> AsyncIterator[None]:
    """Kill the game processes a failed test left running (``pytestmark = pytest.mark.usefixtures("reap")``)."""
    yield
    while _started:
        proc = _started.pop()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def start(
    folder: Path, script: str, env: dict[str, str], stdin: bool = False
) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        script,
        cwd=folder,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    _started.append(proc)
    return proc


async def finish(proc: asyncio.subprocess.Process, timeout: float = 30.0) -> tuple[int, str]:
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        raise AssertionError(
            f"process did not finish in {timeout}s; output:\n{out.decode(errors='replace')}"
        ) from None
    return proc.returncode or 0, out.decode(errors="replace")


async def play_match(
    folder: Path,
    players: list[str],
    *,
    server_env: dict[str, str] | None = None,
    bot_env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[ReportSink, str, list[str]]:
    """Run the game's server and one bot per player; return the report sink, server output and bot outputs."""
    manifest = json.loads((folder / "manifest.json").read_text())
    async with ReportSink() as sink:
        room = Room(players, lobby_port=sink.port, game_name=manifest["name"])
        server = await start(folder, manifest["entry_server"], room.server_env(**(server_env or {})))
        bots = [await start(folder, "bot.py", room.client_env(p, **(bot_env or {}))) for p in players]
        bot_out = [await finish(b, timeout) for b in bots]
        rc, out = await finish(server, timeout)
        assert rc == 0, f"server exited with {rc}:\n{out}\n" + "\n".join(o for _, o in bot_out)
        for brc, bout in bot_out:
            assert brc == 0, f"bot exited with {brc}:\n{bout}\nserver:\n{out}"
    return sink, out, [o for _, o in bot_out]


def load_game_module(folder: Path, name: str) -> Any:
    """Import ``<folder>/<name>.py`` under a unique module name (every game has its own ``rules``).

    The game's folder is on ``sys.path`` while it loads, as when the game runs, and its plain-named sibling modules
    (``rules``) are dropped from ``sys.modules`` afterwards so that the next game gets its own.
    """
    import importlib.util

    siblings = {p.stem for p in folder.glob("*.py")}
    for sib in siblings:
        sys.modules.pop(sib, None)
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(f"{folder.name}_{name}", folder / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
        for sib in siblings:
            sys.modules.pop(sib, None)
    return module


async def wait_output(proc: asyncio.subprocess.Process, *texts: str, timeout: float = 30.0) -> None:
    """Read ``proc``'s output until every one of ``texts`` appeared, in any order (the rest stays for ``finish``)."""
    assert proc.stdout is not None
    missing = set(texts)
    async with asyncio.timeout(timeout):
        while missing:
            line = await proc.stdout.readline()
            assert line, f"the process ended without printing {missing}"
            missing = {t for t in missing if t not in line.decode(errors="replace")}

"""Starting a game client: seed 003's contract (``python <entry_client>`` in the installed version folder, with the
room's address and the player's name in the environment), plus the PlayHub ticket and a PYTHONPATH that makes
``import playhub.sdk`` work.

This module only prepares and runs the process; the app decides whether to hand the terminal over (CLI games) and
what to show afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import playhub

# The folder that contains the ``playhub`` package, so a game client can ``import playhub.sdk`` whatever way
# PlayHub itself was installed (site-packages, a source checkout, a test run).
PLAYHUB_IMPORT_ROOT = str(Path(playhub.__file__).resolve().parent.parent)


class LaunchError(Exception):
    """The game client could not be started; the message says why, for the player."""


@dataclass(frozen=True, slots=True)
class GameStart:
    """What the server told us about a started room (START_ROOM answer or GAME_STARTED push)."""

    room_id: str
    game_name: str
    version: str
    game_host: str
    game_port: int
    ticket: str = ""
    game_id: str = ""

    @classmethod
    def from_payload(cls, payload: dict[str, Any], room: dict[str, Any] | None = None) -> GameStart:
        room = room or {}
        return cls(
            room_id=str(payload.get("room_id") or room.get("room_id") or ""),
            game_name=str(payload.get("game_name") or room.get("game_name") or ""),
            version=str(payload.get("version") or room.get("version") or ""),
            game_host=str(payload.get("game_host") or "127.0.0.1"),
            game_port=int(payload.get("game_port") or 0),
            ticket=str(payload.get("ticket") or ""),
            game_id=str(payload.get("game_id") or room.get("game_id") or ""),
        )


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    terminal: bool  # True: the client needs the terminal (CLI game); False: it opens its own window
    log_path: Path


@dataclass(frozen=True, slots=True)
class GameOutcome:
    exit_code: int
    error_tail: str  # last lines the client wrote (window games), shown when it failed

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def read_client_manifest(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LaunchError(f"the installed copy in {folder} has no manifest.json: download it again") from exc
    except (OSError, ValueError) as exc:
        raise LaunchError(f"cannot read the manifest in {folder}: {exc}") from exc
    if not isinstance(data, dict):
        raise LaunchError(f"the manifest in {folder} is not a JSON object: download the game again")
    return data


def plan_launch(
    folder: Path, start: GameStart, username: str, *, base_env: dict[str, str] | None = None
) -> LaunchPlan:
    """Check the installed copy and build the command, working folder and environment of its game client."""
    if not folder.is_dir():
        raise LaunchError(
            f"{start.game_name} {start.version} is not installed: download it from the store, then rejoin"
        )
    manifest = read_client_manifest(folder)
    entry = manifest.get("entry_client")
    if not isinstance(entry, str) or not entry.strip():
        raise LaunchError("the game's manifest names no entry_client: the package is broken")
    entry_path = (folder / entry).resolve()
    if not entry_path.is_relative_to(folder.resolve()):
        raise LaunchError("the game's entry_client points outside its folder: refusing to run it")
    if not entry_path.is_file():
        raise LaunchError(f"the game client {entry} is missing from the installed copy: download it again")
    env = dict(os.environ if base_env is None else base_env)
    env.update(
        {
            "GAME_HOST": start.game_host,
            "GAME_PORT": str(start.game_port),
            "ROOM_ID": start.room_id,
            "GAME_NAME": start.game_name,
            "GAME_VERSION": start.version,
            "PLAYER_USERNAME": username,
            "PLAYER_NAME": username,
            "PLAYHUB_TICKET": start.ticket,
            "PYTHONPATH": PLAYHUB_IMPORT_ROOT
            + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
            "PYTHONUNBUFFERED": "1",
        }
    )
    terminal = str(manifest.get("type", "cli")).lower() != "gui"
    return LaunchPlan(
        argv=[sys.executable, entry],
        cwd=folder,
        env=env,
        terminal=terminal,
        log_path=folder.parent / f"client-{start.room_id or 'game'}.log",
    )


async def run_game_client(plan: LaunchPlan, *, inherit_terminal: bool) -> GameOutcome:
    """Run the client to completion.

    With ``inherit_terminal`` (the app is suspended) the client owns the terminal: stdin, stdout and stderr (Python's
    ``input()`` writes its prompt to stderr when it has no readline), so the player reads any error there. Otherwise
    stdin is closed and its output goes to ``plan.log_path``, whose last lines explain a failure."""
    log_file = None if inherit_terminal else await asyncio.to_thread(open, plan.log_path, "wb")
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *plan.argv,
                cwd=str(plan.cwd),
                env=plan.env,
                stdin=None if inherit_terminal else asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )
        except OSError as exc:
            raise LaunchError(f"cannot start the game client: {exc}") from exc
        try:
            code = await proc.wait()
        except asyncio.CancelledError:
            # The app is closing: do not leave the game client behind.
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
    finally:
        if log_file is not None:
            await asyncio.to_thread(log_file.close)
    tail = "" if code == 0 or inherit_terminal else await asyncio.to_thread(_tail, plan.log_path)
    if code != 0 and inherit_terminal:
        # The client's last words are on the terminal: let the player read them before the app takes it back.
        await asyncio.to_thread(
            _pause, f"\nThe game client stopped with exit code {code}. Press Enter to return."
        )
    return GameOutcome(code, tail)


def _pause(prompt: str) -> None:
    try:
        input(prompt)
    except (EOFError, OSError):
        pass


def _tail(path: Path, lines: int = 3) -> str:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            last = deque((line.rstrip() for line in fh if line.strip()), maxlen=lines)
    except OSError:
        return ""
    return "\n".join(last)

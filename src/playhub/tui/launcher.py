"""Starting a game client: seed 003's contract (``python <entry_client>`` in the installed version folder, with the
room's address and the player's name in the environment), plus the PlayHub ticket and a PYTHONPATH that makes
``import playhub.sdk`` work.

This module only prepares and runs the process; the app decides whether to hand the terminal over (CLI games) and
what to show afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
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

    @property
    def interrupted(self) -> bool:
        """The player pressed Ctrl-C in the game (the client died of SIGINT or exited with 130)."""
        return self.exit_code in (-signal.SIGINT, 128 + signal.SIGINT)


GAMES_EXTRA_HINT = "install it with: pip install 'playhub[games]'"
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
_NO_DISPLAY = re.compile(
    r"no available video device|cannot open display|couldn't connect to display|no display name|"
    r"x11 not available|failed to open display|video system not initialized",
    re.IGNORECASE,
)


def check_display(environ: dict[str, str] | None = None) -> None:
    """Raise LaunchError when a window game cannot open a window here (Linux/BSD without X11 or Wayland)."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("SDL_VIDEODRIVER"):
        return
    raise LaunchError(
        "this game opens a window, but there is no display here (DISPLAY is not set): play it from a desktop "
        "session, or forward X11 (ssh -X)"
    )


def explain_failure(outcome: GameOutcome, *, quick: bool) -> str | None:
    """Why a game client could not run at all, in words for the player; None for an ordinary failure."""
    tail = outcome.error_tail or ""
    missing = _MISSING_MODULE.search(tail)
    if missing:
        module = missing.group(1).split(".")[0]
        if module == "pygame":
            return f"the game needs pygame, which is not installed: {GAMES_EXTRA_HINT}"
        return f"the game needs the Python module '{module}', which is not installed"
    if _NO_DISPLAY.search(tail):
        return "the game could not open a window: no display is available here"
    if quick and outcome.exit_code != 0 and not outcome.interrupted:
        last = f": {tail.splitlines()[-1]}" if tail else ""
        return f"the game window did not open (the client stopped at once with exit code {outcome.exit_code}{last})"
    return None


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
    folder: Path,
    start: GameStart,
    username: str,
    *,
    base_env: dict[str, str] | None = None,
    lobby: tuple[str, int] | None = None,
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
    if lobby is not None:
        # Where the game client finds the lobby for P2P connections (playhub.sdk.p2p), with its room ticket.
        env["PLAYHUB_LOBBY_HOST"], env["PLAYHUB_LOBBY_PORT"] = lobby[0], str(lobby[1])
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
    tty = _terminal_fd() if inherit_terminal else None
    try:
        with _ignore_interrupts(inherit_terminal):
            try:
                proc = await asyncio.create_subprocess_exec(
                    *plan.argv,
                    cwd=str(plan.cwd),
                    env=plan.env,
                    stdin=None if inherit_terminal else asyncio.subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                    # On the terminal the client leads its own process group and becomes the terminal's foreground
                    # group, so Ctrl-C (SIGINT) reaches the game only, never the app.
                    preexec_fn=_foreground_child(tty) if inherit_terminal else None,
                )
            except OSError as exc:
                raise LaunchError(f"cannot start the game client: {exc}") from exc
            try:
                if tty is not None:
                    _give_terminal(tty, proc.pid)
                code = await proc.wait()
            except asyncio.CancelledError:
                # The app is closing: do not leave the game client behind.
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
                raise
            finally:
                if tty is not None:
                    _give_terminal(tty, os.getpgrp())
    finally:
        if log_file is not None:
            await asyncio.to_thread(log_file.close)
    tail = "" if code == 0 or inherit_terminal else await asyncio.to_thread(_tail, plan.log_path)
    if code in (-signal.SIGINT, 128 + signal.SIGINT):
        return GameOutcome(code, tail)  # the player left the game on purpose: no pause
    if code != 0 and inherit_terminal:
        # The client's last words are on the terminal: let the player read them before the app takes it back.
        await asyncio.to_thread(
            _pause, f"\nThe game client stopped with exit code {code}. Press Enter to return."
        )
    return GameOutcome(code, tail)


def _terminal_fd() -> int | None:
    """The controlling terminal's descriptor when we run on one (the app's stdin)."""
    try:
        fd = sys.__stdin__.fileno() if sys.__stdin__ is not None else -1
    except (OSError, ValueError):
        return None
    return fd if fd >= 0 and os.isatty(fd) else None


def _give_terminal(fd: int, pgid: int) -> None:
    """Make ``pgid`` the terminal's foreground group. A background group calling tcsetpgrp gets SIGTTOU: ignore it
    for the moment of the call."""
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, pgid)
    finally:
        signal.signal(signal.SIGTTOU, old)


def _foreground_child(fd: int | None) -> Any:
    def setup() -> None:  # runs in the child between fork and exec
        os.setpgid(0, 0)
        if fd is not None:
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            with contextlib.suppress(OSError):
                os.tcsetpgrp(fd, os.getpgrp())
        # Ignored signals stay ignored across exec: give the game the defaults back.
        for sig in (signal.SIGTTOU, signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):
            signal.signal(sig, signal.SIG_DFL)

    return setup


@contextlib.contextmanager
def _ignore_interrupts(active: bool) -> Any:
    """While a game holds the terminal the app ignores Ctrl-C and Ctrl-\\ (in case the terminal still sends them
    to the app's group): they are meant for the game."""
    if not active:
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGQUIT)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


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

"""The environment a game server gets: seed 003's contract plus the SDK's extras, over a minimal clean base.

Developer code must not inherit the platform's environment (it may hold secrets, proxies, or settings that change
how Python behaves), so only a few harmless variables pass through.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import playhub

# The directory that contains the ``playhub`` package, so ``import playhub.sdk`` works in a game server (used when a
# spawn does not provide its own read-only copy of the SDK).
SDK_PATH = str(Path(playhub.__file__).resolve().parent.parent)

_PASS_THROUGH_IF_SET = ("SDL_VIDEODRIVER", "DISPLAY", "TZ")
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True, slots=True)
class GameEnv:
    game_host: str  # the address the game server binds
    game_port: int
    room_id: str
    game_name: str
    game_version: str
    lobby_host: str  # the lobby's advertised address
    lobby_port: int
    lobby_connect_host: str  # where a process on this machine reaches the lobby
    lobby_connect_port: int
    secret_file: Path  # the room secret, in a file only this match's uid can read
    players: tuple[str, ...]
    home: Path  # the match's own writable folder
    sdk_path: str = SDK_PATH  # PYTHONPATH: where ``import playhub.sdk`` finds the SDK


def build_env(spec: GameEnv, parent: Mapping[str, str] | None = None) -> dict[str, str]:
    parent = os.environ if parent is None else parent
    env = {
        "PATH": parent.get("PATH", _DEFAULT_PATH),
        "LANG": parent.get("LANG", "C.UTF-8"),
        "HOME": str(spec.home),
        "TMPDIR": str(spec.home),
        "PYTHONUNBUFFERED": "1",  # so the room log shows output as it happens
        "PYTHONPATH": spec.sdk_path,
        "GAME_HOST": spec.game_host,
        "GAME_PORT": str(spec.game_port),
        "SERVER_PORT": str(spec.game_port),  # seed 003's name for the same port
        "ROOM_ID": spec.room_id,
        "GAME_NAME": spec.game_name,
        "GAME_VERSION": spec.game_version,
        "LOBBY_HOST": spec.lobby_host,
        "LOBBY_PORT": str(spec.lobby_port),
        "LOBBY_CONNECT_HOST": spec.lobby_connect_host,
        "LOBBY_CONNECT_PORT": str(spec.lobby_connect_port),
        # The secret itself never goes into the environment: /proc/<pid>/environ is too easy to read.
        "PLAYHUB_ROOM_SECRET_FILE": str(spec.secret_file),
        "PLAYHUB_PLAYERS": ",".join(spec.players),
    }
    for key in _PASS_THROUGH_IF_SET:
        if parent.get(key):
            env[key] = parent[key]
    return env


def launch_args(
    spec: GameEnv, python: str, entry_server: str, parent: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """Everything a game server is started with: its argv (seed 003: ``python <entry_server>``) and environment."""
    # Seed 003 also passes the room id as an argument: ``start_server.py --room=<id>``.
    return [python, entry_server, f"--room={spec.room_id}"], build_env(spec, parent)

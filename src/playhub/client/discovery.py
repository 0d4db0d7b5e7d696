"""Where is the server? Flags, then environment, then the server's ``runtime_ports.json``, then the last server
started on this machine (``last_server.json`` in the user's state folder), then the defaults."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Side = Literal["dev", "lobby"]

DEFAULT_DATA_DIR = Path("playhub-data")
LAST_SERVER_FILE = "last_server.json"
_DEFAULT_PORT = {"dev": 5501, "lobby": 5502}
# Our own names first, then seed 003's names, which existing clients and games already set.
_ENV = {
    "dev": (("PLAYHUB_DEV_HOST", "PLAYHUB_DEV_PORT"), ("DEV_CONNECT_HOST", "DEV_CONNECT_PORT")),
    "lobby": (("PLAYHUB_LOBBY_HOST", "PLAYHUB_LOBBY_PORT"), ("LOBBY_CONNECT_HOST", "LOBBY_CONNECT_PORT")),
}
_PORTS_KEYS = {"dev": ("dev_host", "developer_port"), "lobby": ("lobby_host", "lobby_port")}


@dataclass(frozen=True, slots=True)
class ServerAddress:
    host: str
    port: int
    source: str  # "flags", "env", "runtime_ports.json" or "default": shown to users when a connection fails

    def __str__(self) -> str:
        return f"{self.host}:{self.port} (from {self.source})"


def read_runtime_ports(data_dir: Path) -> dict[str, object] | None:
    try:
        return json.loads((data_dir / "runtime_ports.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _from_ports(side: Side, info: Mapping[str, object] | None, source: str) -> ServerAddress | None:
    """The address a ports file (``runtime_ports.json``, ``last_server.json``) gives for ``side``, if it has one."""
    if not info:
        return None
    host_key, port_key = _PORTS_KEYS[side]
    try:
        port = int(info[port_key])  # type: ignore[call-overload]
        return ServerAddress(str(info.get(host_key) or "127.0.0.1"), port, source)
    except (KeyError, TypeError, ValueError):
        return None


def resolve_address(
    side: Side,
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | str | None = None,
    env: dict[str, str] | None = None,
) -> ServerAddress:
    environ: Mapping[str, str] = os.environ if env is None else env
    if host or port:
        return ServerAddress(host or "127.0.0.1", port or _DEFAULT_PORT[side], "flags")
    for host_var, port_var in _ENV[side]:
        if environ.get(host_var) or environ.get(port_var):
            try:
                env_port = int(environ.get(port_var) or _DEFAULT_PORT[side])
            except ValueError:
                continue
            return ServerAddress(environ.get(host_var) or "127.0.0.1", env_port, "env")
    candidates = [Path(data_dir)] if data_dir else [Path(environ.get("PLAYHUB_DATA_DIR", DEFAULT_DATA_DIR))]
    for folder in candidates:
        found = _from_ports(side, read_runtime_ports(folder), "runtime_ports.json")
        if found is not None:
            return found
    if not data_dir:
        # Not in the server's folder: the server that `playhub serve` / `playhub demo` last started here.
        found = _from_ports(side, read_last_server(environ), LAST_SERVER_FILE)
        if found is not None:
            return found
    return ServerAddress("127.0.0.1", _DEFAULT_PORT[side], "default")


# --- last_server.json: how `playhub play` finds the server from any folder -------------------------------------------
def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/playhub``, by default ``~/.local/state/playhub``."""
    environ = os.environ if env is None else env
    base = (
        environ.get("XDG_STATE_HOME") or os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    )
    return Path(base) / "playhub"


def write_last_server(info: dict[str, object]) -> Path | None:
    """Record the running server (ports, addresses, data folder, pid); best effort."""
    path = state_dir() / LAST_SERVER_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info, indent=2), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        return None
    return path


def forget_last_server(pid: int) -> None:
    """Remove last_server.json if it still describes the server with this pid."""
    path = state_dir() / LAST_SERVER_FILE
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()


def read_last_server(env: Mapping[str, str] | None = None) -> dict[str, object] | None:
    """The last server started on this machine, if its process still runs."""
    try:
        info = json.loads((state_dir(env) / LAST_SERVER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    pid = info.get("pid")
    if isinstance(pid, int) and pid > 0:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
    return info

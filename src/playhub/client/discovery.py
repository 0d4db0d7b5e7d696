"""Where is the server? Flags, then environment, then the server's ``runtime_ports.json``, then the defaults."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Side = Literal["dev", "lobby"]

DEFAULT_DATA_DIR = Path("playhub-data")
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
        info = read_runtime_ports(folder)
        if info:
            host_key, port_key = _PORTS_KEYS[side]
            try:
                return ServerAddress(
                    str(info.get(host_key) or "127.0.0.1"),
                    int(info[port_key]),  # type: ignore[call-overload]
                    "runtime_ports.json",
                )
            except (KeyError, TypeError, ValueError):
                pass
    return ServerAddress("127.0.0.1", _DEFAULT_PORT[side], "default")

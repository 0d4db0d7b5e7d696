"""Which address to give players when the server binds every interface.

``playhub serve --host 0.0.0.0`` listens everywhere, but players on other machines need one address that reaches
this one (for the lobby and for every game server). In order: ``--public-host``; else ``public_host`` /
``public_hosts`` from ``config.json`` in the data folder (seed 003's file), keeping the first address this machine
really owns; else the address of the interface that carries outbound traffic; else loopback.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from playhub.sdk.hosts import is_wildcard

CONFIG_FILE = "config.json"


def owns(address: str) -> bool:
    """True when ``address`` is one of this machine's own addresses (binding to it succeeds)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((address, 0))
    except (OSError, UnicodeError):
        return False
    return True


def pick_owned(candidates: list[str]) -> str | None:
    """The first candidate this machine owns (seed 003's pick_public_ip_from_list)."""
    for address in candidates:
        if isinstance(address, str) and address.strip() and owns(address.strip()):
            return address.strip()
    return None


def outbound_address() -> str | None:
    """The local address of the interface that routes outbound traffic (a UDP connect sends nothing)."""
    for target in (("8.8.8.8", 53), ("10.255.255.255", 1), ("192.168.255.255", 1)):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect(target)
                address = str(s.getsockname()[0])
        except OSError:
            continue
        if address and not address.startswith("127.") and address != "0.0.0.0":
            return address
    return None


def read_config(data_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((data_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def resolve_public_host(host: str, public_host: str | None, data_dir: Path) -> tuple[str | None, str]:
    """(address, where it came from). ``None`` means "advertise ``host`` itself" (it is a concrete address)."""
    if public_host:
        return public_host, "--public-host"
    if not is_wildcard(host):
        return None, "--host"
    config = read_config(data_dir)
    candidates: list[str] = []
    if isinstance(config.get("public_host"), str):
        candidates.append(config["public_host"])
    if isinstance(config.get("public_hosts"), list):
        candidates += [h for h in config["public_hosts"] if isinstance(h, str)]
    owned = pick_owned(candidates)
    if owned:
        return owned, CONFIG_FILE
    detected = outbound_address()
    if detected:
        return detected, "the outbound interface"
    return "127.0.0.1", "loopback (no network interface found)"

"""Wildcard bind addresses and where a process on the same machine reaches a server bound to one.

Part of the SDK because game servers need it too (the SDK is copied alone onto their PYTHONPATH, so this module
imports nothing from PlayHub); the platform, the supervisor and the command line use the same helper.
"""

from __future__ import annotations

WILDCARDS = ("", "0.0.0.0", "::")


def is_wildcard(host: str) -> bool:
    """True for a bind address that means "every interface"."""
    return host in WILDCARDS


def dial_host(bind_host: str) -> str:
    """The address to connect to a server bound to ``bind_host`` from this machine: the loopback of the same family
    for a wildcard (asyncio binds ``::`` as IPv6 only), else ``bind_host`` itself."""
    if bind_host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind_host == "::":
        return "::1"
    return bind_host

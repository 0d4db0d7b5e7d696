"""Liveness of a running game server: can a TCP connection still be opened to its port?

Seed 003's lobby checks every room's game server every 2 s and drops rooms whose server no longer answers. The room
service runs :func:`until_unresponsive` for each match; this module knows only addresses and timings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from playhub.sdk.hosts import dial_host


def probe_address(bind_host: str) -> str:
    """Where a process on this machine reaches a server bound to ``bind_host``."""
    return dial_host(bind_host)


async def probe_once(host: str, port: int, timeout_s: float) -> bool:
    """True when the server accepts a connection within ``timeout_s`` (closed again at once)."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def until_unresponsive(
    host: str,
    port: int,
    *,
    interval_s: float,
    failures: int,
    timeout_s: float,
    watching: Callable[[], bool],
) -> bool:
    """Probe every ``interval_s`` while ``watching()`` holds. True after ``failures`` failed probes in a row; False
    once ``watching()`` turns false (the match ended some other way)."""
    missed = 0
    while True:
        await asyncio.sleep(interval_s)
        if not watching():
            return False
        if await probe_once(host, port, timeout_s):
            missed = 0
            continue
        if not watching():
            return False
        missed += 1
        if missed >= max(1, failures):
            return True

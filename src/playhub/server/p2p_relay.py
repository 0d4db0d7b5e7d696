"""The P2P relay at the edge: pairs the two relay connections of a session and copies bytes between them.

A relay connection is an ordinary lobby connection whose first request is ``P2P_RELAY`` (authenticated by the
session's relay ticket, no login). Once both sides of the session have arrived, each gets the answer and from then on
the connection is a plain byte stream to the other side: no frames, no base64, so a game reads and writes it exactly
like a direct TCP socket. Each connection's own serve task copies what it reads to the other side, with the writer's
flow control (a peer that does not read slows the one that writes) and a bandwidth cap per direction
(``p2p_relay_bytes_per_s``). The session's total (``p2p_relay_max_bytes``) and idle time
(``p2p_relay_idle_timeout_s``) are bounded. When either side closes, or a limit is hit, both connections close and the
service tells both players (``P2P_CLOSED``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from playhub.protocol.codes import Code
from playhub.protocol.errors import BadState
from playhub.services.p2p import P2PService
from playhub.settings import Settings

if TYPE_CHECKING:
    from playhub.server.connection import Connection
    from playhub.services.sessions import Principal

log = logging.getLogger("playhub.p2p.relay")

_CHUNK = 64 * 1024


def lobby_address(principal: Principal) -> tuple[str, int] | None:
    """The address the server sees for a player's lobby connection (seed 001: the peer's "known public ip:port")."""
    remote = getattr(principal.peer, "remote", None)
    if not remote:
        return None
    ip, _, port = str(remote).rpartition(":")
    return (ip, int(port)) if port.isdigit() else (ip, 0)


class _Pair:
    __slots__ = ("session_id", "links", "ready", "total", "last", "done", "next_at")

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.links: dict[str, Connection] = {}
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.total = 0
        self.last = asyncio.get_running_loop().time()
        self.done = False
        self.next_at: dict[str, float] = {}  # per sender: when its bandwidth allows the next read

    def other(self, username: str) -> Connection | None:
        for name, conn in self.links.items():
            if name != username:
                return conn
        return None


class RelayHub:
    def __init__(self, settings: Settings, p2p: P2PService) -> None:
        self.settings = settings
        self.p2p = p2p
        self._pairs: dict[str, _Pair] = {}

    def active(self) -> int:
        return len(self._pairs)

    async def attach(self, conn: Connection, session_id: str, username: str) -> str:
        """Wait for the other side of the session (the caller already passed ``P2PService.admit_relay``); returns
        its name. On success the connection is handed over to the byte pump once the answer is written."""
        pair = self._pairs.get(session_id)
        if pair is None:
            pair = self._pairs[session_id] = _Pair(session_id)
        pair.links[username] = conn
        if len(pair.links) == 2:
            pair.ready.set_result(None)
            self.p2p.relay_paired(session_id)
        else:
            timeout = self.settings.p2p_relay_pair_timeout_s
            try:
                await asyncio.wait_for(asyncio.shield(pair.ready), timeout)
            except TimeoutError:
                reason = f"the other side did not reach the relay within {timeout:g} s"
                self._end(pair, Code.BAD_STATE, reason)
                raise BadState(reason) from None
            except asyncio.CancelledError:  # this connection closed while waiting
                self._end(pair, Code.BAD_STATE, f"{username} left the relay before it started")
                raise
        if pair.done:
            raise BadState("the relay was closed before it started")
        conn.authenticated = True  # a relay connection logs in with its ticket, not a session
        peer = next(name for name in pair.links if name != username)
        conn.hand_over(lambda c, extra: self._pump(pair, username, c, extra))
        return peer

    async def _pump(self, pair: _Pair, me: str, conn: Connection, extra: bool) -> None:
        """Copy what ``me`` sends to the other side until either side closes or a limit ends the relay."""
        if extra:
            self._end(pair, Code.INVALID_REQUEST, f"{me} sent data before the relay answer")
            return
        other = pair.other(me)
        if other is None:
            return
        s = self.settings
        loop = asyncio.get_running_loop()
        rate = s.p2p_relay_bytes_per_s
        chunk = max(1, min(_CHUNK, rate)) if rate > 0 else _CHUNK
        idle = s.p2p_relay_idle_timeout_s
        try:
            while not pair.done:
                try:
                    data = await asyncio.wait_for(conn.reader.read(chunk), idle)
                except TimeoutError:
                    if loop.time() - pair.last >= idle:
                        self._end(pair, Code.BAD_STATE, f"nothing relayed for {idle:g} s")
                        return
                    continue
                if pair.done:
                    return
                if not data:
                    self._end(pair, Code.OK, f"{me} closed the connection")
                    return
                if s.p2p_relay_max_bytes and pair.total + len(data) > s.p2p_relay_max_bytes:
                    self._end(
                        pair,
                        Code.RATE_LIMITED,
                        f"the relay carried its limit of {s.p2p_relay_max_bytes} bytes",
                    )
                    return
                pair.total += len(data)
                now = loop.time()
                pair.last = now
                other.writer.write(data)
                await other.writer.drain()
                if rate > 0:
                    # Token bucket with no burst: the next read waits until these bytes fit the rate.
                    at = max(pair.next_at.get(me, now), now) + len(data) / rate
                    pair.next_at[me] = at
                    wait = at - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
        except (ConnectionError, OSError):
            self._end(pair, Code.OK, f"the connection of {me} broke")
        finally:
            if not pair.done and conn.closed:
                self._end(pair, Code.OK, f"{me} closed the connection")

    def _end(self, pair: _Pair, code: int, reason: str) -> None:
        if pair.done:
            return
        pair.done = True
        self._pairs.pop(pair.session_id, None)
        if not pair.ready.done():
            # Not started: the waiting side gets this as its answer (105), on a connection left open to carry it.
            pair.ready.set_exception(BadState(f"the relay ended before it started: {reason}"))
            pair.ready.exception()  # retrieved here: a waiter may be gone already
        else:
            for conn in pair.links.values():
                conn.close()  # flushes what was already written, then closes
        self.p2p.relay_ended(pair.session_id, code, reason, pair.total)

    def session_ended(self, session_id: str) -> None:
        """The service ended a relayed session (cancelled, or a side never came): close what arrived."""
        pair = self._pairs.get(session_id)
        if pair is not None:
            self._end(pair, Code.BAD_STATE, "the session ended")

    def close(self) -> None:
        for pair in list(self._pairs.values()):
            self._end(pair, Code.BAD_STATE, "the server is stopping")

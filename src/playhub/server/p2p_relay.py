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
    from playhub.services.sessions import Peer

log = logging.getLogger("playhub.p2p.relay")

_CHUNK = 64 * 1024
_UNCAPPED_CHUNK = 64 * 1024


def lobby_address(peer: Peer | None) -> tuple[str, int] | None:
    """The address the server sees for a lobby connection (seed 001: the peer's "known public ip:port")."""
    remote = getattr(peer, "remote", None)
    if not remote:
        return None
    ip, _, port = str(remote).rpartition(":")
    return (ip, int(port)) if port.isdigit() else (ip, 0)


class _Pair:
    __slots__ = ("session_id", "links", "ready", "total", "active", "watchdog", "done", "next_at")

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.links: dict[str, Connection] = {}
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.total = 0
        self.active = False  # carried bytes since the idle watchdog last looked
        self.watchdog: asyncio.TimerHandle | None = None
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
        # Uncapped: large reads, few turns of the loop per megabyte. Capped: reads no larger than a second's worth,
        # so the pacing below stays smooth.
        chunk = max(1, min(_CHUNK, rate)) if rate > 0 else _UNCAPPED_CHUNK
        if pair.watchdog is None and s.p2p_relay_idle_timeout_s > 0:
            pair.watchdog = loop.call_later(s.p2p_relay_idle_timeout_s, self._check_idle, pair)
        read, write, drain = conn.reader.read, other.writer.write, other.writer.drain
        try:
            while not pair.done:
                data = await read(chunk)
                if pair.done:
                    return
                if not data:
                    self._end(pair, Code.OK, f"{me} closed the connection")
                    return
                n = len(data)
                if s.p2p_relay_max_bytes and pair.total + n > s.p2p_relay_max_bytes:
                    self._end(
                        pair,
                        Code.RATE_LIMITED,
                        f"the relay carried its limit of {s.p2p_relay_max_bytes} bytes",
                    )
                    return
                pair.total += n
                pair.active = True
                write(data)
                await drain()
                if rate > 0:
                    # Token bucket with no burst: the next read waits until these bytes fit the rate.
                    now = loop.time()
                    at = max(pair.next_at.get(me, now), now) + n / rate
                    pair.next_at[me] = at
                    if at > now:
                        await asyncio.sleep(at - now)
        except (ConnectionError, OSError):
            self._end(pair, Code.OK, f"the connection of {me} broke")
        finally:
            if not pair.done and conn.closed:
                self._end(pair, Code.OK, f"{me} closed the connection")

    def _check_idle(self, pair: _Pair) -> None:
        """Runs every ``p2p_relay_idle_timeout_s``: a relay that carried nothing since the last check is closed."""
        pair.watchdog = None
        if pair.done:
            return
        if not pair.active:
            self._end(
                pair, Code.BAD_STATE, f"nothing relayed for {self.settings.p2p_relay_idle_timeout_s:g} s"
            )
            return
        pair.active = False
        pair.watchdog = asyncio.get_running_loop().call_later(
            self.settings.p2p_relay_idle_timeout_s, self._check_idle, pair
        )

    def _end(self, pair: _Pair, code: int, reason: str) -> None:
        if pair.done:
            return
        pair.done = True
        if pair.watchdog is not None:
            pair.watchdog.cancel()
            pair.watchdog = None
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

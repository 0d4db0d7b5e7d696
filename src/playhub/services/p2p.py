"""Peer-to-peer sessions between two players (seed 001 Story 12), with a relay through the server as fallback, and
seed 002's signalling (``signal``): the domain side. No sockets here: the relay's byte pump lives at the edge
(``server/p2p_relay.py``) and reports back through ``relay_ended``.

A session goes through the states of ``TRANSITIONS`` (one table, as the rooms do):

- ``INVITED``: ``P2P_REQUEST`` made it; both sides got ``P2P_INVITE`` (role, the one-time token, the other's address
  as the server sees it). Each side opens a listener and reports its port (``P2P_LISTENING``); the other side gets it
  in ``P2P_PEER``.
- ``CONNECTING``: both listeners are known; the peers dial each other and prove the token (see docs/p2p.md).
- ``DIRECT`` (final): the caller reported a verified direct connection.
- ``RELAYING``: the caller reported that no direct connection worked: both get ``P2P_RESULT`` "relayed" and open a
  relay connection to the lobby port (``P2P_RELAY``), authenticated by a ticket derived from the token.
- ``FAILED`` (final): timed out, declined, a side went offline, or no relay could be had.
- ``CLOSED`` (final): a relayed session's relay ended (``P2P_CLOSED``).

Tickets reuse the room-ticket function (``sdk.tickets.p2p_ticket``): HMAC of ``"<session_id>/<purpose>:<username>"``
keyed by the token, so each side proves the token without sending it, and a ticket for one purpose (the direct
handshake) opens nothing else (the relay).
"""

from __future__ import annotations

import asyncio
import enum
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from playhub.protocol.codes import Code
from playhub.protocol.errors import BadState, Forbidden, InvalidRequest, NotFound, RateLimited
from playhub.protocol.p2p import PeerAddress
from playhub.protocol.pushes import P2PClosed, P2PInvite, P2PPeer, P2PResult, P2PSignalled
from playhub.sdk.tickets import verify_p2p_ticket, verify_ticket
from playhub.services.bus import Audience, PushBus
from playhub.services.quotas import WindowLimiter
from playhub.services.room_states import Room
from playhub.services.sessions import Peer, Principal, Role, SessionRegistry
from playhub.settings import Settings

CALLER, CALLEE = "caller", "callee"
DIRECT_PURPOSE, RELAY_PURPOSE = "direct", "relay"


class P2PState(enum.StrEnum):
    INVITED = "INVITED"
    CONNECTING = "CONNECTING"
    DIRECT = "DIRECT"
    RELAYING = "RELAYING"
    FAILED = "FAILED"
    CLOSED = "CLOSED"


class P2PEvent(enum.StrEnum):
    BOTH_LISTENING = "both_listening"
    DIRECT = "direct"  # the caller reports a verified direct connection
    FALLBACK = "fallback"  # the caller reports that the direct path failed, and a relay slot is free
    FAIL = "fail"  # timeout, cancel, a side went away, no relay
    RELAY_ENDED = "relay_ended"


S, E = P2PState, P2PEvent

TRANSITIONS: dict[tuple[P2PState, P2PEvent], P2PState] = {
    (S.INVITED, E.BOTH_LISTENING): S.CONNECTING,
    (S.INVITED, E.FALLBACK): S.RELAYING,  # the caller may give up before the callee even listens
    (S.INVITED, E.FAIL): S.FAILED,
    (S.CONNECTING, E.DIRECT): S.DIRECT,
    (S.CONNECTING, E.FALLBACK): S.RELAYING,
    (S.CONNECTING, E.FAIL): S.FAILED,
    (S.RELAYING, E.RELAY_ENDED): S.CLOSED,
}
FINAL = frozenset({S.DIRECT, S.FAILED, S.CLOSED})
UNDECIDED = frozenset({S.INVITED, S.CONNECTING})


@dataclass(eq=False, slots=True)
class Side:
    username: str
    account_id: int
    ip: str
    port: int  # of its lobby connection
    listen_port: int | None = None
    relay_used: bool = False
    endpoint: Peer | None = (
        None  # a game client's attached connection (P2P_ATTACH); None: the player's lobby login
    )


@dataclass(eq=False, slots=True)
class P2PSession:
    session_id: str
    token: str
    caller: Side
    callee: Side
    room_id: str | None
    state: P2PState = P2PState.INVITED
    paired: bool = False  # both relay connections arrived
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def side(self, username: str) -> Side | None:
        if username == self.caller.username:
            return self.caller
        if username == self.callee.username:
            return self.callee
        return None

    def other(self, side: Side) -> Side:
        return self.callee if side is self.caller else self.caller

    @property
    def names(self) -> tuple[str, str]:
        return (self.caller.username, self.callee.username)


def transition(session: P2PSession, event: P2PEvent) -> P2PState:
    new = TRANSITIONS.get((session.state, event))
    if new is None:
        raise BadState(
            f"P2P session {session.session_id} is {session.state.lower()}: cannot {event.replace('_', ' ')}"
        )
    session.state = new
    return new


# Looks up an open room (raises NotFound).
RoomLookup = Callable[[str], Room]
# The address the server sees for a connection, None when unknown.
AddressOf = Callable[[Peer | None], tuple[str, int] | None]

ENDPOINT_KEY = "p2p_room"  # in Principal.data of a game client's identity: the room it is attached for

_encode = msgspec.json.Encoder().encode


class P2PService:
    def __init__(
        self,
        settings: Settings,
        sessions: SessionRegistry,
        bus: PushBus,
        room: RoomLookup,
        address_of: AddressOf,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.bus = bus
        self.room = room
        self.address_of = address_of
        self._endpoints: dict[tuple[str, str], Peer] = {}  # (room id, username) -> a game client's connection
        self._endpoint_keys: dict[Peer, tuple[str, str]] = {}
        self._sessions: dict[str, P2PSession] = {}
        self._of_user: dict[str, set[str]] = {}  # username -> ids of its open sessions
        self._relays = 0  # sessions in RELAYING
        # Told when the service ends a relayed session, so the edge closes its relay connections.
        self.on_relay_end: Callable[[str], None] | None = None
        self._requests = WindowLimiter(settings.p2p_requests_per_window, settings.p2p_request_window_s)
        self._signals = WindowLimiter(settings.p2p_signals_per_window, settings.p2p_signal_window_s)
        sessions.subscribe(self._on_session)

    # --- reads -------------------------------------------------------------------------------------------------------
    def get(self, session_id: str) -> P2PSession:
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFound(f"no P2P session '{session_id}'")
        return session

    def _mine(self, user: Principal, session_id: str) -> tuple[P2PSession, Side]:
        session = self._sessions.get(session_id)
        side = session.side(user.username) if session is not None else None
        attached_room = user.data.get(ENDPOINT_KEY)
        if (
            session is None
            or side is None
            or (attached_room is not None and session.room_id != attached_room)
        ):
            # Someone else's session answers like a missing one: ids are not probed.
            raise NotFound(f"no P2P session '{session_id}'")
        return session, side

    def open_sessions(self) -> int:
        return len(self._sessions)

    # --- the request -------------------------------------------------------------------------------------------------
    def _online(self, username: str) -> Principal:
        target = self.sessions.by_username(Role.PLAYER, username)
        if target is None or not target.online:
            # Unknown and offline names answer alike, so the request cannot be used to list accounts.
            raise BadState(f"{username} is not online")
        return target

    def request(self, user: Principal, to: str, room_id: str | None = None) -> P2PSession:
        s = self.settings
        attached_room = user.data.get(ENDPOINT_KEY)
        if attached_room is not None:
            # A game client speaks for its player within its room only.
            if room_id is not None and room_id != attached_room:
                raise Forbidden(f"this connection is attached to room {attached_room}, not {room_id}")
            room_id = attached_room
        if to == user.username:
            raise InvalidRequest("cannot open a P2P connection to yourself")
        target_endpoint = self._endpoints.get((room_id, to)) if room_id is not None else None
        target: Principal | None = None
        if target_endpoint is None:
            if attached_room is not None:
                # Game client to game client: the other game has not attached yet (it may be starting).
                raise BadState(f"the game of {to} is not connected for P2P in room {room_id} (yet)")
            target = self._online(to)
        if room_id is not None:
            members = self.room(room_id).names()  # NotFound for no such room
            if user.username not in members or to not in members:
                raise Forbidden(f"both players must be members of room {room_id}")
        if len(self._sessions) >= s.p2p_max_sessions:
            raise BadState(
                f"the server has {len(self._sessions)} open P2P sessions (at most {s.p2p_max_sessions})"
            )
        for name in (user.username, to):
            if len(self._of_user.get(name, ())) >= s.p2p_max_sessions_per_user:
                raise BadState(
                    f"{name} is already part of {s.p2p_max_sessions_per_user} open P2P sessions: end one first"
                )
        # Counted only for a request that would send invitations: who is online is public (LIST_PLAYERS) anyway; what the
        # limit guards is the invitations pushed to others.
        try:
            self._requests.admit(user.username)
        except RateLimited as exc:
            raise RateLimited(exc.retry_after_s, "too many P2P requests: try again later") from None
        caller = Side(user.username, user.account_id, *(self.address_of(user.peer) or ("", 0)))
        if attached_room is not None:
            caller.endpoint = user.peer
        if target is not None:
            callee = Side(target.username, target.account_id, *(self.address_of(target.peer) or ("", 0)))
        else:
            member = self.room(room_id).member(to) if room_id is not None else None
            callee = Side(
                to, member.account_id if member else 0, *(self.address_of(target_endpoint) or ("", 0))
            )
            callee.endpoint = target_endpoint
        session = P2PSession(
            session_id=secrets.token_hex(8),
            token=secrets.token_urlsafe(24),
            caller=caller,
            callee=callee,
            room_id=room_id,
        )
        self._sessions[session.session_id] = session
        for name in session.names:
            self._of_user.setdefault(name, set()).add(session.session_id)
        session.timer = asyncio.get_running_loop().call_later(
            s.p2p_session_timeout_s, self._timed_out, session.session_id
        )
        for side, role in ((session.caller, CALLER), (session.callee, CALLEE)):
            other = session.other(side)
            self.bus.publish(
                _audience(side),
                P2PInvite(
                    session.session_id,
                    role,
                    session.token,
                    PeerAddress(other.username, other.ip, other.port),
                    room_id,
                    s.p2p_session_timeout_s,
                ),
            )
        return session

    # --- game clients (P2P_ATTACH) -----------------------------------------------------------------------------------
    def attach(self, peer: Peer, room_id: str, username: str, room_ticket: str) -> Principal:
        """Let a game client's connection act for its player in P2P sessions of its room, on the strength of the
        room ticket the platform gave it (``PLAYHUB_TICKET``): no session token reaches game code."""
        room = self.room(room_id)  # NotFound
        member = next((m for m in room.match if m.username == username), None)
        if (
            room.secret is None
            or member is None
            or not verify_ticket(room.secret, room_id, username, room_ticket)
        ):
            raise Forbidden(f"wrong ticket for room {room_id}")
        key = (room_id, username)
        old = self._endpoints.get(key)
        if old is not None and old is not peer:
            self.detach(old)  # a newer game client of the same player takes over
        self._endpoints[key] = peer
        self._endpoint_keys[peer] = key
        return Principal(
            Role.PLAYER, member.account_id, username, "", peer=peer, data={ENDPOINT_KEY: room_id}
        )

    def detach(self, peer: Peer) -> None:
        """A game client's connection closed: its undecided sessions fail as if the player went offline."""
        key = self._endpoint_keys.pop(peer, None)
        if key is None:
            return
        if self._endpoints.get(key) is peer:
            del self._endpoints[key]
        self._gone(key[1], endpoint=peer)

    # --- the peers' reports ------------------------------------------------------------------------------------------
    def listening(self, user: Principal, session_id: str, port: int) -> None:
        session, side = self._mine(user, session_id)
        if session.state not in UNDECIDED:
            raise BadState(
                f"P2P session {session_id} is {session.state.lower()}: the path is already decided"
            )
        if side.listen_port is not None:
            raise BadState(f"you already reported your port for P2P session {session_id}")
        side.listen_port = port
        other = session.other(side)
        self.bus.publish(_audience(other), P2PPeer(session_id, PeerAddress(side.username, side.ip, port)))
        if other.listen_port is not None and session.state is S.INVITED:
            transition(session, E.BOTH_LISTENING)

    def report(self, user: Principal, session_id: str, direct: bool) -> str:
        """The caller's verdict on the direct path. Returns the outcome: direct, relayed or failed."""
        session, side = self._mine(user, session_id)
        if side is not session.caller:
            raise Forbidden("only the caller reports how the connection went")
        if session.state not in UNDECIDED:
            raise BadState(
                f"P2P session {session_id} is {session.state.lower()}: the path is already decided"
            )
        if direct:
            if session.state is not S.CONNECTING:
                raise BadState(f"P2P session {session_id}: the callee has not reported its port yet")
            transition(session, E.DIRECT)
            self._decided(session, "direct", Code.OK, "connected directly")
            return "direct"
        if not self.settings.p2p_relay:
            self._fail(session, Code.BAD_STATE, "the direct connection failed and this server relays nothing")
            return "failed"
        if self._relays >= self.settings.p2p_max_relays:
            self._fail(
                session, Code.RATE_LIMITED, "the direct connection failed and every relay slot is taken"
            )
            return "failed"
        transition(session, E.FALLBACK)
        self._relays += 1
        self._cancel_timer(session)
        session.timer = asyncio.get_running_loop().call_later(
            self.settings.p2p_relay_pair_timeout_s, self._relay_unpaired, session_id
        )
        self._publish_both(
            session, P2PResult(session_id, "relayed", int(Code.OK), "relayed through the server")
        )
        return "relayed"

    def cancel(self, user: Principal, session_id: str) -> None:
        session, _ = self._mine(user, session_id)
        if session.state in UNDECIDED:
            self._fail(session, Code.BAD_STATE, f"cancelled by {user.username}")
        elif session.state is S.RELAYING:
            self.relay_ended(session_id, Code.BAD_STATE, f"cancelled by {user.username}", 0)

    # --- the relay (called by the edge component) --------------------------------------------------------------------
    def admit_relay(self, session_id: str, username: str, given_ticket: str) -> P2PSession:
        """Check a relay connection's claim; each side may attach once (the ticket is single-use)."""
        session = self.get(session_id)
        side = session.side(username)
        if side is None or not verify_p2p_ticket(
            session.token, session_id, RELAY_PURPOSE, username, given_ticket
        ):
            raise Forbidden("wrong ticket for this P2P session")
        if session.state is not S.RELAYING:
            raise BadState(f"P2P session {session_id} is {session.state.lower()}, not relayed")
        if side.relay_used:
            raise BadState(f"the relay ticket of {username} for P2P session {session_id} was already used")
        side.relay_used = True
        return session

    def relay_paired(self, session_id: str) -> None:
        """Both relay connections arrived: the relay runs until one side closes (or a limit ends it)."""
        session = self._sessions.get(session_id)
        if session is not None:
            session.paired = True
            self._cancel_timer(session)

    def _relay_unpaired(self, session_id: str) -> None:
        session = self._sessions.get(session_id)
        if session is not None and not session.paired:
            session.timer = None
            timeout = self.settings.p2p_relay_pair_timeout_s
            self.relay_ended(
                session_id, Code.BAD_STATE, f"a side did not reach the relay within {timeout:g} s", 0
            )

    def relay_ended(self, session_id: str, code: int, reason: str, nbytes: int) -> None:
        session = self._sessions.get(session_id)
        if session is None or session.state is not S.RELAYING:
            return
        transition(session, E.RELAY_ENDED)
        self._relays -= 1
        self._publish_both(session, P2PClosed(session_id, int(code), reason, nbytes))
        self._forget(session)
        if self.on_relay_end is not None:
            self.on_relay_end(session_id)

    # --- signalling (seed 002 ``signal``) ----------------------------------------------------------------------------
    def signal(self, from_user: str, to_user: str, data: Any) -> None:
        """Forward signalling data (WebRTC offer/answer/ICE) to another online player as ``P2P_SIGNAL``."""
        if to_user == from_user:
            raise InvalidRequest("cannot signal yourself")
        size = len(_encode(data))
        if size > self.settings.p2p_signal_max_bytes:
            raise InvalidRequest(
                f"signal data of {size} bytes exceeds the limit of {self.settings.p2p_signal_max_bytes} bytes"
            )
        try:
            self._signals.admit(from_user)
        except RateLimited as exc:
            raise RateLimited(exc.retry_after_s, "too many signals: try again later") from None
        self._online(to_user)
        self.bus.publish(Audience.users([to_user]), P2PSignalled(from_user, data))

    # --- endings -----------------------------------------------------------------------------------------------------
    def _timed_out(self, session_id: str) -> None:
        session = self._sessions.get(session_id)
        if session is not None and session.state in UNDECIDED:
            session.timer = None
            self._fail(
                session,
                Code.BAD_STATE,
                f"no connection within {self.settings.p2p_session_timeout_s:g} s: timed out",
            )

    def _on_session(self, event: str, principal: Principal) -> None:
        if principal.role is Role.PLAYER and event in ("logout", "disconnect", "expire", "replaced"):
            self._gone(principal.username, endpoint=None)

    def _gone(self, username: str, endpoint: Peer | None) -> None:
        """``username``'s lobby login (endpoint None) or game client went away: its undecided sessions reached that
        way fail."""
        for session_id in list(self._of_user.get(username, ())):
            session = self._sessions.get(session_id)
            side = session.side(username) if session is not None else None
            if (
                session is not None
                and side is not None
                and side.endpoint is endpoint
                and session.state in UNDECIDED
            ):
                self._fail(session, Code.BAD_STATE, f"{username} went offline")

    def _fail(self, session: P2PSession, code: int, reason: str) -> None:
        transition(session, E.FAIL)
        self._decided(session, "failed", code, reason)

    def _decided(self, session: P2PSession, outcome: str, code: int, reason: str) -> None:
        self._publish_both(session, P2PResult(session.session_id, outcome, int(code), reason))
        self._forget(session)

    def _publish_both(self, session: P2PSession, push: Any) -> None:
        self.bus.publish(_audience(session.caller) | _audience(session.callee), push)

    def _cancel_timer(self, session: P2PSession) -> None:
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None

    def _forget(self, session: P2PSession) -> None:
        self._cancel_timer(session)
        self._sessions.pop(session.session_id, None)
        for name in session.names:
            ids = self._of_user.get(name)
            if ids is not None:
                ids.discard(session.session_id)
                if not ids:
                    del self._of_user[name]

    def close(self) -> None:
        for session in list(self._sessions.values()):
            self._cancel_timer(session)
        self._sessions.clear()
        self._of_user.clear()
        self._endpoints.clear()
        self._endpoint_keys.clear()


def _audience(side: Side) -> Audience:
    """A side is reached on its game client's connection when it attached one, else on its lobby login."""
    return Audience.peers([side.endpoint]) if side.endpoint is not None else Audience.users([side.username])

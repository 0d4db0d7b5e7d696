"""Handlers of peer-to-peer connections (docs/p2p.md): invitations, reports, the relay and signalling."""

from __future__ import annotations

from playhub.protocol.errors import BadState
from playhub.protocol.p2p import (
    P2PAttach,
    P2PAttached,
    P2PListening,
    P2POutcome,
    P2PRelay,
    P2PRelayed,
    P2PReport,
    P2PRequest,
    P2PRequested,
    P2PSessionRef,
    P2PSignal,
)
from playhub.server.router import Context, Listener, Routes
from playhub.services.sessions import Principal, Role

routes = Routes()

_PLAYER = Role.PLAYER
_LOBBY = Listener.LOBBY


def _user(ctx: Context) -> Principal:
    """Who asks: the player whose token the request carries or, on a game client's connection attached with its room
    ticket (``P2P_ATTACH``), that player within that room."""
    attached: Principal | None = ctx.conn.data.get("p2p_identity")
    if attached is not None and ctx.token is None:
        return attached
    user = ctx.app.sessions.resolve(
        ctx.token, Role.PLAYER, ctx.conn
    )  # 101, 102 or 105 as for any lobby command
    ctx.conn.authenticated = True
    return user


@routes.command("P2P_REQUEST", P2PRequest, role=None, listeners=_LOBBY)
async def p2p_request(ctx: Context, p: P2PRequest) -> P2PRequested:
    session = ctx.app.p2p.request(_user(ctx), p.to, p.room_id)
    return P2PRequested(session.session_id, ctx.app.settings.p2p_session_timeout_s)


@routes.command("P2P_LISTENING", P2PListening, role=None, listeners=_LOBBY)
async def p2p_listening(ctx: Context, p: P2PListening) -> dict:
    ctx.app.p2p.listening(_user(ctx), p.session_id, p.port)
    return {}


@routes.command("P2P_REPORT", P2PReport, role=None, listeners=_LOBBY)
async def p2p_report(ctx: Context, p: P2PReport) -> P2POutcome:
    return P2POutcome(ctx.app.p2p.report(_user(ctx), p.session_id, p.outcome == "direct"))


@routes.command("P2P_CANCEL", P2PSessionRef, role=None, listeners=_LOBBY)
async def p2p_cancel(ctx: Context, p: P2PSessionRef) -> dict:
    ctx.app.p2p.cancel(_user(ctx), p.session_id)
    return {}


@routes.command("P2P_ATTACH", P2PAttach, role=None, listeners=_LOBBY)
async def p2p_attach(ctx: Context, p: P2PAttach) -> P2PAttached:
    """A game client's own lobby connection, authenticated by its room ticket: P2P commands on it need no token."""
    if ctx.token is not None or ctx.app.sessions.sessions_of(ctx.conn) or "p2p_identity" in ctx.conn.data:
        raise BadState("attach a connection of its own, with no login on it, once")
    p2p = ctx.app.p2p
    ctx.conn.data["p2p_identity"] = p2p.attach(ctx.conn, p.room_id, p.username, p.ticket)
    ctx.conn.authenticated = True
    ctx.conn.on_close(p2p.detach)
    return P2PAttached(p.room_id, p.username)


@routes.command("P2P_RELAY", P2PRelay, role=None, listeners=_LOBBY)
async def p2p_relay(ctx: Context, p: P2PRelay) -> P2PRelayed:
    """On a connection of its own: after the answer, the connection carries the peer's bytes (see p2p_relay.py)."""
    if ctx.token is not None or ctx.app.sessions.sessions_of(ctx.conn):
        raise BadState("a relay needs a connection of its own, with no login on it")
    ctx.app.p2p.admit_relay(p.session_id, p.username, p.ticket)
    peer = await ctx.app.relay.attach(ctx.conn, p.session_id, p.username)
    return P2PRelayed(p.session_id, peer)


@routes.command("P2P_SIGNAL", P2PSignal, role=_PLAYER, listeners=_LOBBY)
async def p2p_signal(ctx: Context, p: P2PSignal) -> dict:
    ctx.app.p2p.signal(_user(ctx).username, p.to, p.data)
    return {}

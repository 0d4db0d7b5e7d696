"""REGISTER_DEV, LOGIN_DEV, REGISTER_PLAYER, LOGIN_PLAYER, LOGOUT."""

from __future__ import annotations

from playhub.protocol.schemas import Credentials, Empty
from playhub.server.router import Context, Listener, Routes
from playhub.services.quotas import check_sessions_per_connection, ip_key
from playhub.services.sessions import Role

routes = Routes()


def _admit(ctx: Context, register: bool = False) -> None:
    """Quotas checked before any work is done: sessions on this connection (105), registrations per IP (106)."""
    check_sessions_per_connection(
        ctx.app.sessions.sessions_of(ctx.conn), ctx.app.settings.max_sessions_per_connection
    )
    if register:
        ctx.app.registrations.admit(ip_key(ctx.conn.remote_ip))


@routes.command("REGISTER_DEV", Credentials, role=None, listeners=Listener.DEV)
async def register_dev(ctx: Context, p: Credentials) -> dict:
    _admit(ctx, register=True)
    user = await ctx.app.accounts.register(Role.DEVELOPER, p.username, p.password, ctx.conn)
    return {"session_token": user.token, "username": user.username}


@routes.command("LOGIN_DEV", Credentials, role=None, listeners=Listener.DEV)
async def login_dev(ctx: Context, p: Credentials) -> dict:
    _admit(ctx)
    user = await ctx.app.accounts.login(Role.DEVELOPER, p.username, p.password, ctx.conn, ctx.conn.remote_ip)
    return {"session_token": user.token, "username": user.username}


@routes.command("REGISTER_PLAYER", Credentials, role=None, listeners=Listener.LOBBY)
async def register_player(ctx: Context, p: Credentials) -> dict:
    _admit(ctx, register=True)
    user = await ctx.app.accounts.register(Role.PLAYER, p.username, p.password, ctx.conn)
    return {"session_token": user.token, "username": user.username}


@routes.command("LOGIN_PLAYER", Credentials, role=None, listeners=Listener.LOBBY)
async def login_player(ctx: Context, p: Credentials) -> dict:
    _admit(ctx)
    user = await ctx.app.accounts.login(Role.PLAYER, p.username, p.password, ctx.conn, ctx.conn.remote_ip)
    return {"session_token": user.token, "username": user.username}


@routes.command("LOGOUT", Empty, role=None, listeners=Listener.BOTH)
async def logout(ctx: Context, p: Empty) -> dict:
    role = Role.DEVELOPER if ctx.conn.router.listener is Listener.DEV else Role.PLAYER
    user = ctx.app.sessions.resolve(ctx.token, role, ctx.conn)
    await ctx.app.accounts.logout(user)
    return {}


@routes.command("WHOAMI", Empty, role=None, listeners=Listener.BOTH)
async def whoami(ctx: Context, p: Empty) -> dict:
    """Cheap authenticated read: who does this token belong to (used by clients to check a stored token)."""
    role = Role.DEVELOPER if ctx.conn.router.listener is Listener.DEV else Role.PLAYER
    user = ctx.app.sessions.resolve(ctx.token, role, ctx.conn)
    return {"username": user.username, "role": user.role.value}

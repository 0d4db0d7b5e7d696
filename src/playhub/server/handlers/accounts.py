"""REGISTER_DEV, LOGIN_DEV, REGISTER_PLAYER, LOGIN_PLAYER, LOGOUT, WHOAMI, and on every listener PING and SERVER_INFO."""

from __future__ import annotations

from playhub import __version__
from playhub.protocol.admin import Logout, Ping
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


@routes.command("LOGOUT", Logout, role=None, listeners=Listener.BOTH)
async def logout(ctx: Context, p: Logout) -> dict:
    role = Role.DEVELOPER if ctx.conn.router.listener is Listener.DEV else Role.PLAYER
    user = ctx.app.sessions.resolve(ctx.token, role, ctx.conn)
    await ctx.app.accounts.logout(user)
    if p.close:
        ctx.conn.close_after_answer()
    return {}


@routes.command("WHOAMI", Empty, role=None, listeners=Listener.BOTH)
async def whoami(ctx: Context, p: Empty) -> dict:
    """Cheap authenticated read: who does this token belong to (used by clients to check a stored token)."""
    role = Role.DEVELOPER if ctx.conn.router.listener is Listener.DEV else Role.PLAYER
    user = ctx.app.sessions.resolve(ctx.token, role, ctx.conn)
    return {
        "username": user.username,
        "role": user.role.value,
        "user_role": ctx.app.admin.role_of(user),
        "permissions": sorted(ctx.app.admin.permissions_of(user)),
        "instance_id": ctx.app.instance_id,
        "version": __version__,
    }


@routes.command("PING", Ping, role=None, listeners=Listener.BOTH)
async def ping(ctx: Context, p: Ping) -> dict:
    """Heartbeat: any frame keeps a connection alive; PING also tells the client the server still answers."""
    return {"client_sent_at": p.client_sent_at}


@routes.command("SERVER_INFO", Empty, role=None, listeners=Listener.BOTH)
async def server_info(ctx: Context, p: Empty) -> dict:
    """Who is answering (``instance_id`` is new at every start) and the account rules, before any login."""
    s = ctx.app.settings
    return {
        "instance_id": ctx.app.instance_id,
        "version": __version__,
        "auth_policy": {
            "username_min_length": s.username_min,
            "username_max_length": s.username_max,
            "password_min_length": s.password_min,
            "password_max_length": s.password_max,
        },
        "heartbeat": {"idle_timeout_s": s.idle_timeout_s, "ping_interval_s": s.client_ping_interval_s},
    }

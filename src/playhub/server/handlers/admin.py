"""ADMIN_* commands on the lobby listener: roles, users, bans, kicks, delisting, announcements, the audit log.

Each command declares the permission key it needs; the router refuses a caller whose role lacks it (102).
"""

from __future__ import annotations

from typing import Any

from playhub.protocol.admin import (
    Announce,
    AuditRead,
    ChatMute,
    ChatUnmute,
    GameDelist,
    RoleCreate,
    RoleDelete,
    RolePermissions,
    UserBan,
    UserRef,
    UserSetRole,
    UsersList,
)
from playhub.protocol.errors import InvalidRequest
from playhub.protocol.schemas import Empty
from playhub.server.router import Context, Listener, Routes
from playhub.services.admin import PERMISSIONS
from playhub.services.sessions import Principal, Role

routes = Routes()
_PLAYER = Role.PLAYER
_LOBBY = Listener.LOBBY


def _user(ctx: Context) -> Principal:
    assert ctx.user is not None  # the router resolved the token
    return ctx.user


def _limit(value: int, most: int) -> int:
    if not 1 <= value <= most:
        raise InvalidRequest(f"limit must be 1-{most}")
    return value


def _reason(ctx: Context, reason: str) -> str:
    most = ctx.app.settings.ban_reason_max
    reason = reason.strip()
    if len(reason) > most:
        raise InvalidRequest(f"a reason is at most {most} characters")
    return reason


@routes.command("ADMIN_ROLES_LIST", Empty, role=_PLAYER, listeners=_LOBBY, permission="roles.manage")
async def roles_list(ctx: Context, p: Empty) -> dict:
    roles = await ctx.app.admin.list_roles()
    return {
        "roles": [
            {
                "name": r.name,
                "is_system": r.is_system,
                "user_count": r.user_count,
                "permissions": sorted(r.permissions),
            }
            for r in roles
        ],
        "permission_keys": list(PERMISSIONS),
        "permission_help": PERMISSIONS,
    }


@routes.command("ADMIN_ROLE_CREATE", RoleCreate, role=_PLAYER, listeners=_LOBBY, permission="roles.manage")
async def role_create(ctx: Context, p: RoleCreate) -> dict:
    await ctx.app.admin.create_role(_user(ctx).username, p.name, p.permissions)
    return {"role": p.name.strip().lower()}


@routes.command(
    "ADMIN_ROLE_UPDATE_PERMISSIONS",
    RolePermissions,
    role=_PLAYER,
    listeners=_LOBBY,
    permission="roles.manage",
)
async def role_update(ctx: Context, p: RolePermissions) -> dict:
    await ctx.app.admin.set_role_permissions(_user(ctx).username, p.role, p.permissions)
    return {"role": p.role.strip().lower(), "permissions": sorted(set(p.permissions))}


@routes.command("ADMIN_ROLE_DELETE", RoleDelete, role=_PLAYER, listeners=_LOBBY, permission="roles.manage")
async def role_delete(ctx: Context, p: RoleDelete) -> dict:
    moved = await ctx.app.admin.delete_role(_user(ctx).username, p.role, p.replacement_role)
    return {"role": p.role.strip().lower(), "users_moved": moved}


@routes.command("ADMIN_USERS_LIST", UsersList, role=_PLAYER, listeners=_LOBBY, permission="users.moderate")
async def users_list(ctx: Context, p: UsersList) -> dict:
    limit = _limit(p.limit, ctx.app.settings.admin_users_page_max)
    rows = await ctx.app.admin.list_users(p.status, p.after, limit)
    online = {(k, n) for k in ("player", "developer") for n in _online(ctx, k)}
    users: list[dict[str, Any]] = [
        {
            "username": u.username,
            "kind": u.kind,
            "role": u.role,
            "status": "disabled" if u.disabled else "active",
            "reason": u.disabled_reason or "",
            "online": (u.kind, u.username) in online,
        }
        for u in rows
    ]
    return {"users": users, "more": len(rows) == limit}


def _online(ctx: Context, kind: str) -> set[str]:
    role = Role.PLAYER if kind == "player" else Role.DEVELOPER
    return {p.username for p in ctx.app.sessions.online(role)}


@routes.command("ADMIN_USER_SET_ROLE", UserSetRole, role=_PLAYER, listeners=_LOBBY, permission="users.manage")
async def user_set_role(ctx: Context, p: UserSetRole) -> dict:
    await ctx.app.admin.set_user_role(_user(ctx).username, p.username, p.role)
    return {"username": p.username, "role": p.role.strip().lower()}


@routes.command("ADMIN_USER_BAN", UserBan, role=_PLAYER, listeners=_LOBBY, permission="users.moderate")
async def user_ban(ctx: Context, p: UserBan) -> dict:
    await ctx.app.admin.ban(_user(ctx), p.username, p.kind, _reason(ctx, p.reason))
    return {"username": p.username, "kind": p.kind, "status": "disabled"}


@routes.command("ADMIN_USER_UNBAN", UserRef, role=_PLAYER, listeners=_LOBBY, permission="users.moderate")
async def user_unban(ctx: Context, p: UserRef) -> dict:
    await ctx.app.admin.unban(_user(ctx), p.username, p.kind)
    return {"username": p.username, "kind": p.kind, "status": "active"}


@routes.command("ADMIN_USER_KICK", UserBan, role=_PLAYER, listeners=_LOBBY, permission="users.moderate")
async def user_kick(ctx: Context, p: UserBan) -> dict:
    ended = await ctx.app.admin.kick(_user(ctx), p.username, p.kind, _reason(ctx, p.reason))
    return {"username": p.username, "kind": p.kind, "sessions_ended": ended}


@routes.command("ADMIN_GAME_DELIST", GameDelist, role=_PLAYER, listeners=_LOBBY, permission="games.moderate")
async def game_delist(ctx: Context, p: GameDelist) -> dict:
    await ctx.app.admin.delist(_user(ctx), p.game_id)
    return {"game_id": p.game_id, "status": "OFFLINE"}


@routes.command("ADMIN_CHAT_MUTE", ChatMute, role=_PLAYER, listeners=_LOBBY, permission="chat.moderate")
async def chat_mute(ctx: Context, p: ChatMute) -> dict:
    until = await ctx.app.admin.mute(_user(ctx), p.channel, p.username, p.duration_s)
    return {"channel": p.channel, "username": p.username, "until": until}


@routes.command("ADMIN_CHAT_UNMUTE", ChatUnmute, role=_PLAYER, listeners=_LOBBY, permission="chat.moderate")
async def chat_unmute(ctx: Context, p: ChatUnmute) -> dict:
    await ctx.app.admin.unmute(_user(ctx), p.channel, p.username)
    return {"channel": p.channel, "username": p.username}


@routes.command("ADMIN_ANNOUNCE", Announce, role=_PLAYER, listeners=_LOBBY, permission="server.announce")
async def announce(ctx: Context, p: Announce) -> dict:
    return {"recipients": await ctx.app.admin.announce(_user(ctx), p.message)}


@routes.command("ADMIN_AUDIT", AuditRead, role=_PLAYER, listeners=_LOBBY, permission="audit.read")
async def audit(ctx: Context, p: AuditRead) -> dict:
    limit = _limit(p.limit, ctx.app.settings.audit_page_max)
    rows = await ctx.app.admin.audit_log(p.before, limit)
    return {
        "entries": [
            {
                "id": r.id,
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "target": r.target,
                "detail": r.detail,
            }
            for r in rows
        ],
        "more": len(rows) == limit,
    }


@routes.command("MY_PERMISSIONS", Empty, role=_PLAYER, listeners=_LOBBY)
async def my_permissions(ctx: Context, p: Empty) -> dict:
    user = _user(ctx)
    return {"role": ctx.app.admin.role_of(user), "permissions": sorted(ctx.app.admin.permissions_of(user))}

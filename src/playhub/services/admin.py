"""Roles and permissions, bans, kicks, moderation, announcements and the audit log.

A role is a named set of permission keys (``PERMISSIONS``). Every account has one (default ``player``). The system
roles ``player``, ``moderator`` and ``admin`` cannot be deleted; ``admin`` always holds every key, so editing roles
can never lock the administrators out. Commands declare the key they need in the router's catalogue
(``permission=``); other doors call ``require``.

What the server needs on every request is in memory: the roles and the few accounts that are not plain active
players (another role, or disabled). ``refresh`` reloads both from the database and applies the difference to live
sessions: a changed role is pushed to the user's connections at once (``PERMISSIONS_CHANGED``), a newly disabled
account has its sessions closed with a reason (``SESSION_CLOSED``). Changes made here go through ``refresh`` too, and
so do those of ``playhub admin``, which writes the same database and a journal row that ``poll`` notices.

Closing sessions: the connection gets ``SESSION_CLOSED``, every token of the account is revoked (the session registry
emits ``logout``, so rooms hand the seat over and presence says offline), the connection is closed when it carries no
other session (which also stops its downloads and uploads), and the ``on_account_closed`` hooks run so that other
doors (chat gateways, the web socket) close their own connections of that account.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from playhub.protocol.errors import BadState, Conflict, Forbidden, InvalidRequest, NotFound
from playhub.protocol.pushes import Announcement, PermissionsChanged, SessionClosed
from playhub.services.bus import Audience, PushBus
from playhub.services.sessions import Principal, Role, SessionRegistry
from playhub.store import admin as repo

if TYPE_CHECKING:
    from playhub.settings import Settings
    from playhub.store.db import Database

log = logging.getLogger("playhub.admin")

# Every permission key, with what it allows (listed to clients by ADMIN_ROLES_LIST).
PERMISSIONS: dict[str, str] = {
    "chat.send": "send chat messages",
    "chat.moderate": "mute players in chat and delete chat messages",
    "rooms.create": "create lobby rooms",
    "store.review": "write reviews",
    "games.moderate": "delist any game from the store",
    "users.moderate": "list users, ban, unban and kick them",
    "users.manage": "set a user's role",
    "roles.manage": "create, edit and delete roles",
    "audit.read": "read the audit log",
    "server.announce": "send a server-wide announcement",
}
SYSTEM_ROLES = ("player", "moderator", "admin")
DEFAULT_ROLE = "player"
ADMIN_ROLE = "admin"
KINDS = {"player": Role.PLAYER, "developer": Role.DEVELOPER}
_ROLE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")


@dataclass(frozen=True, slots=True)
class Special:
    """An account that is not a plain active player: what ``refresh`` compares."""

    kind: str
    username: str
    role: str
    disabled_reason: str | None  # None: active


@dataclass(slots=True)
class _State:
    roles: dict[str, frozenset[str]] = field(default_factory=dict)
    system: set[str] = field(default_factory=set)
    special: dict[int, Special] = field(default_factory=dict)


# (kind, username, reason) -> None: how other doors learn that an account's sessions were closed.
AccountClosedHook = Callable[[str, str, str], None]


class ChatModeration(Protocol):
    """What moderation uses of the chat service (services/chat.py)."""

    async def mute(self, name: str, username: str, until: float | None) -> None: ...

    async def unmute(self, name: str, username: str) -> None: ...

    async def system_message(self, name: str, text: str) -> Any: ...


class AdminService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        sessions: SessionRegistry,
        bus: PushBus,
        delist_game: Callable[[str], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.db = db
        self.sessions = sessions
        self.bus = bus
        self._state = _State()
        self._journal = 0
        self._hooks: list[AccountClosedHook] = []
        self.delist_game = delist_game  # the catalogue's: takes any game off the store
        self.chat: ChatModeration | None = None  # attached by the composition root once chat is built

    # --- loading and watching ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._state = await self.db.run(_load)
        self._journal = await self.db.run(repo.last_change)

    async def poll(self) -> None:
        """Apply changes ``playhub admin`` made to the database since the last poll."""
        last = await self.db.read(repo.last_change)  # one statement: no write transaction every second
        if last != self._journal:
            self._journal = last
            await self.refresh()

    async def refresh(self) -> None:
        """Reload roles and special accounts; push changed permissions and close newly disabled accounts."""
        old = self._state
        new = await self.db.run(_load)
        self._state = new
        for account_id in set(old.special) | set(new.special):
            before = old.special.get(account_id)
            after = new.special.get(account_id)
            if after is not None and after.disabled_reason is not None:
                if before is None or before.disabled_reason is None:
                    await self._close_account(after.kind, account_id, after.username, _ban_text(after))
                continue
        # Permissions may change by a role edit as well as by a new role: compare what each live player holds.
        for principal in self.sessions.online(Role.PLAYER):
            was = _perms(old, principal.account_id)
            now = _perms(new, principal.account_id)
            if was != now or _role(old, principal.account_id) != _role(new, principal.account_id):
                self.bus.publish(
                    Audience.users([principal.username]),
                    PermissionsChanged(_role(new, principal.account_id), sorted(now)),
                )

    def on_account_closed(self, hook: AccountClosedHook) -> None:
        """Run ``hook(kind, username, reason)`` whenever an account's sessions are closed (ban, kick)."""
        self._hooks.append(hook)

    # --- checks ---------------------------------------------------------------------------------------------------
    def role_of(self, principal: Principal) -> str:
        return _role(self._state, principal.account_id)

    def permissions_of(self, principal: Principal) -> frozenset[str]:
        return _perms(self._state, principal.account_id)

    def allowed(self, principal: Principal, permission: str) -> bool:
        return permission in _perms(self._state, principal.account_id)

    def require(self, principal: Principal, permission: str) -> None:
        if permission not in _perms(self._state, principal.account_id):
            raise Forbidden(f"this needs the permission '{permission}', which your role does not have")

    def is_disabled(self, account_id: int) -> bool:
        special = self._state.special.get(account_id)
        return special is not None and special.disabled_reason is not None

    # --- roles ----------------------------------------------------------------------------------------------------
    async def list_roles(self) -> list[repo.RoleRow]:
        rows = await self.db.run(repo.list_roles)
        return [
            repo.RoleRow(r.name, r.is_system, frozenset(PERMISSIONS), r.user_count)
            if r.name == ADMIN_ROLE
            else r
            for r in rows
        ]

    async def create_role(self, actor: str, name: str, permissions: list[str] | None = None) -> None:
        name = check_role_name(name)
        perms = check_permissions(permissions or [])
        if not await self.db.run(_create_role, actor, name, perms):
            raise Conflict(f"the role '{name}' exists already")
        await self.refresh()

    async def set_role_permissions(self, actor: str, role: str, permissions: list[str]) -> None:
        role = role.strip().lower()
        perms = check_permissions(permissions)
        if role == ADMIN_ROLE:
            raise BadState("the admin role always holds every permission")
        await self.db.run(_set_permissions, actor, role, perms)
        await self.refresh()

    async def delete_role(self, actor: str, role: str, replacement: str) -> int:
        role, replacement = role.strip().lower(), replacement.strip().lower()
        if role in SYSTEM_ROLES:
            raise BadState(f"'{role}' is a system role and cannot be deleted")
        if role == replacement:
            raise InvalidRequest("the replacement role must be another role")
        moved = await self.db.run(_delete_role, actor, role, replacement)
        await self.refresh()
        return moved

    # --- users ----------------------------------------------------------------------------------------------------
    async def list_users(self, status: str | None, after: str, limit: int) -> list[repo.UserRow]:
        if status not in (None, "active", "disabled"):
            raise InvalidRequest("status must be 'active' or 'disabled'")
        return await self.db.run(lambda c: repo.list_users(c, status=status, after=after, limit=limit))

    async def set_user_role(self, actor: str, username: str, role: str) -> None:
        role = role.strip().lower()
        await self.db.run(_set_user_role, actor, username, role)
        await self.refresh()

    async def ban(self, actor: Principal | str, username: str, kind: str, reason: str) -> None:
        check_kind(kind)
        if (
            isinstance(actor, Principal)
            and kind == "player"
            and actor.username.casefold() == username.casefold()
        ):
            raise BadState("you cannot ban yourself")
        await self.db.run(_ban, _name(actor), kind, username, reason)
        await self.refresh()

    async def unban(self, actor: Principal | str, username: str, kind: str) -> None:
        check_kind(kind)
        await self.db.run(_unban, _name(actor), kind, username)
        await self.refresh()

    async def kick(self, actor: Principal | str, username: str, kind: str, reason: str) -> int:
        """End the account's sessions without disabling it; returns how many were ended (0: not online)."""
        check_kind(kind)
        user = await self.db.run(repo.find_user, kind, username)
        if user is None:
            raise NotFound(f"no {kind} account named '{username}'")
        text = f"kicked by {_name(actor)}" + (f": {reason}" if reason else "")
        ended = await self._close_account(kind, user.id, user.username, text, kicked=True)
        await self.db.run(repo.audit, _name(actor), "user_kick", f"{kind}:{user.username}", reason)
        return ended

    # --- moderation -----------------------------------------------------------------------------------------------
    async def delist(self, actor: Principal, game_id: str) -> None:
        await self.delist_game(game_id)
        await self.db.run(repo.audit, actor.username, "game_delist", game_id, "")

    async def mute(self, actor: Principal, channel: str, username: str, duration_s: int) -> float | None:
        """Keep ``username`` from posting in ``channel`` for ``duration_s`` seconds (0: until unmuted)."""
        if self.chat is None:  # pragma: no cover - always attached by the server
            raise BadState("chat is not available")
        if duration_s < 0:
            raise InvalidRequest("duration_s must be 0 (until unmuted) or more")
        user = await self.db.run(repo.find_user, "player", username)
        if user is None:
            raise NotFound(f"no player named '{username}'")
        until = time.time() + duration_s if duration_s else None
        await self.chat.mute(channel, user.username, until)
        detail = f"{channel} for {duration_s} s" if duration_s else f"{channel} until unmuted"
        await self.db.run(repo.audit, actor.username, "chat_mute", user.username, detail)
        return until

    async def unmute(self, actor: Principal, channel: str, username: str) -> None:
        if self.chat is None:  # pragma: no cover - always attached by the server
            raise BadState("chat is not available")
        user = await self.db.run(repo.find_user, "player", username)
        if user is None:
            raise NotFound(f"no player named '{username}'")
        await self.chat.unmute(channel, user.username)
        await self.db.run(repo.audit, actor.username, "chat_unmute", user.username, channel)

    async def announce(self, actor: Principal, message: str) -> int:
        message = message.strip()
        if not message:
            raise InvalidRequest("the announcement is empty")
        if len(message) > self.settings.announcement_max:
            raise InvalidRequest(f"an announcement is at most {self.settings.announcement_max} characters")
        names = [p.username for p in self.sessions.online(Role.PLAYER)]
        peers = [p.peer for p in self.sessions.online(Role.DEVELOPER) if p.peer is not None]
        self.bus.publish(Audience.users(names) | Audience.peers(peers), Announcement(message, actor.username))
        await self.db.run(repo.audit, actor.username, "announce", "*", message)
        return len(names) + len(peers)

    async def audit_log(self, before: int | None, limit: int) -> list[repo.AuditRow]:
        return await self.db.run(lambda c: repo.read_audit(c, before=before, limit=limit))

    # --- closing sessions -----------------------------------------------------------------------------------------
    async def _close_account(
        self, kind: str, account_id: int, username: str, reason: str, *, kicked: bool = False
    ) -> int:
        role = KINDS[kind]
        principal = self.sessions.by_account(role, account_id)
        peer = principal.peer if principal is not None else None
        if peer is not None and not peer.closed:
            self.bus.publish(Audience.peers([peer]), SessionClosed("kicked" if kicked else "banned", reason))
        ended = await self.sessions.revoke_account(role, account_id)
        if peer is not None and not peer.closed and self.sessions.sessions_of(peer) == 0:
            peer.close()
        if (
            kind == "player" and self.chat is not None
        ):  # chat marks them: everyone in general sees why they left
            try:
                await self.chat.system_message(
                    "general", f"{username} was {'kicked' if kicked else 'banned'}"
                )
            except Exception:
                log.exception("could not tell the chat")
        for hook in list(self._hooks):
            try:
                hook(kind, username, reason)
            except Exception:
                log.exception("an account-closed hook failed")
        log.info("closed the sessions of %s %s: %s", kind, username, reason)
        return ended


# --- validation ------------------------------------------------------------------------------------------------------
def check_role_name(name: str) -> str:
    name = name.strip().lower()
    if not _ROLE_NAME.fullmatch(name):
        raise InvalidRequest("a role name is 1-32 characters: lowercase letters, digits, '_', '.' and '-'")
    return name


def check_permissions(permissions: list[str]) -> list[str]:
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise InvalidRequest(f"unknown permission key(s): {', '.join(unknown)}")
    return sorted(set(permissions))


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidRequest("kind must be 'player' or 'developer'")


def _name(actor: Principal | str) -> str:
    return actor.username if isinstance(actor, Principal) else actor


def _ban_text(special: Special) -> str:
    return "account disabled" + (f": {special.disabled_reason}" if special.disabled_reason else "")


def _role(state: _State, account_id: int) -> str:
    special = state.special.get(account_id)
    role = special.role if special is not None else DEFAULT_ROLE
    return role if role in state.roles else DEFAULT_ROLE


def _perms(state: _State, account_id: int) -> frozenset[str]:
    return state.roles.get(_role(state, account_id), frozenset())


# --- units of work (database thread; also used by ``playhub admin``) ----------------------------------------------
def _load(conn: Any) -> _State:
    state = _State()
    for row in repo.list_roles(conn):
        state.roles[row.name] = frozenset(PERMISSIONS) if row.name == ADMIN_ROLE else row.permissions
        if row.is_system:
            state.system.add(row.name)
    for user in repo.special_users(conn):
        reason = (user.disabled_reason or "") if user.disabled else None
        state.special[user.id] = Special(user.kind, user.username, user.role, reason)
    return state


def _create_role(conn: Any, actor: str, name: str, perms: list[str]) -> bool:
    if not repo.create_role(conn, name, perms):
        return False
    repo.audit(conn, actor, "role_create", name, " ".join(perms))
    return True


def _set_permissions(conn: Any, actor: str, role: str, perms: list[str]) -> None:
    if not repo.role_exists(conn, role):
        raise NotFound(f"no role named '{role}'")
    repo.set_permissions(conn, role, perms)
    repo.audit(conn, actor, "role_update_permissions", role, " ".join(perms))


def _delete_role(conn: Any, actor: str, role: str, replacement: str) -> int:
    if not repo.role_exists(conn, role):
        raise NotFound(f"no role named '{role}'")
    if not repo.role_exists(conn, replacement):
        raise NotFound(f"no role named '{replacement}' to move its users to")
    moved = repo.delete_role(conn, role, replacement)
    repo.audit(conn, actor, "role_delete", role, f"users moved to {replacement}: {moved}")
    return moved


def _set_user_role(conn: Any, actor: str, username: str, role: str) -> None:
    user = repo.find_user(conn, "player", username)
    if user is None:
        raise NotFound(f"no player named '{username}'")
    if not repo.role_exists(conn, role):
        raise NotFound(f"no role named '{role}'")
    repo.set_user_role(conn, user.id, role)
    repo.audit(conn, actor, "user_set_role", user.username, f"{user.role} -> {role}")


def _ban(conn: Any, actor: str, kind: str, username: str, reason: str) -> None:
    user = repo.find_user(conn, kind, username)
    if user is None:
        raise NotFound(f"no {kind} account named '{username}'")
    if user.disabled:
        raise BadState(f"'{user.username}' is banned already")
    repo.set_disabled(conn, user.id, True, reason)
    repo.audit(conn, actor, "user_ban", f"{kind}:{user.username}", reason)


def _unban(conn: Any, actor: str, kind: str, username: str) -> None:
    user = repo.find_user(conn, kind, username)
    if user is None:
        raise NotFound(f"no {kind} account named '{username}'")
    if not user.disabled:
        raise BadState(f"'{user.username}' is not banned")
    repo.set_disabled(conn, user.id, False, None)
    repo.audit(conn, actor, "user_unban", f"{kind}:{user.username}", "")

"""Payloads of the ADMIN_* commands, PING, SERVER_INFO and LOGOUT (roles, bans, moderation, heartbeat).

The ADMIN_* commands carry what seed 002's ``admin_*`` packets carry, so a door speaking seed 002 maps each packet to
one command (see docs/admin.md).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from playhub.protocol.schemas import Int64, Payload

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
RoleName = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
PermissionList = Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=64)]
Text = Annotated[str, msgspec.Meta(max_length=2_000)]  # the real limits are settings, checked by the service


class RoleCreate(Payload):
    name: RoleName
    permissions: PermissionList = []


class RolePermissions(Payload):
    role: RoleName
    permissions: PermissionList


class RoleDelete(Payload):
    role: RoleName
    replacement_role: RoleName


class UsersList(Payload):
    status: str | None = None  # "active" | "disabled" | None (all)
    after: Annotated[str, msgspec.Meta(max_length=128)] = ""
    limit: Int64 = 100


class UserSetRole(Payload):
    username: Name
    role: RoleName


class UserBan(Payload):
    username: Name
    kind: str = "player"
    reason: Text = ""


class UserRef(Payload):
    username: Name
    kind: str = "player"


class GameDelist(Payload):
    game_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class ChatMute(Payload):
    channel: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    username: Name
    duration_s: Int64 = 0  # 0: until ADMIN_CHAT_UNMUTE


class ChatUnmute(Payload):
    channel: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    username: Name


class Announce(Payload):
    message: Text


class AuditRead(Payload):
    before: Int64 | None = None
    limit: Int64 = 50


class Ping(Payload):
    client_sent_at: Int64 = 0


class Logout(Payload):
    close: bool = False  # also close the connection once the answer is sent (seed 002 auth_logout)

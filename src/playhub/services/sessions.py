"""In-memory login sessions (seed 003: tokens are never persisted; a restart logs everyone out).

One live session per (role, account): a newer login replaces the older token, which then answers 105 on its next use.
A session is bound to the connection that logged in (or last used the token); when that connection drops, the
session stays resumable for ``session_resume_grace_s`` so a client can reconnect and carry on with the same token.
"""

from __future__ import annotations

import enum
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from playhub.protocol.errors import BadState, Forbidden, Unauthorized


class Role(enum.StrEnum):
    DEVELOPER = "developer"
    PLAYER = "player"


class Peer(Protocol):
    """The part of a connection that services may use: push a message, know the remote address."""

    remote_ip: str

    def push(self, type_: str, payload: Any) -> None: ...

    def send(self, encoded: bytes) -> None:
        """Send an already encoded message (a push encoded once for many recipients)."""

    @property
    def closed(self) -> bool: ...


@dataclass(eq=False, slots=True)
class Principal:
    role: Role
    account_id: int
    username: str
    token: str
    peer: Peer | None = None
    disconnected_at: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def online(self) -> bool:
        return self.peer is not None and not self.peer.closed


SessionEvent = Callable[
    [str, Principal], None
]  # ("login" | "logout" | "replaced" | "disconnect" | "resume" | "expire")

_REPLACED_MEMORY = 100_000


class SessionRegistry:
    def __init__(self, resume_grace_s: float = 60.0) -> None:
        self.resume_grace_s = resume_grace_s
        self._by_token: dict[str, Principal] = {}
        self._by_account: dict[tuple[Role, int], Principal] = {}
        self._by_name: dict[tuple[Role, str], Principal] = {}
        self._by_peer: dict[Peer, set[Principal]] = {}  # so a disconnect touches only its own sessions
        self._replaced: OrderedDict[str, None] = OrderedDict()  # bounded memory of superseded tokens
        self._listeners: list[SessionEvent] = []

    def subscribe(self, listener: SessionEvent) -> None:
        self._listeners.append(listener)

    def _emit(self, event: str, principal: Principal) -> None:
        for listener in self._listeners:
            listener(event, principal)

    def login(self, role: Role, account_id: int, username: str, peer: Peer | None) -> Principal:
        old = self._by_account.get((role, account_id))
        if old is not None:
            self._drop(old)
            self._replaced[old.token] = None
            if len(self._replaced) > _REPLACED_MEMORY:
                self._replaced.popitem(last=False)
            self._emit("replaced", old)
        principal = Principal(role, account_id, username, secrets.token_urlsafe(24), peer)
        self._bind(principal, peer)
        self._by_token[principal.token] = principal
        self._by_account[(role, account_id)] = principal
        self._by_name[(role, username)] = principal
        self._emit("login", principal)
        return principal

    def resolve(self, token: str | None, role: Role, peer: Peer | None = None) -> Principal:
        """The principal behind ``token``, checked for ``role``; rebinds a dropped session to ``peer``."""
        if not token:
            raise Unauthorized("this command needs a token: log in first")
        principal = self._by_token.get(token)
        if principal is None:
            if token in self._replaced:
                raise BadState("this session was replaced by a newer login of the same account: log in again")
            raise Unauthorized("unknown or expired token: log in again")
        if principal.role is not role:
            raise Forbidden(f"this command needs a {role.value} session, not a {principal.role.value} one")
        if (
            peer is not None
            and principal.peer is not peer
            and (principal.peer is None or principal.peer.closed)
        ):
            self._bind(principal, peer)
            principal.disconnected_at = None
            self._emit("resume", principal)
        return principal

    def logout(self, principal: Principal) -> None:
        if self._by_token.get(principal.token) is principal:
            self._drop(principal)
            self._emit("logout", principal)

    def _bind(self, principal: Principal, peer: Peer | None) -> None:
        if principal.peer is not None:
            bound = self._by_peer.get(principal.peer)
            if bound is not None:
                bound.discard(principal)
                if not bound:
                    del self._by_peer[principal.peer]
        principal.peer = peer
        if peer is not None:
            self._by_peer.setdefault(peer, set()).add(principal)

    def _drop(self, principal: Principal) -> None:
        self._bind(principal, None)
        self._by_token.pop(principal.token, None)
        if self._by_account.get((principal.role, principal.account_id)) is principal:
            del self._by_account[(principal.role, principal.account_id)]
            self._by_name.pop((principal.role, principal.username), None)

    def peer_closed(self, peer: Peer) -> None:
        """A connection dropped: its sessions become resumable for the grace period."""
        now = time.monotonic()
        for principal in list(self._by_peer.pop(peer, ())):
            principal.peer = None
            principal.disconnected_at = now
            self._emit("disconnect", principal)

    def expire(self, now: float | None = None) -> int:
        """Forget sessions whose connection has been gone longer than the grace period."""
        now = time.monotonic() if now is None else now
        expired = [
            p
            for p in self._by_token.values()
            if p.disconnected_at is not None and now - p.disconnected_at >= self.resume_grace_s
        ]
        for principal in expired:
            self._drop(principal)
            self._emit("expire", principal)
        return len(expired)

    def sessions_of(self, peer: Peer) -> int:
        """How many live sessions are bound to this connection (quotas, login timeout)."""
        return len(self._by_peer.get(peer, ()))

    def by_account(self, role: Role, account_id: int) -> Principal | None:
        return self._by_account.get((role, account_id))

    def by_username(self, role: Role, username: str) -> Principal | None:
        return self._by_name.get((role, username))

    def online(self, role: Role) -> list[Principal]:
        return [p for (r, _), p in self._by_account.items() if r is role and p.online]

    def __len__(self) -> int:
        return len(self._by_token)

"""Login sessions: held in memory for speed, written through to the database so they survive a restart.

One live session per (role, account): a newer login replaces the older token, which then answers 105 on its next use.
A session is bound to the connection that logged in (or last used the token). When that connection drops, the session
counts as gone for rooms and presence after ``session_resume_grace_s``, but its token stays usable from any new
connection until it expires: ``session_ttl_s`` after its last use (sliding; the stored expiry is pushed forward at most
every ``session_touch_interval_s``).

The database keeps only SHA-256(token), the account, the role and the expiry (migration 0003). At start every unexpired
row is loaded, so a client presenting its token after a restart is checked with one hash lookup (no argon2, no disk).
Revocation is written before it is acknowledged: a logout deletes the row (101 afterwards), a newer login marks the old
row replaced (105), ``revoke_account`` (bans) deletes every row of the account (101); all of it holds across restarts.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from playhub.protocol.errors import BadState, Forbidden, Unauthorized
from playhub.services.quotas import check_sessions_per_connection
from playhub.store import sessions as repo

if TYPE_CHECKING:
    from playhub.store.db import Database

log = logging.getLogger("playhub.sessions")


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

    def close(self) -> None:
        """Close the connection (after what was already sent)."""


def token_digest(token: str) -> bytes:
    """What the server keeps of a token: its SHA-256 (tokens are random, so no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(eq=False, slots=True)
class Principal:
    role: Role
    account_id: int
    username: str
    token: str  # "" for a session loaded from the database (only its digest is known)
    peer: Peer | None = None
    disconnected_at: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    token_hash: bytes = b""
    expires_at: float = 0.0  # wall clock
    touched_at: float = 0.0  # wall clock of the last stored expiry
    gone: bool = False  # announced as gone ("expire") after the grace period; the token still works

    @property
    def online(self) -> bool:
        return self.peer is not None and not self.peer.closed


SessionEvent = Callable[
    [str, Principal], None
]  # ("login" | "logout" | "replaced" | "disconnect" | "resume" | "expire")



class SessionRegistry:
    def __init__(
        self,
        resume_grace_s: float = 60.0,
        *,
        db: Database | None = None,
        ttl_s: float = 7 * 24 * 3_600.0,
        touch_interval_s: float = 300.0,
        replaced_memory: int = 100_000,
        purge_interval_s: float = 60.0,
    ) -> None:
        self.resume_grace_s = resume_grace_s
        self.ttl_s = ttl_s
        self.touch_interval_s = touch_interval_s
        self.replaced_memory = replaced_memory
        self.purge_interval_s = purge_interval_s
        self.db = db
        self.max_per_peer = 0  # sessions one connection may carry (0 = no limit); resuming counts too
        self._by_token: dict[bytes, Principal] = {}  # by SHA-256 of the token
        self._by_account: dict[tuple[Role, int], Principal] = {}
        self._by_name: dict[tuple[Role, str], Principal] = {}
        self._by_peer: dict[Peer, set[Principal]] = {}  # so a disconnect touches only its own sessions
        self._disconnected: dict[Principal, float] = {}  # in disconnect order, for the grace period
        # Bounded memory of superseded tokens: digest -> (account id, expiry).
        self._replaced: OrderedDict[bytes, tuple[int, float]] = OrderedDict()
        self._dirty: dict[bytes, float] = {}  # expiries to write: digest -> expires_at
        self._last_purge = 0.0
        self._listeners: list[SessionEvent] = []

    def subscribe(self, listener: SessionEvent) -> None:
        self._listeners.append(listener)

    def _emit(self, event: str, principal: Principal) -> None:
        for listener in self._listeners:
            listener(event, principal)

    # --- logging in and out --------------------------------------------------------------------------------------
    def login(self, role: Role, account_id: int, username: str, peer: Peer | None) -> Principal:
        """Create the in-memory session (``start`` also stores it; use that from services)."""
        old = self._by_account.get((role, account_id))
        if old is not None:
            self._drop(old)
            self._remember_replaced(old.token_hash, account_id, old.expires_at)
            self._emit("replaced", old)
        now = time.time()
        token = secrets.token_urlsafe(24)
        principal = Principal(
            role,
            account_id,
            username,
            token,
            peer,
            token_hash=token_digest(token),
            expires_at=now + self.ttl_s,
            touched_at=now,
        )
        self._bind(principal, peer)
        self._by_token[principal.token_hash] = principal
        self._by_account[(role, account_id)] = principal
        self._by_name[(role, username)] = principal
        self._emit("login", principal)
        return principal

    async def start(self, role: Role, account_id: int, username: str, peer: Peer | None) -> Principal:
        """Log in and store the session (the older one marked replaced) before the token is handed out."""
        principal = self.login(role, account_id, username, peer)
        if self.db is not None:
            try:
                await self.db.run(
                    repo.insert_replacing,
                    principal.token_hash,
                    account_id,
                    role.value,
                    principal.touched_at,
                    principal.expires_at,
                )
            except BaseException:
                self.logout(principal)  # never hand out a token that a restart would forget
                raise
        return principal

    def _remember_replaced(self, token_hash: bytes, account_id: int, expires_at: float) -> None:
        self._replaced[token_hash] = (account_id, expires_at)
        if len(self._replaced) > self.replaced_memory:
            self._replaced.popitem(last=False)

    def logout(self, principal: Principal) -> bool:
        """Drop the session from memory; ``end`` also deletes it from the database."""
        if self._by_token.get(principal.token_hash) is principal:
            self._drop(principal)
            self._dirty.pop(principal.token_hash, None)
            self._emit("logout", principal)
            return True
        return False

    async def end(self, principal: Principal) -> None:
        """Log out, durably: the token answers 101 from now on, across restarts too."""
        self.logout(principal)
        if self.db is not None:
            await self.db.run(repo.delete, principal.token_hash)

    async def revoke_account(self, role: Role, account_id: int) -> int:
        """End every session of an account (a ban): live and replaced tokens answer 101, across restarts too."""
        count = 0
        live = self._by_account.get((role, account_id))
        if live is not None and self.logout(live):
            count += 1
        for digest in [d for d, (acc, _) in self._replaced.items() if acc == account_id]:
            del self._replaced[digest]
        if self.db is not None:
            count = max(count, await self.db.run(repo.delete_account, account_id, role.value))
        return count

    # --- using a token -------------------------------------------------------------------------------------------
    def resolve(self, token: str | None, role: Role, peer: Peer | None = None) -> Principal:
        """The principal behind ``token``, checked for ``role``; rebinds a dropped session to ``peer``."""
        if not token:
            raise Unauthorized("this command needs a token: log in first")
        digest = token_digest(token)
        principal = self._by_token.get(digest)
        now = time.time()
        if principal is None:
            replaced = self._replaced.get(digest)
            if replaced is not None and replaced[1] > now:
                raise BadState("this session was replaced by a newer login of the same account: log in again")
            raise Unauthorized("unknown or expired token: log in again")
        if principal.expires_at <= now:
            self._expire(principal)
            raise Unauthorized("unknown or expired token: log in again")
        if principal.role is not role:
            raise Forbidden(f"this command needs a {role.value} session, not a {principal.role.value} one")
        if now - principal.touched_at >= self.touch_interval_s:
            self._touch(principal, now)
        if (
            peer is not None
            and principal.peer is not peer
            and (principal.peer is None or principal.peer.closed)
        ):
            check_sessions_per_connection(self.sessions_of(peer), self.max_per_peer)
            self._bind(principal, peer)
            principal.disconnected_at = None
            principal.gone = False
            self._disconnected.pop(principal, None)
            self._emit("resume", principal)
        return principal

    def _touch(self, principal: Principal, now: float) -> None:
        principal.touched_at = now
        principal.expires_at = now + self.ttl_s
        self._dirty[principal.token_hash] = principal.expires_at

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
        self._disconnected.pop(principal, None)
        self._by_token.pop(principal.token_hash, None)
        if self._by_account.get((principal.role, principal.account_id)) is principal:
            del self._by_account[(principal.role, principal.account_id)]
            self._by_name.pop((principal.role, principal.username), None)

    def _expire(self, principal: Principal) -> None:
        self._drop(principal)
        self._dirty.pop(principal.token_hash, None)
        if not principal.gone:
            self._emit("expire", principal)

    def peer_closed(self, peer: Peer) -> None:
        """A connection dropped: its sessions stay usable from a new connection; gone after the grace period."""
        now = time.monotonic()
        for principal in list(self._by_peer.pop(peer, ())):
            principal.peer = None
            principal.disconnected_at = now
            self._disconnected[principal] = now
            self._emit("disconnect", principal)

    def expire(self, now: float | None = None) -> int:
        """Announce sessions whose connection has been gone longer than the grace period; drop expired tokens."""
        now = time.monotonic() if now is None else now
        due = []
        for principal, since in self._disconnected.items():  # oldest disconnect first
            if now - since < self.resume_grace_s:
                break
            due.append(principal)
        for principal in due:
            del self._disconnected[principal]
            principal.disconnected_at = None
            principal.gone = True
            self._emit("expire", principal)
        return len(due)

    def sessions_of(self, peer: Peer) -> int:
        """How many live sessions are bound to this connection (quotas, login timeout)."""
        return len(self._by_peer.get(peer, ()))

    def sweep_expired(self, now: float | None = None) -> int:
        """Drop sessions past their sliding expiry (a connected one counts as in use and is extended)."""
        now = time.time() if now is None else now
        dropped = 0
        for principal in list(self._by_token.values()):
            if principal.online:
                if now - principal.touched_at >= self.touch_interval_s:
                    self._touch(principal, now)
            elif principal.expires_at <= now:
                self._expire(principal)
                dropped += 1
        for digest in [d for d, (_, exp) in self._replaced.items() if exp <= now]:
            del self._replaced[digest]
        return dropped

    # --- the database side ---------------------------------------------------------------------------------------
    async def load(self) -> int:
        """Bring back every unexpired session stored by earlier runs (call once at start, before listening)."""
        if self.db is None:
            return 0
        now = time.time()
        rows = await self.db.run(repo.load, now)
        live = 0
        for row in rows:
            role = Role(row.role)
            if row.replaced_at is not None:
                self._remember_replaced(row.token_sha256, row.account_id, row.expires_at)
                continue
            old = self._by_account.get((role, row.account_id))
            if old is not None:  # cannot happen through start(); keep the newest all the same
                self._drop(old)
                self._remember_replaced(old.token_hash, old.account_id, old.expires_at)
            principal = Principal(
                role,
                row.account_id,
                row.username,
                "",
                token_hash=row.token_sha256,
                expires_at=row.expires_at,
                touched_at=row.expires_at - self.ttl_s,
                gone=True,  # nobody saw it online in this run: nothing to announce when it lapses
            )
            self._by_token[principal.token_hash] = principal
            self._by_account[(role, row.account_id)] = principal
            self._by_name[(role, row.username)] = principal
            live += 1
        if rows:
            log.info("restored %d session(s) from the database", live)
        return live

    async def flush(self) -> None:
        """Write pending expiry extensions (batched: at most one write per token per touch interval)."""
        if self.db is None or not self._dirty:
            return
        items = [(exp, digest) for digest, exp in self._dirty.items()]
        self._dirty.clear()
        await self.db.run(repo.touch_many, items)

    async def housekeeping(self) -> None:
        """Once a second: grace periods, expiry extensions, and now and then expired rows."""
        self.expire()
        await self.flush()
        now = time.time()
        if now - self._last_purge >= self.purge_interval_s:
            self._last_purge = now
            self.sweep_expired(now)
            if self.db is not None:
                await self.db.run(repo.purge_expired, now)

    # --- lookups -------------------------------------------------------------------------------------------------
    def by_account(self, role: Role, account_id: int) -> Principal | None:
        return self._by_account.get((role, account_id))

    def by_username(self, role: Role, username: str) -> Principal | None:
        return self._by_name.get((role, username))

    def online(self, role: Role) -> list[Principal]:
        return [p for (r, _), p in self._by_account.items() if r is role and p.online]

    def __len__(self) -> int:
        return len(self._by_token)

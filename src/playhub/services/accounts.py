"""Registration and login for developers and players.

Passwords go through ``PasswordService`` (argon2id on one worker thread per core, bounded queue); login attempts through
``LoginLimiter`` (counted when they start, bounded and expiring keys); sessions through ``SessionRegistry`` (stored, so
they survive restarts).
"""

from __future__ import annotations

import asyncio
import random
import re

from playhub.protocol.errors import Conflict, Forbidden, InvalidRequest, Unauthorized
from playhub.services.passwords import PasswordService
from playhub.services.ratelimit import LoginLimiter
from playhub.services.sessions import Peer, Principal, Role, SessionRegistry
from playhub.settings import Settings
from playhub.store import accounts as repo
from playhub.store.db import Database

_USERNAME = re.compile(r"[A-Za-z0-9_.-]+")


class AccountService:
    def __init__(self, settings: Settings, db: Database, sessions: SessionRegistry) -> None:
        self.settings = settings
        self.db = db
        self.sessions = sessions
        self.passwords = PasswordService(settings)
        self.limiter = LoginLimiter(
            window_s=settings.login_fail_window_s,
            max_per_ip_account=settings.login_fail_max_per_ip_account,
            max_per_account=settings.login_fail_max_per_account,
            max_per_ip=settings.login_fail_max_per_ip,
            max_keys=settings.login_limiter_max_keys,
        )

    def close(self) -> None:
        self.passwords.close()

    def validate_credentials(self, username: str, password: str) -> None:
        s = self.settings
        if not (s.username_min <= len(username) <= s.username_max):
            raise InvalidRequest(f"username must be {s.username_min}-{s.username_max} characters long")
        if not _USERNAME.fullmatch(username):
            raise InvalidRequest("username may contain only letters, digits, '_', '.' and '-'")
        if not (s.password_min <= len(password) <= s.password_max):
            raise InvalidRequest(f"password must be {s.password_min}-{s.password_max} characters long")

    async def register(self, role: Role, username: str, password: str, peer: Peer | None) -> Principal:
        self.validate_credentials(username, password)
        slot = self.passwords.reserve()  # refuse at once when busy, before looking anything up
        try:
            existing = await self.db.read(repo.find, role.value, username)
            if existing is not None:
                raise Conflict(f"the {role.value} name '{username}' is taken: pick another or log in")
            password_hash = await self.passwords.hash(password, slot)
        finally:
            slot.give_up()
        account_id = await self.db.run(repo.create, role.value, username, password_hash)
        if account_id is None:
            raise Conflict(f"the {role.value} name '{username}' is taken: pick another or log in")
        return await self.sessions.start(role, account_id, username, peer)

    async def login(self, role: Role, username: str, password: str, peer: Peer | None, ip: str) -> Principal:
        try:
            return await self._login(role, username, password, peer, ip)
        except (Unauthorized, Forbidden):
            # A small random delay on every failure blurs the timing differences a prober could measure.
            await asyncio.sleep(random.uniform(0.0, self.settings.auth_failure_jitter_s))
            raise

    async def _login(self, role: Role, username: str, password: str, peer: Peer | None, ip: str) -> Principal:
        # Both taken before any await: a full hashing queue refuses at once without counting an attempt, and the
        # attempt is counted before hashing, so parallel attempts cannot all pass the check while the first ones hash.
        slot = self.passwords.reserve()
        try:
            attempt = self.limiter.start(ip, role.value, username)
            s = self.settings
            if not (len(username) <= s.username_max and s.password_min <= len(password) <= s.password_max):
                # No account can match: answer like a wrong password, without spending a hash on megabytes of input.
                raise Unauthorized("wrong username or password")
            row = await self.db.read(repo.find, role.value, username)
            verified = await self.passwords.verify(row.password_hash if row else None, password, slot)
        finally:
            slot.give_up()
        if row is None or not verified.ok:
            raise Unauthorized("wrong username or password")
        attempt.succeeded()
        if row.disabled:  # told only to whoever knows the password
            raise Forbidden("account disabled")
        if verified.new_hash is not None:  # stored with other argon2 parameters: upgrade it now
            await self.db.run(repo.set_password_hash, row.id, verified.new_hash)
        return await self.sessions.start(role, row.id, row.username, peer)

    async def logout(self, principal: Principal) -> None:
        await self.sessions.end(principal)

    async def revoke_account(self, role: Role, account_id: int) -> int:
        """End every session of an account at once (for bans); returns how many were ended."""
        return await self.sessions.revoke_account(role, account_id)

    def housekeeping(self) -> None:
        self.limiter.sweep()

"""Registration and login for developers and players.

Password hashing is argon2id, run in worker threads (argon2-cffi releases the GIL) behind a semaphore so a login
storm queues instead of starving the event loop or the memory.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from playhub.protocol.errors import Conflict, InvalidRequest, Unauthorized
from playhub.services.ratelimit import FailureLimiter
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
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=settings.hash_concurrency, thread_name_prefix="playhub-hash"
        )
        self._gate = asyncio.Semaphore(settings.hash_concurrency)
        window = settings.login_fail_window_s
        self._per_ip = FailureLimiter(settings.login_fail_max_per_ip, window)
        self._per_ip_account = FailureLimiter(settings.login_fail_max_per_ip_account, window)
        # Verifying against this when the account does not exist keeps the timing of both failures alike.
        self._dummy_hash = self._hasher.hash("playhub-timing-equaliser")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def validate_credentials(self, username: str, password: str) -> None:
        s = self.settings
        if not (s.username_min <= len(username) <= s.username_max):
            raise InvalidRequest(f"username must be {s.username_min}-{s.username_max} characters long")
        if not _USERNAME.fullmatch(username):
            raise InvalidRequest("username may contain only letters, digits, '_', '.' and '-'")
        if not (s.password_min <= len(password) <= s.password_max):
            raise InvalidRequest(f"password must be {s.password_min}-{s.password_max} characters long")

    async def _in_pool(self, fn, *args):  # type: ignore[no-untyped-def]
        async with self._gate:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def register(self, role: Role, username: str, password: str, peer: Peer | None) -> Principal:
        self.validate_credentials(username, password)
        existing = await self.db.run(repo.find, role.value, username)
        if existing is not None:
            raise Conflict(f"the {role.value} name '{username}' is taken: pick another or log in")
        password_hash = await self._in_pool(self._hasher.hash, password)
        account_id = await self.db.run(repo.create, role.value, username, password_hash)
        if account_id is None:
            raise Conflict(f"the {role.value} name '{username}' is taken: pick another or log in")
        return self.sessions.login(role, account_id, username, peer)

    async def login(self, role: Role, username: str, password: str, peer: Peer | None, ip: str) -> Principal:
        ip_key = ip
        account_key = (ip, role.value, username)
        self._per_ip.check(ip_key)
        self._per_ip_account.check(account_key)
        row = await self.db.run(repo.find, role.value, username)
        ok = await self._in_pool(self._verify, row.password_hash if row else self._dummy_hash, password)
        if row is None or not ok:
            self._per_ip.fail(ip_key)
            self._per_ip_account.fail(account_key)
            raise Unauthorized("wrong username or password")
        self._per_ip_account.reset(account_key)
        if self._hasher.check_needs_rehash(row.password_hash):
            new_hash = await self._in_pool(self._hasher.hash, password)
            await self.db.run(repo.set_password_hash, row.id, new_hash)
        return self.sessions.login(role, row.id, row.username, peer)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def logout(self, principal: Principal) -> None:
        self.sessions.logout(principal)

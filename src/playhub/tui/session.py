"""``PlayerSession``: the player's connection to the lobby, kept alive across drops.

The Textual app and the ``playhub play`` subcommands talk to the server only through this object. It owns one
``playhub.client.Client`` at a time and, when that connection drops, reconnects with exponential backoff and restores
the login: first by presenting the old token again (the server keeps sessions until they expire, across its own
restarts, and rooms keep the seat for their grace period), then, if the server no longer knows the token (expired,
ended, or another server), by logging in again with the remembered credentials.

Pushes from whichever connection is current are handed to one callback; connection changes to another, so the UI can
show a banner and refresh what it displays once the session is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playhub.client import Client, ConnectionLost, ServerAddress
from playhub.client.settings import CLIENT
from playhub.protocol.errors import BadState, PlayHubError, RateLimited, Unauthorized
from playhub.wire.framing import Framing

log = logging.getLogger("playhub.tui.session")

PushHandler = Callable[[str, dict[str, Any]], None]


class ConnState(enum.StrEnum):
    OFFLINE = "offline"  # never connected, or closed on purpose
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    LOGGED_OUT = "logged_out"  # reconnected, but the remembered credentials were refused
    EXPIRED = "expired"  # the server no longer accepts our token (another login of the account, logged out)


@dataclass(frozen=True, slots=True)
class StateChange:
    state: ConnState
    detail: str = ""  # a short sentence for the banner
    attempt: int = 0
    resumed: bool = False  # True when the old session (and so room seats) survived the drop


StateHandler = Callable[[StateChange], None]


def session_lost(exc: PlayHubError) -> bool:
    """True for the errors that mean "this login is over": 101 on a logged-in request, or 105 for a token that a
    newer login of the same account replaced (105 otherwise means a refused action, e.g. a full room)."""
    if isinstance(exc, Unauthorized):
        return True
    return isinstance(exc, BadState) and "replaced by a newer login" in exc.message


class NotConnected(ConnectionLost):
    """A request was made while the session is reconnecting."""


class PlayerSession:
    """A reconnecting, logged-in player connection. Create it, ``await open()``, then log in."""

    def __init__(
        self,
        address: ServerAddress,
        *,
        on_push: PushHandler | None = None,
        on_state: StateHandler | None = None,
        backoff_initial_s: float = CLIENT.reconnect_backoff_initial_s,
        backoff_max_s: float = CLIENT.reconnect_backoff_max_s,
        connect_timeout_s: float = CLIENT.reconnect_connect_timeout_s,
    ) -> None:
        self.address = address
        self.on_push = on_push
        self.on_state = on_state
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self.client: Client | None = None
        self.username: str | None = None
        self._password: str | None = None  # kept in memory only, to log in again if the session is gone
        self.state = ConnState.OFFLINE
        self._closing = False
        self._watcher: asyncio.Task[None] | None = None
        self._online = asyncio.Event()
        self.instance_id: str | None = None  # the server's, from SERVER_INFO: another one after a reconnect = restart
        self.server_restarted = False

    # --- lifecycle -------------------------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect once; raises ``OSError``/``TimeoutError`` when the server cannot be reached."""
        self._closing = False
        await self._connect()
        self._set_state(StateChange(ConnState.ONLINE))

    async def close(self, *, logout: bool = False) -> None:
        self._closing = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(BaseException):
                await self._watcher
            self._watcher = None
        client, self.client = self.client, None
        if client is not None:
            if logout and client.token and not client.closed:
                with contextlib.suppress(PlayHubError, ConnectionError, TimeoutError):
                    await client.request("LOGOUT", timeout=CLIENT.logout_timeout_s)
            await client.close()
        self._online.clear()
        self.state = ConnState.OFFLINE

    @property
    def online(self) -> bool:
        return self.state is ConnState.ONLINE and self.client is not None and not self.client.closed

    @property
    def logged_in(self) -> bool:
        return self.client is not None and self.client.token is not None

    async def wait_online(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            await self._online.wait()

    async def _new_client(self) -> Client:
        # Length-prefixed framing lets downloads travel as binary chunk frames.
        client = await Client.connect(
            self.address.host,
            self.address.port,
            framing=Framing.LENGTH_PREFIXED,
            timeout=self.connect_timeout_s,
        )
        client.on_push(self._dispatch_push)
        return client

    async def _connect(self) -> Client:
        client = await self._new_client()
        self.instance_id = await self._instance(client)
        old, self.client = self.client, client
        if old is not None and old is not client:
            await old.close()
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())
        self._online.set()
        return client

    # --- accounts ---------------------------------------------------------------------------------------------
    async def login(self, username: str, password: str) -> None:
        await self._require_client().login_player(username, password)
        self._logged_in(username, password)

    async def register(self, username: str, password: str) -> None:
        await self._require_client().register_player(username, password)
        self._logged_in(username, password)

    def _logged_in(self, username: str, password: str) -> None:
        self.username, self._password = username, password
        if (
            self.state is not ConnState.ONLINE
        ):  # logging in again after the server refused the old credentials
            self._set_state(StateChange(ConnState.ONLINE, "logged in"))

    async def logout(self) -> None:
        client = self.client
        if client is not None and client.token:
            with contextlib.suppress(PlayHubError, ConnectionError, TimeoutError):
                await client.request("LOGOUT", timeout=CLIENT.logout_timeout_s)
            client.token = None
        self.username, self._password = None, None

    # --- requests ---------------------------------------------------------------------------------------------
    def _require_client(self) -> Client:
        client = self.client
        if client is None or client.closed or self.state is ConnState.RECONNECTING:
            raise NotConnected("not connected to the server: reconnecting")
        return client

    async def request(
        self, type_: str, payload: dict[str, Any] | None = None, *, timeout: float | None = CLIENT.request_timeout_s
    ) -> dict[str, Any]:
        """One request on the current connection; raises ``NotConnected`` while reconnecting.

        A token the server no longer accepts (101, or 105 "replaced by a newer login") ends the session: the state
        turns EXPIRED so the app goes back to its login form with the reason, instead of failing every screen."""
        client = self._require_client()
        try:
            return await client.request(type_, payload, timeout=timeout)
        except (Unauthorized, BadState) as exc:
            if client.token is not None and session_lost(exc):
                client.token = None
                self._set_state(StateChange(ConnState.EXPIRED, exc.message))
            raise

    # --- pushes and reconnection ------------------------------------------------------------------------------
    def _dispatch_push(self, type_: str, payload: dict[str, Any]) -> None:
        if self.on_push is not None:
            self.on_push(type_, payload)

    def _set_state(self, change: StateChange) -> None:
        self.state = change.state
        if change.state is ConnState.ONLINE:
            self._online.set()
        else:
            self._online.clear()
        if self.on_state is not None:
            try:
                self.on_state(change)
            except Exception:
                log.exception("state callback failed")

    async def _watch(self) -> None:
        """Wait for the current connection to drop, then reconnect until it works or the session is closed."""
        while not self._closing:
            client = self.client
            if client is None:
                return
            await client.wait_closed()
            if self._closing:
                return
            await self._reconnect()

    def _delay(self, attempt: int) -> float:
        # Exponential backoff with jitter, so many clients of a restarted server do not reconnect in lockstep.
        base = min(self.backoff_max_s, self.backoff_initial_s * (2 ** min(attempt, 10)))
        return base * random.uniform(0.75, 1.0)

    async def _reconnect(self) -> None:
        attempt = 0
        old_token = self.client.token if self.client is not None else None
        self._set_state(StateChange(ConnState.RECONNECTING, "connection to the server lost", attempt))
        while not self._closing:
            await asyncio.sleep(self._delay(attempt))
            attempt += 1
            self._set_state(
                StateChange(
                    ConnState.RECONNECTING, f"reconnecting to {self.address} (attempt {attempt})", attempt
                )
            )
            try:
                client = await self._new_client()
            except (OSError, TimeoutError) as exc:
                log.info("reconnect attempt %d failed: %s", attempt, exc)
                continue
            try:
                resumed = await self._restore_login(client, old_token)
            except RateLimited as exc:
                await client.close()
                await asyncio.sleep(min(exc.retry_after_s, self.backoff_max_s))
                continue
            except Unauthorized as exc:
                # The server is back but refuses our credentials (account gone or password changed).
                old, self.client = self.client, client
                if old is not None:
                    await old.close()
                self._set_state(StateChange(ConnState.LOGGED_OUT, f"please log in again: {exc.message}"))
                return
            except (ConnectionError, TimeoutError, PlayHubError) as exc:
                log.info("restoring the session failed: %s", exc)
                await client.close()
                continue
            old, self.client = self.client, client
            if old is not None:
                await old.close()
            if resumed:
                detail = "session resumed"
            else:
                detail = "reconnected and logged in again" if old_token else "reconnected"
            instance = await self._instance(client)
            self.server_restarted = None not in (instance, self.instance_id) and instance != self.instance_id
            self.instance_id = instance or self.instance_id
            if self.server_restarted:
                detail = f"server restarted; {detail}"
            self._set_state(StateChange(ConnState.ONLINE, detail, attempt, resumed))
            return

    @staticmethod
    async def _instance(client: Client) -> str | None:
        """The server's ``instance_id`` (new at each of its starts); None when it cannot say."""
        try:
            return str((await client.request("SERVER_INFO", timeout=5.0))["instance_id"])
        except (PlayHubError, ConnectionError, TimeoutError, KeyError):
            return None

    async def _restore_login(self, client: Client, old_token: str | None) -> bool:
        """Log the new connection in; True when the old session was resumed rather than replaced."""
        if old_token is None:
            return False
        try:
            out = await client.request("WHOAMI", token=old_token, timeout=CLIENT.resume_timeout_s)
        except (Unauthorized, BadState):
            out = None
        if out is not None:
            client.token = old_token
            client.username = out.get("username", self.username)
            return True
        if self.username is None or self._password is None:
            raise Unauthorized("the session expired")
        await client.login_player(self.username, self._password)
        return False

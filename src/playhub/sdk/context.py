"""What a game process learns from its environment, and the one call back to the platform.

PlayHub starts a room's game server as ``python <entry_server>`` with ``GAME_HOST``, ``GAME_PORT``, ``ROOM_ID``,
``GAME_NAME``, ``GAME_VERSION``, ``LOBBY_HOST``/``LOBBY_PORT`` (plus ``LOBBY_CONNECT_HOST``/``LOBBY_CONNECT_PORT``,
the address to dial back), ``PLAYHUB_ROOM_SECRET_FILE`` (a file only this match can read that holds the room secret;
older launchers put the secret itself in ``PLAYHUB_ROOM_SECRET``) and ``PLAYHUB_PLAYERS``. Each member's game client gets
``GAME_HOST``, ``GAME_PORT``, ``ROOM_ID``, ``GAME_NAME``, ``GAME_VERSION``, ``PLAYER_USERNAME``, ``PLAYER_NAME`` and
``PLAYHUB_TICKET``. ``RoomContext`` and ``PlayerContext`` read them; defaults let a game run by hand for local testing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from playhub.sdk import jsonl
from playhub.sdk.hosts import dial_host
from playhub.sdk.tickets import verify_ticket as _verify_ticket

log = logging.getLogger("playhub.sdk")

DEFAULT_GAME_HOST = "127.0.0.1"
DEFAULT_GAME_PORT = 7777
REPORT_TIMEOUT_S = 5.0


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    try:
        return int(env.get(key) or default)
    except ValueError:
        raise ValueError(f"environment variable {key}={env.get(key)!r} is not an integer") from None


def room_secret(env: Mapping[str, str] | None = None) -> str | None:
    """The room secret: read from the file named by ``PLAYHUB_ROOM_SECRET_FILE``, or, from older launchers, the
    ``PLAYHUB_ROOM_SECRET`` variable itself. None when the server was not started by PlayHub."""
    env = os.environ if env is None else env
    path = env.get("PLAYHUB_ROOM_SECRET_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                return f.read(4096).strip() or None
        except OSError as exc:
            raise RuntimeError(f"cannot read the room secret from {path}: {exc}") from None
    return env.get("PLAYHUB_ROOM_SECRET") or None


@dataclass(slots=True)
class RoomContext:
    """The game server's view of its room. Build it with ``RoomContext.from_env()``."""

    host: str = DEFAULT_GAME_HOST
    port: int = DEFAULT_GAME_PORT
    room_id: str = "local"
    game_name: str = ""
    version: str = ""
    lobby_host: str | None = None  # where to report the end of the match (None: not started by PlayHub)
    lobby_port: int | None = None
    players: list[str] = field(default_factory=list)  # the room's members, in join order (empty: anyone)
    secret: str | None = None  # None: run outside PlayHub, tickets are not checked

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RoomContext:
        env = os.environ if env is None else env
        lobby_host = env.get("LOBBY_CONNECT_HOST") or env.get("LOBBY_HOST") or None
        lobby_port_text = env.get("LOBBY_CONNECT_PORT") or env.get("LOBBY_PORT")
        players = [p.strip() for p in (env.get("PLAYHUB_PLAYERS") or "").split(",") if p.strip()]
        return cls(
            host=env.get("GAME_HOST") or DEFAULT_GAME_HOST,
            port=_int(env, "GAME_PORT", DEFAULT_GAME_PORT),
            room_id=env.get("ROOM_ID") or "local",
            game_name=env.get("GAME_NAME") or "",
            version=env.get("GAME_VERSION") or "",
            lobby_host=dial_host(lobby_host) if lobby_host else None,
            lobby_port=int(lobby_port_text) if lobby_port_text and lobby_port_text.isdigit() else None,
            players=players,
            secret=room_secret(env),
        )

    @property
    def managed(self) -> bool:
        """True when PlayHub started this server (there is a room secret)."""
        return self.secret is not None

    def verify_ticket(self, username: str, ticket: str | None) -> bool:
        """Does this ticket prove ``username`` is a member of the room?

        Without a room secret (the server was started by hand, outside PlayHub) every ticket is accepted, so a game
        can be tried locally with no platform running. The member list is checked separately (``is_member``).
        """
        if self.secret is None:
            return True
        return _verify_ticket(self.secret, self.room_id, username, ticket or "")

    def is_member(self, username: str) -> bool:
        return not self.players or username in self.players

    # --- reporting the end of a match -------------------------------------------------------------------------
    def finished_message(
        self, results: dict[str, Any] | None = None, kick_all: bool = False
    ) -> dict[str, Any]:
        """The line sent to the lobby: the authenticated ``GAME_FINISHED`` command, or seed 003's legacy line
        when there is no secret (a server started by an older launcher)."""
        if self.secret is None:
            return {"kind": "game_finished", "room_id": self.room_id, "kick_all": kick_all}
        payload: dict[str, Any] = {"room_id": self.room_id, "secret": self.secret, "kick_all": kick_all}
        if results is not None:
            payload["results"] = results
        return {"type": "GAME_FINISHED", "payload": payload}

    def report_finished(
        self, results: dict[str, Any] | None = None, kick_all: bool = False, timeout: float = REPORT_TIMEOUT_S
    ) -> bool:
        """Tell the platform the match is over. Blocking, bounded by ``timeout``; never raises on network failure.

        Returns True when the lobby answered ``ok`` (for the legacy line, also when it closed without answering), False
        otherwise (the reason is logged). ``results`` should be ``{"winner": str | None, "scores": {user: number},
        "summary": str}``.
        """
        if self.lobby_host is None or self.lobby_port is None:
            log.info("no LOBBY_HOST/LOBBY_PORT: not started by PlayHub, results not reported: %s", results)
            return False
        message = self.finished_message(results, kick_all)
        deadline = time.monotonic() + timeout  # one budget for connecting, sending and the answer
        try:
            with socket.create_connection((self.lobby_host, self.lobby_port), timeout=timeout) as sock:
                conn = jsonl.LineSocket(sock)
                sock.sendall(jsonl.encode(message))
                reply = conn.recv(timeout=max(0.01, deadline - time.monotonic()))
        except (OSError, jsonl.ProtocolError) as exc:
            log.warning(
                "could not report the end of room %s to %s:%s: %s",
                self.room_id,
                self.lobby_host,
                self.lobby_port,
                exc,
            )
            return False
        return _accepted(reply, self.room_id, legacy="kind" in message)

    async def areport_finished(
        self, results: dict[str, Any] | None = None, kick_all: bool = False, timeout: float = REPORT_TIMEOUT_S
    ) -> bool:
        """``report_finished`` for asyncio code: same contract, does not block the event loop."""
        if self.lobby_host is None or self.lobby_port is None:
            log.info("no LOBBY_HOST/LOBBY_PORT: not started by PlayHub, results not reported: %s", results)
            return False
        message = self.finished_message(results, kick_all)
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(self.lobby_host, self.lobby_port)
                writer.write(jsonl.encode(message))
                await writer.drain()
                reply = await jsonl.recv(reader)
        except (OSError, TimeoutError, jsonl.ProtocolError) as exc:
            log.warning(
                "could not report the end of room %s to %s:%s: %s",
                self.room_id,
                self.lobby_host,
                self.lobby_port,
                exc,
            )
            return False
        finally:
            if writer is not None:
                await jsonl.close(writer)
        return _accepted(reply, self.room_id, legacy="kind" in message)


def _accepted(reply: dict[str, Any] | None, room_id: str, legacy: bool) -> bool:
    if reply is None and legacy:
        return True  # seed 003's launcher closes without answering the legacy line
    if reply is None:
        log.warning("the lobby closed the connection without answering GAME_FINISHED for room %s", room_id)
        return False
    if reply.get("status") != "ok":
        log.warning(
            "the lobby refused GAME_FINISHED for room %s: %s %s",
            room_id,
            reply.get("code"),
            reply.get("message"),
        )
        return False
    return True


@dataclass(slots=True)
class PlayerContext:
    """The game client's view: where the game server is and who this player is. ``PlayerContext.from_env()``."""

    host: str = DEFAULT_GAME_HOST
    port: int = DEFAULT_GAME_PORT
    room_id: str = "local"
    username: str = "player"
    ticket: str = ""
    game_name: str = ""
    version: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PlayerContext:
        env = os.environ if env is None else env
        return cls(
            host=dial_host(env.get("GAME_HOST") or DEFAULT_GAME_HOST),
            port=_int(env, "GAME_PORT", DEFAULT_GAME_PORT),
            room_id=env.get("ROOM_ID") or "local",
            username=env.get("PLAYER_USERNAME") or env.get("PLAYER_NAME") or "player",
            ticket=env.get("PLAYHUB_TICKET") or "",
            game_name=env.get("GAME_NAME") or "",
            version=env.get("GAME_VERSION") or "",
        )

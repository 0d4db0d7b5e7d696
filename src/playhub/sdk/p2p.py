"""A verified byte stream to another player: direct TCP when the network allows it, relayed by the server otherwise.

The steps (docs/p2p.md): both sides got ``P2P_INVITE`` (role, the session's one-time token); each opens a listener and
reports its port (``P2P_LISTENING``); each dials the other's listener as soon as ``P2P_PEER`` tells where it is. On
every TCP connection, direct handshake lines prove the token without sending it::

    dialer   -> {"p2p": session_id, "user": me, "ticket": p2p_ticket(token, session_id, "direct", me)}
    acceptor -> {"p2p": session_id, "user": me, "ticket": ...}   (or {"error": "..."} and close)

A listener takes one verified peer only: the token is single-use. The caller picks the first verified connection
(either direction) and sends ``{"use": true}`` on it; the callee uses the connection that line arrives on. The caller
then reports ``direct``; when no connection is verified within ``direct_timeout`` it reports ``failed``, and the server
answers ``relayed`` (``P2P_RESULT`` to both): both sides open a relay connection to the lobby port with ``P2P_RELAY``,
and after its answer that connection is a plain byte stream to the peer.

Either way the result is a ``PeerLink`` with an asyncio ``reader`` and ``writer``. ``establish`` is the procedure;
it talks to the lobby through a ``Control`` (``playhub.client.p2p`` provides one over the client library,
``LobbyControl`` below one over a bare NDJSON connection, for game clients). Only the standard library is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from playhub.sdk.tickets import p2p_ticket, verify_p2p_ticket

log = logging.getLogger("playhub.sdk.p2p")

HANDSHAKE_TIMEOUT_S = 5.0  # one handshake line from a peer
DIRECT_TIMEOUT_S = 3.0  # the caller's wait for a verified direct connection before it asks for the relay
_MAX_LINE = 64 * 1024


class P2PFailed(ConnectionError):
    """No connection to the peer: the session failed (``code`` and ``reason`` as the server gave them)."""

    def __init__(self, reason: str, code: int = 105) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(slots=True)
class PeerLink:
    """A verified stream to the peer. ``path`` is ``"direct"`` or ``"relayed"``."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    path: str
    peer: str
    session_id: str

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


class Control(Protocol):
    """What ``establish`` needs from a lobby connection."""

    username: str
    relay_address: tuple[str, int]

    async def listening(self, session_id: str, port: int) -> None: ...

    async def report(self, session_id: str, outcome: str) -> str: ...

    async def next_event(self, session_id: str) -> dict[str, Any]:
        """The next ``P2P_PEER`` / ``P2P_RESULT`` push of this session, as ``{"type", "payload"}``."""
        ...


def _code(exc: BaseException) -> int:
    code = getattr(exc, "code", None)
    return int(code) if isinstance(code, int) else 105


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


async def _read_obj(reader: asyncio.StreamReader, timeout: float) -> dict[str, Any] | None:
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
        obj = json.loads(line) if line else None
    except (TimeoutError, ValueError, ConnectionError, OSError, asyncio.LimitOverrunError):
        return None
    return obj if isinstance(obj, dict) else None


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


async def relay(
    relay_address: tuple[str, int],
    session_id: str,
    token: str,
    username: str,
    peer: str,
    timeout: float = 15.0,
) -> PeerLink:
    """Open the relay connection of a relayed session (``P2P_RELAY``); returns once the other side is there too."""
    host, port = relay_address
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=_MAX_LINE), timeout)
    except (OSError, TimeoutError) as exc:
        raise P2PFailed(f"cannot reach the relay at {host}:{port}: {exc}") from None
    ticket = p2p_ticket(token, session_id, "relay", username)
    writer.write(
        _line(
            {
                "type": "P2P_RELAY",
                "id": 1,
                "payload": {"session_id": session_id, "username": username, "ticket": ticket},
            }
        )
    )
    answer = await _read_obj(reader, timeout)
    if answer is None or answer.get("status") != "ok":
        _close(writer)
        reason = (answer or {}).get("message") or "the relay did not answer"
        raise P2PFailed(f"relay refused: {reason}", int((answer or {}).get("code") or 105))
    return PeerLink(reader, writer, "relayed", peer, session_id)


async def establish(
    control: Control,
    invite: Mapping[str, Any],
    *,
    listen_host: str = "0.0.0.0",
    direct_timeout: float = DIRECT_TIMEOUT_S,
    try_direct: bool = True,
) -> PeerLink:
    """Run one side of a P2P session from its ``P2P_INVITE`` payload; returns the verified link or raises
    ``P2PFailed``."""
    session_id = str(invite["session_id"])
    token = str(invite["token"])
    caller = invite["role"] == "caller"
    peer = str(invite["peer"]["username"])
    me = control.username
    loop = asyncio.get_running_loop()
    verified: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    chosen: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []
    tasks: set[asyncio.Task[Any]] = set()
    taken = False  # the listener's one verified peer (single use)
    my_hello = {"p2p": session_id, "user": me, "ticket": p2p_ticket(token, session_id, "direct", me)}

    def genuine(obj: dict[str, Any] | None) -> bool:
        return (
            obj is not None
            and obj.get("p2p") == session_id
            and obj.get("user") == peer
            and verify_p2p_ticket(token, session_id, "direct", peer, str(obj.get("ticket") or ""))
        )

    async def on_accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal taken
        writers.append(writer)
        hello = await _read_obj(reader, HANDSHAKE_TIMEOUT_S)
        if not genuine(hello):
            writer.write(_line({"error": "wrong ticket"}))
            _close(writer)
            return
        if taken:
            writer.write(_line({"error": "this session is already connected"}))
            _close(writer)
            return
        taken = True
        writer.write(_line(my_hello))
        got(reader, writer)

    async def dial(ip: str, port: int) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(ip, port, limit=_MAX_LINE), max(0.1, direct_timeout)
            )
        except (OSError, TimeoutError) as exc:
            log.info("P2P %s: cannot dial %s at %s:%d: %s", session_id, peer, ip, port, exc)
            return
        writers.append(writer)
        writer.write(_line(my_hello))
        if genuine(await _read_obj(reader, HANDSHAKE_TIMEOUT_S)):
            got(reader, writer)
        else:
            _close(writer)

    async def await_use(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await _read_obj(reader, invite.get("timeout_s", 20.0) or 20.0)
        if line is not None and line.get("use") is True:
            chosen.put_nowait((reader, writer))

    def got(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A verified connection: the caller picks among these; the callee waits for the caller's pick."""
        if caller:
            verified.put_nowait((reader, writer))
        else:
            spawn(await_use(reader, writer))

    def spawn(coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server: asyncio.AbstractServer | None = None
    if try_direct:
        server = await asyncio.start_server(on_accept, listen_host, 0, limit=_MAX_LINE)
        port = server.sockets[0].getsockname()[1]
    else:
        port = 0
    keep: asyncio.StreamWriter | None = None
    event_task: asyncio.Task[dict[str, Any]] | None = None
    pick_task: asyncio.Task[Any] | None = None
    try:
        try:
            await control.listening(session_id, port)
        except Exception as exc:  # the session is gone (answered 103) or already decided (105)
            raise P2PFailed(f"the session ended: {exc}", _code(exc)) from None
        deadline = loop.time() + direct_timeout if try_direct else loop.time()
        direct_said = False  # callee: the server said "direct"; the use line must follow soon
        while True:
            if event_task is None:
                event_task = asyncio.ensure_future(control.next_event(session_id))
            if pick_task is None:
                pick_task = asyncio.ensure_future(verified.get() if caller else chosen.get())
            if caller:
                timeout = max(0.0, deadline - loop.time())
            else:
                timeout = HANDSHAKE_TIMEOUT_S if direct_said else None
            done, _ = await asyncio.wait(
                {event_task, pick_task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if pick_task in done:
                reader, writer = pick_task.result()
                pick_task = None
                if not caller:
                    keep = writer
                    return PeerLink(reader, writer, "direct", peer, session_id)
                writer.write(_line({"use": True}))
                try:
                    outcome = await control.report(session_id, "direct")
                except Exception as exc:  # the session ended meanwhile (timed out, the peer left)
                    raise P2PFailed(f"the server refused the direct path: {exc}", _code(exc)) from None
                if outcome == "direct":
                    keep = writer
                    return PeerLink(reader, writer, "direct", peer, session_id)
                raise P2PFailed(f"the server answered {outcome} to a direct connection")
            if event_task in done:
                event = event_task.result()
                event_task = None
                kind, payload = event.get("type"), event.get("payload") or {}
                if kind == "P2P_PEER":
                    where = payload.get("peer") or {}
                    if try_direct and int(where.get("port") or 0) > 0:
                        spawn(dial(str(where.get("ip")), int(where["port"])))
                elif kind == "P2P_RESULT":
                    outcome = payload.get("outcome")
                    if outcome == "relayed":
                        return await relay(control.relay_address, session_id, token, me, peer)
                    if outcome == "failed":
                        raise P2PFailed(
                            str(payload.get("reason") or "failed"), int(payload.get("code") or 105)
                        )
                    direct_said = True
                elif kind == "__closed__":
                    raise P2PFailed("the lobby connection closed")
                continue
            if caller:  # no verified connection in time: ask for the relay
                try:
                    outcome = await control.report(session_id, "failed")
                except Exception as exc:
                    raise P2PFailed(f"the session ended: {exc}", _code(exc)) from None
                if outcome == "relayed":
                    return await relay(control.relay_address, session_id, token, me, peer)
                while True:  # failed: the P2P_RESULT that follows says why
                    event = await control.next_event(session_id)
                    payload = event.get("payload") or {}
                    if event.get("type") in ("P2P_RESULT", "__closed__"):
                        raise P2PFailed(
                            str(payload.get("reason") or "failed"), int(payload.get("code") or 105)
                        )
            if direct_said:
                raise P2PFailed("the caller chose a direct connection that never reached this side")
    finally:
        if server is not None:
            server.close()
        for task in list(tasks):
            task.cancel()
        for pending in (event_task, pick_task):
            if pending is not None:
                pending.cancel()
        for writer in writers:
            if writer is not keep:
                _close(writer)


# --- a bare lobby connection, for game clients ---------------------------------------------------------------------
class LobbyControl:
    """``Control`` over a connection of its own to the lobby: authenticated by a player's session ``token``, or (what
    a game client has) attached with its room ticket (``attach``), so no session token reaches game code."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        username: str,
        relay_address: tuple[str, int],
        token: str | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.token = token
        self.username = username
        self.relay_address = relay_address
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.invites: asyncio.Queue[dict[str, Any]] = (
            asyncio.Queue()
        )  # P2P_INVITE payloads in which this is callee
        self._invites: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._task = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(
        cls, host: str, port: int, username: str, *, token: str | None = None, timeout: float = 10.0
    ) -> LobbyControl:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=1 << 20), timeout
            )
        except (OSError, TimeoutError) as exc:
            raise P2PFailed(f"cannot reach the lobby at {host}:{port}: {exc}") from None
        return cls(reader, writer, username, (host, port), token)

    @classmethod
    async def attach(
        cls, host: str, port: int, room_id: str, username: str, ticket: str, timeout: float = 10.0
    ) -> LobbyControl:
        """A connection for ``username``'s P2P sessions within ``room_id``, proved by the room ticket."""
        control = await cls.connect(host, port, username, timeout=timeout)
        try:
            await control.request("P2P_ATTACH", {"room_id": room_id, "username": username, "ticket": ticket})
        except BaseException:
            await control.close()
            raise
        return control

    def _queue(self, session_id: str) -> asyncio.Queue[dict[str, Any]]:
        return self._events.setdefault(session_id, asyncio.Queue())

    def _invite(self, session_id: str) -> asyncio.Future[dict[str, Any]]:
        fut = self._invites.get(session_id)
        if fut is None:
            fut = self._invites[session_id] = asyncio.get_running_loop().create_future()
        return fut

    async def _read(self) -> None:
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    break
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(msg, dict):
                    continue
                if "status" in msg:
                    fut = self._answers.pop(msg.get("id"), None)  # type: ignore[arg-type]
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                    continue
                payload = msg.get("payload") or {}
                kind = msg.get("type")
                if kind == "P2P_INVITE":
                    fut = self._invite(str(payload.get("session_id")))
                    if not fut.done():
                        fut.set_result(payload)
                    if payload.get("role") == "callee":
                        self.invites.put_nowait(payload)
                elif kind in ("P2P_PEER", "P2P_RESULT") and "session_id" in payload:
                    self._queue(str(payload["session_id"])).put_nowait(msg)
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            for fut in self._answers.values():
                if not fut.done():
                    fut.set_exception(P2PFailed("the lobby closed the connection"))
            for queue in self._events.values():
                queue.put_nowait({"type": "__closed__", "payload": {}})
            self.invites.put_nowait({})

    async def request(self, type_: str, payload: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        if self._task.done():
            raise P2PFailed("the lobby closed the connection")
        req_id = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[req_id] = fut
        message: dict[str, Any] = {"type": type_, "id": req_id, "payload": payload}
        if self.token is not None:
            message["token"] = self.token
        self.writer.write(_line(message))
        answer = await asyncio.wait_for(fut, timeout)
        if answer.get("status") != "ok":
            raise P2PFailed(f"{type_}: {answer.get('message')}", int(answer.get("code") or 199))
        return answer.get("payload") or {}

    async def listening(self, session_id: str, port: int) -> None:
        await self.request("P2P_LISTENING", {"session_id": session_id, "port": port})

    async def report(self, session_id: str, outcome: str) -> str:
        return str(
            (await self.request("P2P_REPORT", {"session_id": session_id, "outcome": outcome}))["outcome"]
        )

    async def next_event(self, session_id: str) -> dict[str, Any]:
        if self._task.done():
            return {"type": "__closed__", "payload": {}}
        return await self._queue(session_id).get()

    async def ask(self, username: str, room_id: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
        """``P2P_REQUEST`` to ``username``; returns this side's invitation (role caller)."""
        payload: dict[str, Any] = {"to": username}
        if room_id is not None:
            payload["room_id"] = room_id
        session_id = str((await self.request("P2P_REQUEST", payload))["session_id"])
        return await asyncio.wait_for(asyncio.shield(self._invite(session_id)), timeout)

    async def next_invite(self, timeout: float | None = None) -> dict[str, Any]:
        invite = await asyncio.wait_for(self.invites.get(), timeout)
        if not invite:
            raise P2PFailed("the lobby closed the connection")
        return invite

    async def close(self) -> None:
        _close(self.writer)
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


# --- one call for a game client ------------------------------------------------------------------------------------
def lobby_from_env(env: Mapping[str, str] | None = None) -> tuple[str, int]:
    """Where the lobby is, for a game client: ``PLAYHUB_LOBBY_HOST``/``PLAYHUB_LOBBY_PORT`` (the player app sets them)
    or ``LOBBY_CONNECT_HOST``/``LOBBY_CONNECT_PORT``."""
    env = os.environ if env is None else env
    for host_key, port_key in (
        ("PLAYHUB_LOBBY_HOST", "PLAYHUB_LOBBY_PORT"),
        ("LOBBY_CONNECT_HOST", "LOBBY_CONNECT_PORT"),
    ):
        host, port = env.get(host_key), env.get(port_key)
        if host and port and port.isdigit():
            return ("127.0.0.1" if host in ("0.0.0.0", "::") else host), int(port)
    raise P2PFailed(
        "no PLAYHUB_LOBBY_HOST/PLAYHUB_LOBBY_PORT in the environment: not started by the player app"
    )


async def _attach_from_env(env: Mapping[str, str] | None) -> LobbyControl:
    env = os.environ if env is None else env
    host, port = lobby_from_env(env)
    room_id, username, ticket = env.get("ROOM_ID"), env.get("PLAYER_USERNAME"), env.get("PLAYHUB_TICKET")
    if not (room_id and username and ticket):
        raise P2PFailed(
            "no ROOM_ID, PLAYER_USERNAME or PLAYHUB_TICKET in the environment: not started by PlayHub"
        )
    return await LobbyControl.attach(host, port, room_id, username, ticket)


async def connect_peer(
    username: str,
    *,
    env: Mapping[str, str] | None = None,
    direct_timeout: float = DIRECT_TIMEOUT_S,
    try_direct: bool = True,
    listen_host: str = "0.0.0.0",
    wait_s: float = 10.0,
) -> PeerLink:
    """From a game client: a verified stream to ``username``, a member of the same match (the other side calls
    ``accept_peer``; this waits up to ``wait_s`` for that game to be there). Uses the environment PlayHub gives game
    clients; raises ``P2PFailed``."""
    control = await _attach_from_env(env)
    try:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + wait_s
        while True:
            try:
                invite = await control.ask(username)
                break
            except P2PFailed as exc:
                # 105: the other game is not attached yet (both games start at about the same time).
                if exc.code != 105 or loop.time() >= give_up:
                    raise
                await asyncio.sleep(0.25)
        return await establish(
            control, invite, listen_host=listen_host, direct_timeout=direct_timeout, try_direct=try_direct
        )
    finally:
        await control.close()


async def accept_peer(
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    try_direct: bool = True,
    listen_host: str = "0.0.0.0",
    ready: asyncio.Event | None = None,
) -> PeerLink:
    """From a game client: wait for the next P2P invitation of this match and return the verified stream to the
    player who asked. ``ready`` is set once invitations can arrive (the connection is attached)."""
    control = await _attach_from_env(env)
    try:
        if ready is not None:
            ready.set()
        invite = await control.next_invite(timeout)
        return await establish(control, invite, listen_host=listen_host, try_direct=try_direct)
    finally:
        await control.close()

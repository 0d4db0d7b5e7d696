"""Peer-to-peer connections over a logged-in ``Client``: one call gives a verified stream to another player, direct
when the network allows it, relayed by the server otherwise (docs/p2p.md)::

    link = await connect_peer(client, "bob")           # the caller
    link = await accept_peer(client)                   # the callee: waits for the next invitation
    link.writer.write(b"hello"); await link.reader.read(100); link.path  # "direct" or "relayed"
"""

from __future__ import annotations

import asyncio
from typing import Any

from playhub.client.connection import CLOSED_SENTINEL, Client
from playhub.sdk.p2p import DIRECT_TIMEOUT_S, P2PFailed, PeerLink, establish

__all__ = ["P2PFailed", "PeerLink", "accept_peer", "connect_peer", "wait_invite"]

_SESSION_PUSHES = ("P2P_PEER", "P2P_RESULT")


class ClientControl:
    """``playhub.sdk.p2p.Control`` over a ``Client``: the session's pushes are queued from the moment it is made."""

    def __init__(self, client: Client) -> None:
        if client.username is None:
            raise ValueError("log in before opening a P2P connection")
        self.client = client
        self.username = client.username
        peer = client.writer.get_extra_info("peername")
        self.relay_address: tuple[str, int] = (str(peer[0]), int(peer[1]))
        self._events: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._invites: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._remove = client.on_push(self._on_push)
        self._closed_queue = client.subscribe(CLOSED_SENTINEL)  # only the end-of-connection marker lands here
        self._watch = asyncio.ensure_future(self._closed_queue.get())
        self._watch.add_done_callback(lambda _: self._on_push("__closed__", {}))

    def _on_push(self, type_: str, payload: dict[str, Any]) -> None:
        if type_ == "__closed__":
            for queue in self._events.values():
                queue.put_nowait({"type": "__closed__", "payload": {}})
            return
        session_id = str(payload.get("session_id"))
        if type_ == "P2P_INVITE":
            fut = self._invite(session_id)
            if not fut.done():
                fut.set_result(payload)
        elif type_ in _SESSION_PUSHES:
            self._q(session_id).put_nowait({"type": type_, "payload": payload})

    def _invite(self, session_id: str) -> asyncio.Future[dict[str, Any]]:
        fut = self._invites.get(session_id)
        if fut is None:
            fut = self._invites[session_id] = asyncio.get_running_loop().create_future()
        return fut

    async def invite(self, session_id: str, timeout: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(asyncio.shield(self._invite(session_id)), timeout)

    def _q(self, session_id: str) -> asyncio.Queue[dict[str, Any]]:
        return self._events.setdefault(session_id, asyncio.Queue())

    async def listening(self, session_id: str, port: int) -> None:
        await self.client.request("P2P_LISTENING", {"session_id": session_id, "port": port})

    async def report(self, session_id: str, outcome: str) -> str:
        answer = await self.client.request("P2P_REPORT", {"session_id": session_id, "outcome": outcome})
        return str(answer["outcome"])

    async def next_event(self, session_id: str) -> dict[str, Any]:
        if self.client.closed:
            return {"type": "__closed__", "payload": {}}
        return await self._q(session_id).get()

    def close(self) -> None:
        self._remove()
        self._watch.cancel()
        self.client.unsubscribe(self._closed_queue)


async def wait_invite(client: Client, timeout: float | None = None) -> dict[str, Any]:
    """The payload of the next ``P2P_INVITE`` in which this player is the callee."""
    return await client.wait_push(
        "P2P_INVITE", lambda p: p.get("role") == "callee", timeout=timeout if timeout is not None else 1e9
    )


async def connect_peer(
    client: Client,
    username: str,
    *,
    room_id: str | None = None,
    listen_host: str = "0.0.0.0",
    direct_timeout: float = DIRECT_TIMEOUT_S,
    try_direct: bool = True,
) -> PeerLink:
    """Ask for a P2P session with ``username`` (``P2P_REQUEST``) and return the verified link to it. Raises the
    request's error (``RateLimited``, ``BadState``, ...) or ``P2PFailed``."""
    control = ClientControl(client)
    try:
        payload: dict[str, Any] = {"to": username}
        if room_id is not None:
            payload["room_id"] = room_id
        session_id = (await client.request("P2P_REQUEST", payload))["session_id"]
        invite = await control.invite(session_id)
        return await establish(
            control, invite, listen_host=listen_host, direct_timeout=direct_timeout, try_direct=try_direct
        )
    finally:
        control.close()


async def accept_peer(
    client: Client,
    invite: dict[str, Any] | None = None,
    *,
    timeout: float | None = None,
    listen_host: str = "0.0.0.0",
    try_direct: bool = True,
) -> PeerLink:
    """Answer an invitation (the next one when ``invite`` is None) and return the verified link to the caller."""
    control = ClientControl(client)
    try:
        if invite is None:
            invite = await wait_invite(client, timeout)
        return await establish(control, invite, listen_host=listen_host, try_direct=try_direct)
    finally:
        control.close()

"""``Client``: one TCP connection to a PlayHub listener.

* speaks either framing (NDJSON by default, or the 4-byte length prefix);
* tags every request with an ``id`` and matches responses to requests, so several requests may be in flight;
* delivers pushes (messages without ``status``) to subscribers;
* turns error responses into the typed exceptions of ``playhub.protocol.errors`` (``reply_error``: the one place
  an error answer becomes an exception on the client side);
* sends ``PING`` every ``heartbeat_s`` seconds (so the server does not close it as silent) and, when an answer does
  not come within the same time, closes the connection: whoever waits on it sees ``ConnectionLost`` and reconnects;
* on length-prefixed connections, sends binary upload chunks (``send_binary_chunk``) and delivers binary download
  chunks as ``DOWNLOAD_CHUNK`` pushes whose payload carries the raw bytes in ``data`` instead of ``data_b64``.

Its limits and timeouts are ``playhub.client.settings.CLIENT`` (documented in docs/settings.md, "Client").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from playhub.client.settings import CLIENT
from playhub.protocol.errors import PlayHubError, error_from_wire
from playhub.wire.framing import (
    BINARY_DOWNLOAD_CHUNK,
    BINARY_UPLOAD_CHUNK,
    BadBinaryFrame,
    FrameDecoder,
    Framing,
    binary_frame_prefix,
    decode_binary,
    encode_frame,
    is_binary_frame,
)

log = logging.getLogger("playhub.client")

PushCallback = Callable[[str, dict[str, Any]], None]
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


# Put into every push queue when the connection ends, so a consumer blocked on ``queue.get()`` wakes up.
CLOSED_SENTINEL = "__closed__"


class ConnectionLost(ConnectionError):
    """The connection closed while a request was waiting for its answer."""


def error_of(fields: Mapping[str, Any], payload: dict[str, Any] | None = None) -> PlayHubError:
    """The typed exception for a message carrying ``code`` and ``message`` (an error answer, ``DOWNLOAD_ERROR``)."""
    return error_from_wire(int(fields.get("code", 199)), str(fields.get("message", "")), payload)


def reply_error(reply: Mapping[str, Any]) -> PlayHubError | None:
    """The typed exception an answer envelope stands for, or None when it is a success."""
    if reply.get("status") == "ok":
        return None
    payload = reply.get("payload")
    return error_of(reply, payload if isinstance(payload, dict) else None)


class Client:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        framing: Framing = Framing.NDJSON,
        max_frame: int = CLIENT.max_frame_bytes,
        heartbeat_s: float = CLIENT.heartbeat_s,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.framing = framing
        self.token: str | None = None
        self.username: str | None = None
        self._decoder = FrameDecoder(max_frame, framing)
        self._ids = itertools.count(1)
        # Requests waiting for their answer, in send order (ids only grow): an answer that carries no id answers
        # the oldest one. An entry leaves when its answer arrives or the connection ends, so it stays bounded by
        # what is in flight.
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._queues: dict[str | None, list[asyncio.Queue[dict[str, Any]]]] = {}
        self._callbacks: dict[str | None, list[PushCallback]] = {}
        self._closed = asyncio.Event()
        self.close_reason: BaseException | None = None
        self.missed_pong = False  # the connection was closed because a PING went unanswered
        self._reader_task = asyncio.create_task(self._read_loop())
        self._heartbeat_task = asyncio.create_task(self._heartbeat(heartbeat_s)) if heartbeat_s > 0 else None

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        framing: Framing = Framing.NDJSON,
        timeout: float = CLIENT.connect_timeout_s,
        heartbeat_s: float = CLIENT.heartbeat_s,
    ) -> Client:
        """Connect; ``heartbeat_s`` is the PING interval (0: never ping)."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=CLIENT.stream_buffer_bytes), timeout
        )
        return cls(reader, writer, framing, heartbeat_s=heartbeat_s)

    async def _heartbeat(self, interval: float) -> None:
        while True:
            try:
                await asyncio.wait_for(self._closed.wait(), interval)
                return  # the connection ended
            except TimeoutError:
                pass
            sent_at = int(time.time() * 1000)
            try:
                fut = self.send_request("PING", {"client_sent_at": sent_at}, with_token=False)
                await asyncio.wait_for(asyncio.shield(fut), interval)
            except TimeoutError:
                log.warning("no answer to PING within %g s: closing the connection", interval)
                self.missed_pong = True
                self.close_reason = ConnectionLost(f"no answer to PING within {interval:g} s")
                self.writer.transport.abort()
                return
            except (ConnectionError, RuntimeError):
                return

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # --- requests --------------------------------------------------------------------------------------------
    def send_request(
        self,
        type_: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        with_token: bool = True,
    ) -> asyncio.Future[dict[str, Any]]:
        """Send without waiting; returns the future of the full response envelope."""
        if self.closed:
            raise ConnectionLost(f"connection closed: {self.close_reason or 'by the server'}")
        req_id = next(self._ids)
        message: dict[str, Any] = {"type": type_, "id": req_id}
        tok = token if token is not None else (self.token if with_token else None)
        if tok is not None:
            message["token"] = tok
        if payload is not None:
            message["payload"] = payload
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        self.writer.write(encode_frame(self.framing, _encode(message)))
        return fut

    def send_binary_chunk(
        self, upload_id: str, seq: int, data: bytes | memoryview
    ) -> asyncio.Future[dict[str, Any]]:
        """Send one upload chunk as a binary frame (after ``UPLOAD_BEGIN`` with ``"encoding": "binary"`` on this
        length-prefixed connection); returns the future of the response envelope, as ``send_request`` does."""
        if self.framing is not Framing.LENGTH_PREFIXED:
            raise ValueError("binary chunks need a length-prefixed connection")
        if self.closed:
            raise ConnectionLost(f"connection closed: {self.close_reason or 'by the server'}")
        req_id = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        # Two writes, no join: the transport sends the bytes object without a copy of the chunk here.
        self.writer.write(binary_frame_prefix(BINARY_UPLOAD_CHUNK, upload_id, seq, len(data), req_id))
        self.writer.write(data)
        return fut

    async def request_raw(
        self,
        type_: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        timeout: float | None = CLIENT.request_timeout_s,
    ) -> dict[str, Any]:
        """Send a request and return the whole response envelope, error or not."""
        fut = self.send_request(type_, payload, token=token)
        await self.writer.drain()
        # asyncio.timeout rather than wait_for: no extra future and callbacks per request (clients in a loop notice).
        async with asyncio.timeout(timeout):
            return await fut

    async def request(
        self,
        type_: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        timeout: float | None = CLIENT.request_timeout_s,
    ) -> dict[str, Any]:
        """Send a request; return its payload, or raise the PlayHubError subclass for its code."""
        resp = await self.request_raw(type_, payload, token=token, timeout=timeout)
        error = reply_error(resp)
        if error is not None:
            raise error
        payload_out = resp.get("payload")
        return payload_out if isinstance(payload_out, dict) else {}

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (tests of malformed input)."""
        self.writer.write(data)
        await self.writer.drain()

    # --- accounts helpers ------------------------------------------------------------------------------------
    async def _login(self, type_: str, username: str, password: str) -> dict[str, Any]:
        out = await self.request(type_, {"username": username, "password": password}, token=None)
        self.token = out["session_token"]
        self.username = username
        return out

    async def register_dev(self, username: str, password: str) -> dict[str, Any]:
        return await self._login("REGISTER_DEV", username, password)

    async def login_dev(self, username: str, password: str) -> dict[str, Any]:
        return await self._login("LOGIN_DEV", username, password)

    async def register_player(self, username: str, password: str) -> dict[str, Any]:
        return await self._login("REGISTER_PLAYER", username, password)

    async def login_player(self, username: str, password: str) -> dict[str, Any]:
        return await self._login("LOGIN_PLAYER", username, password)

    async def logout(self) -> None:
        await self.request("LOGOUT")
        self.token = None

    # --- pushes ----------------------------------------------------------------------------------------------
    def subscribe(self, type_: str | None = None) -> asyncio.Queue[dict[str, Any]]:
        """A queue receiving every push of ``type_`` (all pushes when None) as ``{"type", "payload"}``."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._queues.setdefault(type_, []).append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        for queues in self._queues.values():
            if queue in queues:
                queues.remove(queue)

    def on_push(self, callback: PushCallback, type_: str | None = None) -> Callable[[], None]:
        """Call ``callback(type, payload)`` for each push; returns a function that removes it."""
        self._callbacks.setdefault(type_, []).append(callback)
        return lambda: self._callbacks.get(type_, []).remove(callback)

    async def wait_push(
        self, type_: str, predicate: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Wait for the next push of ``type_`` whose payload satisfies ``predicate``; returns its payload."""
        queue = self.subscribe(type_)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    msg = await queue.get()
                    if msg["type"] == CLOSED_SENTINEL:
                        raise ConnectionLost("the server closed the connection")
                    if predicate is None or predicate(msg["payload"]):
                        return msg["payload"]
        finally:
            self.unsubscribe(queue)

    def _deliver_push(self, msg: dict[str, Any]) -> None:
        type_ = msg.get("type")
        payload = msg.get("payload") if isinstance(msg.get("payload"), dict) else {}
        for key in (type_, None):
            for queue in self._queues.get(key, ()):  # type: ignore[arg-type]
                queue.put_nowait({"type": type_, "payload": payload})
            for callback in list(self._callbacks.get(key, ())):  # type: ignore[arg-type]
                try:
                    callback(str(type_), payload)  # type: ignore[arg-type]
                except Exception:
                    log.exception("push callback failed")

    # --- reading ---------------------------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.reader.read(CLIENT.read_size)
                if not data:
                    break
                for frame in self._decoder.feed(data):
                    self._handle(frame)
        except (ConnectionError, asyncio.CancelledError) as exc:
            self.close_reason = exc
        except Exception as exc:  # a malformed frame from the server: close rather than guess
            log.warning("closing client connection: %s", exc)
            self.close_reason = exc
        finally:
            self._closed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionLost("the server closed the connection"))
            self._pending.clear()
            for queues in self._queues.values():
                for queue in queues:
                    queue.put_nowait({"type": CLOSED_SENTINEL, "payload": {}})

    def _handle(self, frame: bytes) -> None:
        if is_binary_frame(frame):
            self._handle_binary(frame)
            return
        try:
            msg = _decode(frame)
        except msgspec.DecodeError:
            log.warning("ignoring a frame that is not JSON")
            return
        if not isinstance(msg, dict):
            return
        if "status" not in msg:
            self._deliver_push(msg)
            return
        req_id = msg.get("id")
        if req_id is None:
            # Answers to frames the server could not parse carry no id: they answer the oldest outstanding request.
            req_id = next(iter(self._pending), None)
        fut = self._pending.pop(req_id, None)
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def _handle_binary(self, frame: bytes) -> None:
        try:
            chunk = decode_binary(frame)
        except BadBinaryFrame as exc:
            log.warning("ignoring a malformed binary frame: %s", exc)
            return
        if chunk.kind != BINARY_DOWNLOAD_CHUNK:
            log.warning("ignoring a binary frame of kind %d", chunk.kind)
            return
        self._deliver_push(
            {
                "type": "DOWNLOAD_CHUNK",
                "payload": {"download_id": chunk.transfer_id, "seq": chunk.seq, "data": chunk.data},
            }
        )

    async def close(self) -> None:
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
        if not self.writer.is_closing():
            self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        self._reader_task.cancel()
        with contextlib.suppress(BaseException):
            await self._reader_task


__all__ = ["CLOSED_SENTINEL", "Client", "ConnectionLost", "PlayHubError", "error_of", "reply_error"]

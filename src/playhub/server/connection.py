"""One client connection: read frames, dispatch them in order, write answers and pushes in the client's framing.

Backpressure: requests are handled one at a time, so a client that floods requests is simply read more slowly, and
after ``frames_per_turn`` frames a connection yields so that one flood cannot starve the other clients. Outgoing data
goes into the transport buffer under the bounds of ``server/outbuf.py`` (per connection, in time, server-wide): a
client that stops reading is disconnected instead of being buffered without end. Transfers (downloads) use
``send_flow``, which waits for the buffer to drain, so a slow reader slows the sender.

Timeouts are checked by the app's housekeeping sweep (``check_timeouts``), not per read, so the request path pays
nothing for them: a frame begun but not finished within ``frame_timeout_s`` (slowloris) and a connection that has
not logged in within ``auth_timeout_s`` are closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from playhub.protocol import envelope
from playhub.protocol.errors import InvalidRequest, Unauthorized
from playhub.server.outbuf import OutputGuard
from playhub.wire.framing import FrameDecoder, FrameTooLarge, Framing, encode_frame, encode_frame_parts

if TYPE_CHECKING:
    from playhub.server.router import Router
    from playhub.settings import Settings

log = logging.getLogger("playhub.conn")


class Connection:
    __slots__ = (
        "router",
        "settings",
        "reader",
        "writer",
        "transport",
        "remote_ip",
        "remote",
        "decoder",
        "_closed",
        "_tasks",
        "_on_close",
        "data",
        "out",
        "frames",
        "authenticated",
        "opened_at",
        "_partial",
    )

    def __init__(
        self, router: Router, settings: Settings, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.router = router
        self.settings = settings
        self.reader = reader
        self.writer = writer
        self.transport = writer.transport
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.remote_ip: str = str(peer[0])
        self.remote = f"{peer[0]}:{peer[1]}"
        self.decoder = FrameDecoder(settings.max_frame_bytes)
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_close: list[Callable[[Connection], None]] = []
        self.data: dict[str, Any] = {}  # per-connection state owned by areas (e.g. open downloads)
        self.out = OutputGuard(self.transport, settings, router.app.output_budget, self._drop_slow)
        self.frames = 0  # frames handled so far
        self.authenticated = False  # set once a token was accepted on this connection
        self.opened_at = asyncio.get_running_loop().time()
        self._partial: tuple[int, float] | None = None  # (frames, first seen) of an unfinished frame

    @property
    def closed(self) -> bool:
        return self._closed or self.transport.is_closing()

    @property
    def framing(self) -> Framing:
        return self.decoder.framing or Framing.NDJSON

    # --- sending ---------------------------------------------------------------------------------------------
    def send(self, encoded: bytes) -> None:
        """Queue one encoded JSON document; disconnect the client if it is not reading its answers."""
        if self.closed:
            return
        self._write(encode_frame(self.framing, encoded))

    def send_parts(self, parts: tuple[bytes | Any, ...]) -> None:
        """Like ``send`` for a document given as pieces (see ``envelope.ok_parts``)."""
        if self.closed:
            return
        self._write(encode_frame_parts(self.framing, parts))

    def _write(self, frame: bytes) -> bool:
        """Queue one framed message within the output bounds; False when the client was dropped instead."""
        if not self.out.admit(len(frame)):
            return False
        self.transport.write(frame)
        self.out.wrote(len(frame))
        return True

    def _drop_slow(self, why: str) -> None:
        log.warning("%s: %s: disconnecting", self.remote, why)
        self.abort()

    def push(self, type_: str, payload: Any) -> None:
        self.send(envelope.push(type_, payload))

    async def send_flow(self, encoded: bytes) -> None:
        """Send with flow control: waits while the client is slower than us. Raises ConnectionError when gone."""
        if self.closed:
            raise ConnectionResetError("connection closed")
        if not self._write(encode_frame(self.framing, encoded)):
            raise ConnectionResetError("connection dropped: not reading")
        await self.writer.drain()

    # --- lifecycle -------------------------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a task owned by this connection; it is cancelled when the connection closes."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task failed", self.remote, exc_info=task.exception())

    def on_close(self, callback: Callable[[Connection], None]) -> None:
        self._on_close.append(callback)

    def abort(self) -> None:
        self._closed = True
        self.transport.abort()

    def close(self) -> None:
        self._closed = True
        self.transport.close()

    def check_timeouts(self, now: float) -> None:
        """Called about once a second by the app: close slowloris frames and connections that never log in."""
        if self.closed:
            return
        s = self.settings
        if self.decoder.buffered:
            # The same unfinished frame (no frame completed since) seen for longer than the timeout.
            if self._partial is None or self._partial[0] != self.frames:
                self._partial = (self.frames, now)
            elif now - self._partial[1] >= s.frame_timeout_s:
                log.info("%s: frame not finished within %g s, closing", self.remote, s.frame_timeout_s)
                self.send(
                    envelope.error_from(
                        InvalidRequest(
                            f"frame not finished within {s.frame_timeout_s:g} s: connection closed"
                        )
                    )
                )
                self.close()
                return
        else:
            self._partial = None
        if not self.authenticated and now - self.opened_at >= s.auth_timeout_s:
            if self.router.app.sessions.sessions_of(self):
                self.authenticated = True  # logged in on this connection
                return
            log.info("%s: no login within %g s, closing", self.remote, s.auth_timeout_s)
            self.send(
                envelope.error_from(
                    Unauthorized(f"no login within {s.auth_timeout_s:g} s: connection closed")
                )
            )
            self.close()

    async def serve(self) -> None:
        router = self.router
        read = self.reader.read
        size = self.settings.read_size
        per_turn = max(1, self.settings.frames_per_turn)
        try:
            while not self._closed:
                data = await read(size)
                if not data:
                    if self.decoder.buffered:
                        log.info(
                            "%s: disconnected in the middle of a frame (%d bytes dropped)",
                            self.remote,
                            self.decoder.buffered,
                        )
                    break
                try:
                    frames = self.decoder.feed(data)
                except FrameTooLarge as exc:
                    self.send(envelope.error_from(InvalidRequest(f"{exc}: connection closed")))
                    await self._flush_and_close()
                    break
                for frame in frames:
                    await router.dispatch(self, frame)
                    if self._closed:
                        break
                    self.frames += 1
                    if not self.frames % per_turn:
                        # A read returns at once while data is buffered: without this, one client pipelining
                        # thousands of cheap requests would hold the event loop for all of them.
                        await asyncio.sleep(0)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            await self._teardown()

    async def _flush_and_close(self) -> None:
        try:
            await asyncio.wait_for(self.writer.drain(), 2.0)
        except (ConnectionError, TimeoutError):
            pass
        self.close()

    async def _teardown(self) -> None:
        self._closed = True
        self.out.close()
        for task in list(self._tasks):
            task.cancel()
        for callback in self._on_close:
            try:
                callback(self)
            except Exception:
                log.exception("%s: close callback failed", self.remote)
        self.router.app.sessions.peer_closed(self)
        if not self.transport.is_closing():
            self.transport.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

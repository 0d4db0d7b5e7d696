"""One client connection: read frames, dispatch them in order, write answers and pushes in the client's framing.

Backpressure: requests are handled one at a time, so a client that floods requests is simply read more slowly, and
after ``frames_per_turn`` frames a connection yields so that one flood cannot starve the other clients. Outgoing data
goes into the transport buffer under the bounds of ``server/outbuf.py`` (per connection, in time, server-wide): a
client that stops reading is disconnected instead of being buffered without end. Transfers (downloads) use
``send_flow``, which waits for the buffer to drain, so a slow reader slows the sender.

Timeouts are checked by the app's housekeeping sweep (``check_timeouts``), not per read, so the request path pays
nothing for them: a frame begun but not finished within ``frame_timeout_s`` (slowloris) and a connection that has
not logged in within ``auth_timeout_s`` are closed, and so is a connection silent (no byte received) for longer than
``idle_timeout_s``: clients send ``PING`` every ``client_ping_interval_s``. Its sessions then count as disconnected,
like any dropped connection (the room seat's grace period).

Binary-mode downloads use ``send_file``: once the transport has nothing queued, a frame's head is written and its body
goes from the file to the socket with ``os.sendfile``; frames other tasks send meanwhile are held back and follow it
in order, so a frame is never cut by another.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from playhub.protocol import envelope
from playhub.protocol.errors import BadState, InvalidRequest, Unauthorized
from playhub.server.outbuf import OutputGuard
from playhub.wire.framing import FrameDecoder, FrameTooLarge, Framing, encode_frame, encode_frame_parts

if TYPE_CHECKING:
    from playhub.server.outbuf import OutputBudget
    from playhub.services.sessions import SessionRegistry
    from playhub.settings import Settings


class _ConnectionServices(Protocol):
    """What a connection uses of the app (kept this small so that connection.py depends on no other server module
    than outbuf: modules that server/context.py imports may then name ``Connection`` without a cycle)."""

    output_budget: OutputBudget
    sessions: SessionRegistry


class Dispatcher(Protocol):
    """The router as a connection sees it (server/router.py): hands each frame to its command."""

    app: _ConnectionServices

    async def dispatch(self, conn: Connection, frame: bytes) -> None: ...


log = logging.getLogger("playhub.conn")

# Runs the connection after a command handed it over (``hand_over``); the flag says whether the client sent more bytes
# after that command, before its answer (which a byte stream cannot accept).
Handover = Callable[["Connection", bool], Coroutine[Any, Any, None]]


def _nonblocking(fn: Callable[..., int], *args: Any) -> int:
    """Bytes written by one non-blocking call on the socket (0 when it would block)."""
    try:
        return fn(*args)
    except (BlockingIOError, InterruptedError):
        return 0


async def _finish_despite_cancel(coro: Coroutine[Any, Any, bytes]) -> tuple[bytes, bool]:
    """Run ``coro`` to the end even if the caller is cancelled meanwhile; returns its result and whether a
    cancellation arrived (the caller re-raises it once it has written the bytes: half a frame is already on the wire
    and the rest must follow, or the connection would be corrupt)."""
    task = asyncio.ensure_future(coro)
    cancelled = False
    while True:
        try:
            return await asyncio.shield(task), cancelled
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True


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
        "last_seen",
        "_partial",
        "_hold",
        "_file_senders",
        "_handover",
    )

    def __init__(
        self, router: Dispatcher, settings: Settings, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.router = router
        self.settings = settings
        self.reader = reader
        self.writer = writer
        self.transport = writer.transport
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.remote_ip: str = str(peer[0])
        self.remote = f"{peer[0]}:{peer[1]}"
        self.decoder = FrameDecoder(settings.max_frame_bytes, max_line=router.max_line_bytes)
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_close: list[Callable[[Connection], None]] = []
        self.data: dict[str, Any] = {}  # per-connection state owned by areas (e.g. open downloads)
        self.out = OutputGuard(self.transport, settings, router.app.output_budget, self._drop_slow)
        self.frames = 0  # frames handled so far
        self.authenticated = False  # set once a token was accepted on this connection
        self.opened_at = asyncio.get_running_loop().time()
        self.last_seen = self.opened_at  # loop time of the last bytes received (heartbeat)
        self._partial: tuple[int, float] | None = None  # (frames, first seen) of an unfinished frame
        self._hold: list[bytes] | None = None  # frames queued behind a file frame being sent
        self._file_senders = 0
        self._handover: Handover | None = None  # takes the connection over after the current frame (a relay)

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
        if self._hold is not None:  # behind a file frame being sent: follows it (see send_file)
            self._hold.append(frame)
            return True
        if not self.out.admit(len(frame)):
            return False
        self._raw_write(frame)
        return True

    def _raw_write(self, data: bytes) -> None:
        self.transport.write(data)
        self.out.wrote(len(data))

    def _drop_slow(self, why: str) -> None:
        log.warning("%s: %s: disconnecting", self.remote, why)
        self.abort()

    def push(self, type_: str, payload: Any) -> None:
        self.send(envelope.push(type_, payload))

    async def send_flow(self, encoded: bytes) -> None:
        """Send with flow control: waits while the client is slower than us. Raises ConnectionError when gone."""
        await self.send_flow_framed(encode_frame(self.framing, encoded))

    async def send_flow_framed(self, frame: bytes) -> None:
        """``send_flow`` for bytes already framed (binary chunk frames)."""
        if self.closed:
            raise ConnectionResetError("connection closed")
        if not self._write(frame):
            raise ConnectionResetError("connection dropped: not reading")
        await self.writer.drain()

    async def send_file(self, head: bytes, fd: int, offset: int, count: int) -> None:
        """Send one frame: ``head`` (length prefix and header), then ``count`` bytes of the file ``fd`` from ``offset``,
        with flow control. The body goes from the page cache to the socket (``os.sendfile``) when the socket takes it;
        what it does not take at once is read in a worker thread and queued like any frame. Raises ConnectionError
        when the client is gone."""
        # Written straight to the socket, the frame must not overtake bytes the transport still holds.
        while self.transport.get_write_buffer_size() > 0:
            if self.closed:
                raise ConnectionResetError("connection closed")
            self.out.must_drain()
            await (
                self.writer.drain()
            )  # the write buffer's high mark is 0 while file frames are sent (see below)
            if self.transport.get_write_buffer_size() > 0:
                await asyncio.sleep(0.001)
        if self.closed:
            raise ConnectionResetError("connection closed")
        sock = self.transport.get_extra_info("socket")
        if sock is None:  # not a socket transport: plain writes
            body = await asyncio.to_thread(os.pread, fd, count, offset)
            await self.send_flow_framed(head + body)
            return
        out = sock.fileno()
        hold: list[bytes] = []
        self._hold = hold
        cancelled = False
        try:
            sent = _nonblocking(os.write, out, head)
            if sent < len(head):
                self._raw_write(head[sent:])
                body_sent = 0
            else:
                body_sent = _nonblocking(os.sendfile, out, fd, offset, count)
            if body_sent < count:
                rest, cancelled = await _finish_despite_cancel(
                    asyncio.to_thread(os.pread, fd, count - body_sent, offset + body_sent)
                )
                if len(rest) != count - body_sent:
                    self.abort()  # half a frame is on the wire: the stream cannot continue
                    raise ConnectionResetError("file shorter than announced")
                self._raw_write(rest)
        except OSError:
            self.abort()
            raise
        finally:
            self._hold = None
            if not self.closed:
                for frame in hold:
                    self._raw_write(frame)
        if cancelled:
            raise asyncio.CancelledError

    def file_sender(self, active: bool) -> None:
        """Mark the start/end of a stream using ``send_file``: while one runs, ``drain`` waits for an empty buffer."""
        self._file_senders += 1 if active else -1
        if self.closed:
            return
        if self._file_senders == 1 and active:
            self.transport.set_write_buffer_limits(high=0)
        elif self._file_senders == 0:
            self.transport.set_write_buffer_limits(high=self.settings.write_buffer_high_bytes)

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

    def hand_over(self, handover: Handover) -> None:
        """After the frame being handled is answered, stop reading frames and let ``handover`` run the connection
        (as raw bytes) until it returns; then the connection closes as usual."""
        self._handover = handover

    def abort(self) -> None:
        self._closed = True
        self.transport.abort()

    def close(self) -> None:
        """Close after what is queued is written; a client that does not read it within ``close_flush_timeout_s`` is
        dropped, so a closed connection cannot keep its tasks (a download waiting on a full buffer) alive."""
        self._closed = True
        self.transport.close()
        if self.transport.get_write_buffer_size():
            asyncio.get_running_loop().call_later(self.settings.close_flush_timeout_s, self.transport.abort)

    def close_after_answer(self) -> None:
        """Close once the answer being handled is written (the router writes it right after the handler returns)."""
        asyncio.get_running_loop().call_soon(self.close)

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
        if s.idle_timeout_s > 0 and now - self.last_seen >= s.idle_timeout_s:
            log.info("%s: silent for %g s, closing", self.remote, s.idle_timeout_s)
            self.send(
                envelope.error_from(BadState(f"nothing received for {s.idle_timeout_s:g} s: connection closed"))
            )
            self.close()
            return
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
        clock = asyncio.get_running_loop().time
        try:
            while not self._closed:
                data = await read(size)
                self.last_seen = clock()
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
                    self.send(router.too_large(exc))
                    await self._flush_and_close()
                    break
                for i, frame in enumerate(frames):
                    await router.dispatch(self, frame)
                    if self._closed:
                        break
                    if self._handover is not None:
                        extra = i + 1 < len(frames) or self.decoder.buffered > 0
                        await self._handover(self, extra)
                        return
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
            await asyncio.wait_for(self.writer.drain(), self.settings.close_drain_timeout_s)
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

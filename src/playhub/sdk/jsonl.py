"""JSON lines: one JSON object per line, UTF-8, ``\\n``-terminated.

The framing PlayHub's sample games use between game server and game clients. Async helpers work on asyncio streams;
``LineSocket`` is the blocking equivalent for simple clients (a terminal prompt, a pygame loop with a reader thread).
Only the standard library is used, so a game process starts fast and needs nothing but ``playhub.sdk``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

MAX_LINE_BYTES = 1 << 20  # a game message larger than this is a protocol error, not something to buffer


class ProtocolError(ValueError):
    """The peer sent a line that is not a JSON object (or is too long)."""


def encode(obj: dict[str, Any]) -> bytes:
    """One message as bytes: compact JSON plus the newline."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """Parse one line; raises ProtocolError when it is not a JSON object."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("a message must be a JSON object")
    return obj


async def recv(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None when the peer closed (or reset) the connection.

    Blank lines are skipped. Raises ProtocolError on a line that is not a JSON object or exceeds the reader's limit.
    """
    while True:
        try:
            line = await reader.readline()
        except (ConnectionError, OSError):
            return None
        except (asyncio.LimitOverrunError, ValueError) as exc:
            raise ProtocolError(f"line too long: {exc}") from None
        if not line:
            return None
        if line.strip():
            return decode(line)


async def send(writer: asyncio.StreamWriter, obj: dict[str, Any]) -> bool:
    """Write one message and wait for the buffer to drain. Returns False if the peer is gone (never raises)."""
    if writer.is_closing():
        return False
    try:
        writer.write(encode(obj))
        await writer.drain()
    except (ConnectionError, OSError):
        return False
    return True


async def close(writer: asyncio.StreamWriter) -> None:
    """Close a stream, ignoring a peer that already went away."""
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


class LineSocket:
    """A blocking socket speaking JSON lines: ``send(obj)``, ``recv(timeout) -> dict | None``, ``close()``.

    It keeps its own buffer instead of ``socket.makefile`` so that a receive timeout leaves it usable.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray()
        self._eof = False

    @classmethod
    def connect(cls, host: str, port: int, timeout: float = 10.0) -> LineSocket:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.settimeout(None)
        return cls(sock)

    def send(self, obj: dict[str, Any]) -> bool:
        """Send one message; False if the connection is gone."""
        try:
            self.sock.sendall(encode(obj))
        except OSError:
            return False
        return True

    def recv(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message, or None on end of stream. With ``timeout``, raises TimeoutError if none arrives."""
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[: nl + 1])
                del self._buf[: nl + 1]
                if line.strip():
                    return decode(line)
                continue
            if self._eof:
                return None
            if len(self._buf) > MAX_LINE_BYTES:
                raise ProtocolError("line too long")
            try:
                self.sock.settimeout(timeout)
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise
            except OSError:
                chunk = b""
            if not chunk:
                self._eof = True
                if self._buf.strip():  # a last message without its newline
                    line = bytes(self._buf)
                    self._buf.clear()
                    return decode(line)
                return None
            self._buf += chunk

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> LineSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def send_sync(sock: socket.socket, obj: dict[str, Any]) -> None:
    """Blocking send of one message on a plain socket (raises OSError if the peer is gone)."""
    sock.sendall(encode(obj))

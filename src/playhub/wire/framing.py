"""Two framings over one stream, chosen by the first byte of a connection.

* NDJSON (seed 000): one UTF-8 JSON object per line, ``\\n`` terminated.
* Length-prefixed (seed 001, story 7): a 4-byte big-endian unsigned length, then that many payload bytes.

A connection whose first byte is ``{`` or ASCII whitespace speaks NDJSON; anything else speaks the length prefix.
The decoder never holds more than ``max_frame`` bytes of one frame plus one read's worth of input.
"""

from __future__ import annotations

import enum
import struct

_LENGTH = struct.Struct("!I")
_NDJSON_FIRST_BYTES = frozenset(b"{ \t\r\n")


class Framing(enum.Enum):
    NDJSON = "ndjson"
    LENGTH_PREFIXED = "length"


class FrameTooLarge(Exception):
    """A frame (announced or accumulated) exceeds the configured maximum."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


def _blank(line: bytes) -> bool:
    # A JSON document is never only whitespace, so only short lines need the (copying) strip.
    return len(line) < 16 and not line.strip()


def sniff_framing(first_byte: int) -> Framing:
    """Pick the framing a connection speaks from its first byte."""
    return Framing.NDJSON if first_byte in _NDJSON_FIRST_BYTES else Framing.LENGTH_PREFIXED


def encode_frame(framing: Framing, payload: bytes) -> bytes:
    """Wrap one encoded JSON document for the wire."""
    if framing is Framing.NDJSON:
        return payload + b"\n"
    return _LENGTH.pack(len(payload)) + payload


def encode_frame_parts(framing: Framing, parts: tuple[bytes | memoryview | object, ...]) -> bytes:
    """Frame a document given as pieces, joining them in one copy (large cached answers)."""
    if framing is Framing.NDJSON:
        return b"".join((*parts, b"\n"))  # type: ignore[arg-type]
    body = b"".join(parts)  # type: ignore[arg-type]
    return _LENGTH.pack(len(body)) + body


class FrameDecoder:
    """Incremental decoder: ``feed`` bytes as they arrive, get complete frame payloads back.

    The framing is sniffed from the first byte unless given. Blank NDJSON lines are skipped.
    """

    __slots__ = ("framing", "max_frame", "_buf", "_need")

    def __init__(self, max_frame: int, framing: Framing | None = None) -> None:
        self.framing = framing
        self.max_frame = max_frame
        self._buf = bytearray()
        self._need = -1  # length-prefixed: payload length of the frame in progress, -1 = reading header

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame (non-zero at EOF means a cut-off frame)."""
        return len(self._buf) + (4 if self._need >= 0 else 0)

    def feed(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        if self.framing is None:
            self.framing = sniff_framing(data[0])
        if self.framing is Framing.NDJSON:
            return self._feed_ndjson(data)
        return self._feed_length(data)

    def _feed_ndjson(self, data: bytes) -> list[bytes]:
        buf = self._buf
        if not buf and data.endswith(b"\n") and data.count(b"\n") == 1:
            # Fast path: exactly one whole line in one read, the common request/response case.
            line = data[:-1]
            if len(line) > self.max_frame:
                raise FrameTooLarge(len(line), self.max_frame)
            return [] if _blank(line) else [line]
        # Only the new bytes can hold the next newline: scanning restarts where the previous read stopped, so a
        # large frame arriving in many reads is scanned once, not once per read.
        scan = len(buf)
        buf += data
        frames: list[bytes] = []
        start = 0
        while True:
            nl = buf.find(b"\n", scan)
            if nl < 0:
                break
            if nl - start > self.max_frame:
                raise FrameTooLarge(nl - start, self.max_frame)
            line = bytes(buf[start:nl])
            start = scan = nl + 1
            if not _blank(line):
                frames.append(line)
        if start:
            del buf[:start]
        if len(buf) > self.max_frame:
            raise FrameTooLarge(len(buf), self.max_frame)
        return frames

    def _feed_length(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos = 0
        while True:
            if self._need < 0:
                if len(buf) - pos < 4:
                    break
                (size,) = _LENGTH.unpack_from(buf, pos)
                if size > self.max_frame:
                    raise FrameTooLarge(size, self.max_frame)
                self._need = size
                pos += 4
            if len(buf) - pos < self._need:
                break
            frames.append(bytes(buf[pos : pos + self._need]))
            pos += self._need
            self._need = -1
        if pos:
            del buf[:pos]
        return frames

"""Two framings over one stream, chosen by the first byte of a connection.

* NDJSON (seed 000): one UTF-8 JSON object per line, ``\\n`` terminated.
* Length-prefixed (seed 001, story 7): a 4-byte big-endian unsigned length, then that many payload bytes.

A connection whose first byte is ``{`` or ASCII whitespace speaks NDJSON; anything else speaks the length prefix.
The decoder never holds more than ``max_frame`` bytes of one frame plus one read's worth of input.

Binary chunk frames (length-prefixed connections only) carry transfer bytes without JSON or base64. Their payload
starts with ``BINARY_MARKER`` (0xB1), a byte no JSON document can start with (it is a UTF-8 continuation byte), so
the framing layer is unchanged and a frame tells what it is by its first byte::

    offset  size  field
    0       1     marker 0xB1
    1       1     kind: 1 = upload chunk (client to server), 2 = download chunk (server to client)
    2       1     n, length of the transfer id (1..64)
    3       4     request id, uint32 big-endian (upload chunks: echoed as the answer's "id"; 0 = none)
    7       4     seq, uint32 big-endian
    11      n     transfer id, ASCII (upload_id or download_id)
    11+n    rest  the chunk's raw bytes (their length is the frame length minus 11 + n)
"""

from __future__ import annotations

import enum
import struct

_LENGTH = struct.Struct("!I")
_NDJSON_FIRST_BYTES = frozenset(b"{ \t\r\n")
_HEAD = 64  # first bytes of an oversized NDJSON frame kept for the error answer

BINARY_MARKER = 0xB1
BINARY_UPLOAD_CHUNK = 1
BINARY_DOWNLOAD_CHUNK = 2
_BINARY_HEADER = struct.Struct("!BBBII")
BINARY_HEADER_SIZE = _BINARY_HEADER.size  # without the transfer id
MAX_TRANSFER_ID = 64
_BINARY_KINDS = frozenset((BINARY_UPLOAD_CHUNK, BINARY_DOWNLOAD_CHUNK))


class Framing(enum.Enum):
    NDJSON = "ndjson"
    LENGTH_PREFIXED = "length"


class FrameTooLarge(Exception):
    """A frame (announced or accumulated) exceeds the configured maximum."""

    def __init__(self, size: int, limit: int, head: bytes = b"") -> None:
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit
        self.head = head  # the frame's first bytes (NDJSON), so the answer can be in the protocol it began in


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


class BadBinaryFrame(ValueError):
    """A frame that starts with the binary marker but is not a well-formed binary chunk frame."""

    def __init__(self, message: str, req_id: int | None = None) -> None:
        super().__init__(message)
        self.req_id = req_id


class BinaryChunk:
    """One decoded binary chunk frame; ``data`` is a view into the frame (no copy)."""

    __slots__ = ("kind", "req_id", "seq", "transfer_id", "data")

    def __init__(self, kind: int, req_id: int, seq: int, transfer_id: str, data: memoryview) -> None:
        self.kind = kind
        self.req_id = req_id
        self.seq = seq
        self.transfer_id = transfer_id
        self.data = data


def is_binary_frame(payload: bytes | bytearray | memoryview) -> bool:
    """True for a payload that claims to be a binary chunk (decode it with ``decode_binary``)."""
    return len(payload) > 0 and payload[0] == BINARY_MARKER


def binary_header(kind: int, transfer_id: str, seq: int, req_id: int = 0) -> bytes:
    """The binary chunk header (marker .. transfer id) to put before ``data``; no length prefix."""
    tid = transfer_id.encode("ascii")
    if not 0 < len(tid) <= MAX_TRANSFER_ID:
        raise ValueError(f"transfer id of {len(tid)} bytes (1..{MAX_TRANSFER_ID} allowed)")
    return _BINARY_HEADER.pack(BINARY_MARKER, kind, len(tid), req_id, seq) + tid


def binary_frame_prefix(kind: int, transfer_id: str, seq: int, data_len: int, req_id: int = 0) -> bytes:
    """Length prefix plus binary header of a chunk of ``data_len`` bytes: send it, then the bytes themselves
    (this is what lets a file's bytes go to the socket without passing through Python)."""
    header = binary_header(kind, transfer_id, seq, req_id)
    return _LENGTH.pack(len(header) + data_len) + header


def encode_binary_frame(
    kind: int, transfer_id: str, seq: int, data: bytes | memoryview, req_id: int = 0
) -> bytes:
    """A whole length-prefixed binary chunk frame."""
    return b"".join((binary_frame_prefix(kind, transfer_id, seq, len(data), req_id), data))


def decode_binary(payload: bytes) -> BinaryChunk:
    """Parse a binary chunk frame's payload; ``BadBinaryFrame`` (carrying the request id when it was readable)."""
    if len(payload) < BINARY_HEADER_SIZE:
        raise BadBinaryFrame(
            f"binary frame of {len(payload)} bytes is shorter than its {BINARY_HEADER_SIZE}-byte header"
        )
    marker, kind, id_len, req_id, seq = _BINARY_HEADER.unpack_from(payload)
    if marker != BINARY_MARKER:
        raise BadBinaryFrame("not a binary frame")
    if kind not in _BINARY_KINDS:
        raise BadBinaryFrame(f"unknown binary frame kind {kind}", req_id or None)
    end = BINARY_HEADER_SIZE + id_len
    if id_len == 0 or id_len > MAX_TRANSFER_ID or len(payload) < end:
        raise BadBinaryFrame(f"bad transfer id length {id_len} in a binary frame", req_id or None)
    try:
        transfer_id = payload[BINARY_HEADER_SIZE:end].decode("ascii")
    except UnicodeDecodeError:
        raise BadBinaryFrame("the transfer id of a binary frame is not ASCII", req_id or None) from None
    return BinaryChunk(kind, req_id, seq, transfer_id, memoryview(payload)[end:])


class FrameDecoder:
    """Incremental decoder: ``feed`` bytes as they arrive, get complete frame payloads back.

    The framing is sniffed from the first byte unless given. Blank NDJSON lines are skipped.
    """

    __slots__ = ("framing", "max_frame", "max_line", "_buf", "_need", "_head", "_parts", "_have")

    def __init__(self, max_frame: int, framing: Framing | None = None, max_line: int | None = None) -> None:
        self.framing = framing
        self.max_frame = max_frame
        self.max_line = (
            max_frame if max_line is None else max_line
        )  # NDJSON lines (seed 003's uploads are long)
        self._buf = bytearray()  # NDJSON: the line in progress
        self._need = -1  # length-prefixed: payload length of the frame in progress, -1 = reading header
        self._head = bytearray()  # length-prefixed: a length prefix cut by the end of a read
        self._parts: list[memoryview] = []  # length-prefixed: pieces of the payload in progress
        self._have = 0  # bytes in ``_parts``

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame (non-zero at EOF means a cut-off frame)."""
        return len(self._buf) + len(self._head) + self._have + (4 if self._need >= 0 else 0)

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
            if len(line) > self.max_line:
                raise FrameTooLarge(len(line), self.max_line, bytes(line[:_HEAD]))
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
            if nl - start > self.max_line:
                raise FrameTooLarge(nl - start, self.max_line, bytes(buf[start : start + _HEAD]))
            line = bytes(buf[start:nl])
            start = scan = nl + 1
            if not _blank(line):
                frames.append(line)
        if start:
            del buf[:start]
        if len(buf) > self.max_line:
            raise FrameTooLarge(len(buf), self.max_line, bytes(buf[:_HEAD]))
        return frames

    def _feed_length(self, data: bytes) -> list[bytes]:
        # Large frames (transfer chunks) arrive over several reads: their pieces are kept as views of the reads and
        # joined once, and a frame that lies whole in one read is cut out of it, so each byte is copied at most once.
        if type(data) is not bytes:
            data = bytes(data)  # views below must not see the caller's buffer change
        frames: list[bytes] = []
        view = memoryview(data)
        n = len(data)
        pos = 0
        while pos < n:
            if self._need < 0:
                head = self._head
                if head or n - pos < 4:
                    take = min(4 - len(head), n - pos)
                    head += view[pos : pos + take]
                    pos += take
                    if len(head) < 4:
                        break
                    (size,) = _LENGTH.unpack(head)
                    head.clear()
                else:
                    (size,) = _LENGTH.unpack_from(data, pos)
                    pos += 4
                if size > self.max_frame:
                    raise FrameTooLarge(size, self.max_frame)
                self._need = size
            need = self._need
            if self._parts:
                take = min(need - self._have, n - pos)
                self._parts.append(view[pos : pos + take])
                self._have += take
                pos += take
                if self._have < need:
                    break
                frames.append(b"".join(self._parts))
                self._parts = []
                self._have = 0
            elif n - pos >= need:
                frames.append(data if pos == 0 and need == n else bytes(view[pos : pos + need]))
                pos += need
            else:
                self._parts.append(view[pos:])
                self._have = n - pos
                break
            self._need = -1
        return frames

"""Sans-I/O framing: bytes in, frames out. No sockets or asyncio here."""

from playhub.wire.framing import (
    BINARY_DOWNLOAD_CHUNK,
    BINARY_UPLOAD_CHUNK,
    BadBinaryFrame,
    BinaryChunk,
    FrameDecoder,
    FrameTooLarge,
    Framing,
    decode_binary,
    encode_binary_frame,
    encode_frame,
    is_binary_frame,
    sniff_framing,
)

__all__ = [
    "BINARY_DOWNLOAD_CHUNK",
    "BINARY_UPLOAD_CHUNK",
    "BadBinaryFrame",
    "BinaryChunk",
    "FrameDecoder",
    "FrameTooLarge",
    "Framing",
    "decode_binary",
    "encode_binary_frame",
    "encode_frame",
    "is_binary_frame",
    "sniff_framing",
]

"""Sans-I/O framing: bytes in, frames out. No sockets or asyncio here."""

from playhub.wire.framing import (
    FrameDecoder,
    FrameTooLarge,
    Framing,
    encode_frame,
    sniff_framing,
)

__all__ = ["FrameDecoder", "FrameTooLarge", "Framing", "encode_frame", "sniff_framing"]

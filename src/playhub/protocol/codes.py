"""Status codes of the wire protocol (seed 000, plus 106 from DESIGN.md)."""

from __future__ import annotations

import enum


class Code(enum.IntEnum):
    OK = 0
    INVALID_REQUEST = 100
    UNAUTHORIZED = 101
    FORBIDDEN = 102
    NOT_FOUND = 103
    CONFLICT = 104
    BAD_STATE = 105
    RATE_LIMITED = 106
    CHUNK_OUT_OF_ORDER = 120
    CHECKSUM_MISMATCH = 121
    SERVER_ERROR = 199

"""Package checksums on the wire: SHA-256 as lowercase hex, ``sha256:`` prefix optional on input, never on output."""

from __future__ import annotations

import re

from playhub.protocol.errors import InvalidRequest

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def normalize_checksum(value: str) -> str:
    """``sha256:<hex>`` or ``<hex>``, any case and spacing → lowercase hex (not checked: stored values)."""
    return value.strip().lower().removeprefix("sha256:")


def parse_checksum(value: str | None) -> str | None:
    """A client's checksum, normalised; 100 when it is not a SHA-256 digest."""
    if value is None:
        return None
    text = normalize_checksum(value)
    if not _SHA256_HEX.fullmatch(text):
        raise InvalidRequest(
            "checksum must be a SHA-256 digest: 64 hex digits, optionally prefixed by 'sha256:'"
        )
    return text

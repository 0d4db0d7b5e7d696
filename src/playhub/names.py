"""The one rule for comparing user and game names.

Two names that look the same to a person must collide: ``Alice`` and ``alice``, or ``ﬁre`` and ``fire``. Every
uniqueness check, rate-limit key and lookup by name goes through :func:`name_key` so they all agree.
"""

from __future__ import annotations

import re
import unicodedata


def name_key(name: str) -> str:
    """Fold ``name`` for comparison: Unicode NFKC, then case folding."""
    return unicodedata.normalize("NFKC", name).casefold()


# Characters that change how a terminal shows text rather than being shown: C0 and C1 controls (ESC starts colour,
# cursor and screen-clearing sequences; C1 CSI does the same alone), DEL, and the bidirectional overrides and isolates
# that make text display in an order other than the one stored ("Trojan Source").
UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def find_unsafe(text: str, *, multiline: bool = False) -> str | None:
    """The first control or bidi-override character in ``text`` (newlines and tabs allowed when ``multiline``)."""
    m = (_UNSAFE_EXCEPT_LINES if multiline else UNSAFE_CHARS).search(text)
    return m.group() if m else None

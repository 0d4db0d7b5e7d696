"""The one rule for comparing user and game names.

Two names that look the same to a person must collide: ``Alice`` and ``alice``, or ``ﬁre`` and ``fire``. Every
uniqueness check, rate-limit key and lookup by name goes through :func:`name_key` so they all agree.
"""

from __future__ import annotations

import unicodedata


def name_key(name: str) -> str:
    """Fold ``name`` for comparison: Unicode NFKC, then case folding."""
    return unicodedata.normalize("NFKC", name).casefold()

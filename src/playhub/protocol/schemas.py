"""Typed payload schemas shared by every area. Unknown fields are refused (code 100) everywhere.

Area-specific schemas live beside this module (``protocol/publishing.py``, ``protocol/store.py``,
``protocol/lobby.py``) and derive from ``Payload``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

# Every integer field of a request is bounded to a signed 64-bit value, what SQLite and the services can hold, so an
# out-of-range number is a 100 at the edge rather than an overflow deeper in (services still check their own
# ranges, with messages naming them). ``tests/test_wire_limits.py`` checks that no request schema has a bare ``int``.
Int64 = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]


class Payload(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every request payload."""


class Empty(Payload):
    pass


class GameRef(Payload):
    """``{"game_id"}``: the payload of every command about one game (publishing, store and lobby)."""

    game_id: str


class Credentials(Payload):
    username: str
    password: str

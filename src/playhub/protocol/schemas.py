"""Typed payload schemas shared by every area. Unknown fields are refused (code 100) everywhere.

Area-specific schemas live beside this module (``protocol/publishing.py``, ``protocol/store.py``,
``protocol/lobby.py``) and derive from ``Payload``.
"""

from __future__ import annotations

import msgspec


class Payload(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every request payload."""


class Empty(Payload):
    pass


class Credentials(Payload):
    username: str
    password: str

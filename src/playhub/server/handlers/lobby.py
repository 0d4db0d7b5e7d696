"""Handlers of the lobby area."""

from __future__ import annotations

from playhub.server.router import Routes

routes = Routes()

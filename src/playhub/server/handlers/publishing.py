"""Handlers of the publishing area."""

from __future__ import annotations

from playhub.server.router import Routes

routes = Routes()

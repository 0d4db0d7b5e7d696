"""Thin handlers, one module per area. Each module exposes ``routes`` and may define ``startup(app)`` and
``shutdown(app)`` coroutines that attach and close its services."""

from playhub.server.handlers import accounts, admin, lobby, publishing, store

AREAS = [accounts, publishing, store, lobby, admin]

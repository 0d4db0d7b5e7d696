"""Thin handlers, one module per area. Each module exposes ``routes`` and may define ``startup(app)`` and
``shutdown(app)`` coroutines that attach and close its services."""

from playhub.server.handlers import accounts, lobby, p2p, publishing, store

AREAS = [accounts, publishing, store, lobby, p2p]

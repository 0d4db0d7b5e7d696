"""Thin handlers, one module per area. Each module only declares its commands on ``routes``; the services they call
are built by the composition root (server/app.py) and reach them as ``ctx.app``."""

from playhub.server.handlers import accounts, admin, chat, lobby, p2p, publishing, store

AREAS = [accounts, publishing, store, lobby, chat, admin, p2p]

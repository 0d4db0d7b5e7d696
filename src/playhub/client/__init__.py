"""Async client library for PlayHub: used by the CLIs, the TUI, the SDK, the tests and the benchmarks."""

from playhub.client.connection import Client, ConnectionLost
from playhub.client.discovery import ServerAddress, resolve_address

__all__ = ["Client", "ConnectionLost", "ServerAddress", "resolve_address"]

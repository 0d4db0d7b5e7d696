"""PlayHub: a self-hosted platform for small multiplayer games."""

__version__ = "0.1.0"

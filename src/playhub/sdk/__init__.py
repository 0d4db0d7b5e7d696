"""Helpers for game authors. See ``docs/games.md``."""

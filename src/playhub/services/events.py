"""A tiny in-process event bus so services can react to each other's changes without importing each other.

Events used: ``catalog_changed`` (game_id) after any write to games/versions; ``review_changed`` (game_id);
``game_played`` (game_id, player_ids). Listeners are plain callables and must not block.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger("playhub.events")


class EventBus:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[..., None]]] = defaultdict(list)

    def on(self, event: str, listener: Callable[..., None]) -> None:
        self._listeners[event].append(listener)

    def emit(self, event: str, *args: Any) -> None:
        for listener in self._listeners.get(event, ()):
            try:
                listener(*args)
            except Exception:  # one broken listener must not break the writer that emitted
                log.exception("listener for %s failed", event)

"""Guards for code that runs after a screen may have gone: a worker's answer or a push can arrive after the player
left the screen, when its widgets no longer exist."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from textual.screen import Screen

F = TypeVar("F", bound=Callable[..., Any])


def is_gone(screen: Screen[Any]) -> bool:
    """True once a screen is being taken down (its widgets may already be gone)."""
    return not screen.is_attached or not screen.display


def drawing(method: F) -> F:
    """For methods that draw into the screen: skipped once the screen is being taken down, because a worker's
    answer or a push can arrive after the player left the screen."""

    @functools.wraps(method)
    def wrapper(self: Screen[Any], *args: Any, **kwargs: Any) -> Any:
        if is_gone(self):
            return None
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]

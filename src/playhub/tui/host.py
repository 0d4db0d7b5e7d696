"""What the player app offers its screens, as a protocol, so that screens depend on it and not on ``tui.app``.

``PlayerApp`` (``tui/app.py``) is the one implementation. It imports every screen and registers the ones that are
opened from elsewhere by name (``open_screen("room", room_id, room)``); a screen never imports another screen's
module, nor the app's, so the package has no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from textual.screen import Screen

from playhub.client import ServerAddress
from playhub.tui.launcher import GameStart
from playhub.tui.session import PlayerSession

ProgressCallback = Callable[[int, int], None]


class PlayerHost(Protocol):
    address: ServerAddress
    session: PlayerSession
    library: Any  # the logged-in player's LocalLibrary (None before login)
    rooms: dict[str, dict[str, Any]]  # last known state of every room seen
    current_room_id: str | None
    games_running: set[str]
    initial_credentials: tuple[str | None, str | None]
    lobby_poll_s: float

    # navigation
    def open_screen(self, name: str, *args: Any, **kwargs: Any) -> Screen[Any]: ...

    # account and connection
    async def ensure_connected(self) -> None: ...
    def after_login(self) -> None: ...
    def log_out(self, reason: str = "") -> Any: ...

    # local library
    def describe_error(self, exc: BaseException) -> str: ...
    async def download(
        self, game_id: str, version: str | None = None, *, progress: ProgressCallback | None = None
    ) -> Any: ...
    def installed_version(self, name: str) -> str | None: ...
    async def remove_local(self, name: str, version: str | None = None) -> None: ...

    # rooms and games
    def create_room_flow(self, game: dict[str, Any]) -> Any: ...
    def join_room_flow(self, room: dict[str, Any]) -> Any: ...
    async def leave_room(self, room_id: str) -> None: ...
    def start_game(self, start: GameStart) -> None: ...
    def rejoin_match(self, room_id: str) -> Any: ...

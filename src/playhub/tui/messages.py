"""Messages the player app sends to its screens (declared once, handled where they matter).

None of them bubble: the app posts a copy to each screen, and a screen that ignores one must not hand it back.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from playhub.tui.session import StateChange


class ServerPush(Message, bubble=False):
    """A push from the server (ROOM_UPDATED, PLAYER_PRESENCE, VOTE_RESULT, GAME_ENDED...), forwarded to screens."""

    def __init__(self, type_: str, payload: dict[str, Any]) -> None:
        super().__init__()
        self.type = type_
        self.payload = payload


class ConnectionChanged(Message, bubble=False):
    """The session went offline, is reconnecting, or is back (screens refresh what they show when it is back)."""

    def __init__(self, change: StateChange) -> None:
        super().__init__()
        self.change = change


class GameFinished(Message, bubble=False):
    """The game client of a room exited; ``summary`` is the short result shown in the room."""

    def __init__(self, room_id: str, summary: str, ok: bool) -> None:
        super().__init__()
        self.room_id = room_id
        self.summary = summary
        self.ok = ok

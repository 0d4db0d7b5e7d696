"""Who is online in the lobby, and the PLAYER_PRESENCE deltas that tell everyone when that changes.

Fed by the session registry's events: a login or a resumed connection makes a player online; a logout, a dropped
connection or an expired session makes them offline. Only real changes are announced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playhub.services.sessions import Principal, Role, SessionRegistry

# (recipients, event name, data): delivered by the lobby handlers, which own the wire.
Deliver = Callable[[list[Principal], str, dict[str, Any]], None]

_ONLINE_EVENTS = frozenset({"login", "resume"})
_OFFLINE_EVENTS = frozenset({"logout", "disconnect", "expire"})


class PresenceService:
    def __init__(self, sessions: SessionRegistry, deliver: Deliver) -> None:
        self.sessions = sessions
        self.deliver = deliver
        self._online: set[str] = set()
        sessions.subscribe(self._on_session)

    def online_players(self) -> list[str]:
        return sorted(p.username for p in self.sessions.online(Role.PLAYER))

    def _on_session(self, event: str, principal: Principal) -> None:
        if principal.role is not Role.PLAYER:
            return
        name = principal.username
        if event in _ONLINE_EVENTS and name not in self._online:
            self._online.add(name)
            self._announce({"online": [name], "offline": []})
        elif event in _OFFLINE_EVENTS and name in self._online:
            current = self.sessions.by_username(Role.PLAYER, name)
            if event != "logout" and current is not None and current is not principal and current.online:
                return  # an older session of someone who is online again on a newer one
            self._online.discard(name)
            self._announce({"online": [], "offline": [name]})

    def _announce(self, delta: dict[str, list[str]]) -> None:
        self.deliver(self.sessions.online(Role.PLAYER), "PLAYER_PRESENCE", delta)

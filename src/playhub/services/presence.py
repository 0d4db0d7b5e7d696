"""Who is online in the lobby, and the PLAYER_PRESENCE deltas that tell everyone when that changes.

Fed by the session registry's events: a login or a resumed connection makes a player online; a logout, a dropped
connection or an expired session makes them offline. Only real changes are announced.

Changes are gathered for ``batch_s`` and announced as one delta (same push, lists of names): when 1,000 players log back
in after a restart, each online player receives a few pushes rather than 1,000. A name that goes offline and back
online within one batch is not announced at all.
"""

from __future__ import annotations

import asyncio

from playhub.protocol.pushes import PlayerPresence
from playhub.services.bus import Audience, PushBus
from playhub.services.sessions import Principal, Role, SessionRegistry

_ONLINE_EVENTS = frozenset({"login", "resume"})
_OFFLINE_EVENTS = frozenset({"logout", "disconnect", "expire"})


class PresenceService:
    def __init__(self, sessions: SessionRegistry, bus: PushBus, batch_s: float = 0.0) -> None:
        self.sessions = sessions
        self.bus = bus
        self.batch_s = batch_s
        self._online: set[str] = set()
        self._pending: dict[str, bool] = {}  # name -> was it online in the last announcement
        self._flush_handle: asyncio.TimerHandle | None = None
        sessions.subscribe(self._on_session)

    def online_players(self) -> list[str]:
        return sorted(p.username for p in self.sessions.online(Role.PLAYER))

    def _on_session(self, event: str, principal: Principal) -> None:
        if principal.role is not Role.PLAYER:
            return
        name = principal.username
        if event in _ONLINE_EVENTS and name not in self._online:
            self._online.add(name)
            self._changed(name, online=True)
        elif event in _OFFLINE_EVENTS and name in self._online:
            current = self.sessions.by_username(Role.PLAYER, name)
            if event != "logout" and current is not None and current is not principal and current.online:
                return  # an older session of someone who is online again on a newer one
            self._online.discard(name)
            self._changed(name, online=False)

    def _changed(self, name: str, *, online: bool) -> None:
        if self.batch_s <= 0:
            self._announce(PlayerPresence([name] if online else [], [] if online else [name]))
            return
        if name not in self._pending:
            self._pending[name] = not online
        elif self._pending[name] == online:
            del self._pending[name]  # back where the last announcement left it
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(self.batch_s, self.flush)

    def flush(self) -> None:
        """Announce the gathered changes now."""
        self._flush_handle = None
        pending, self._pending = self._pending, {}
        online = sorted(name for name, was_online in pending.items() if not was_online)
        offline = sorted(name for name, was_online in pending.items() if was_online)
        if online or offline:
            self._announce(PlayerPresence(online, offline))

    def _announce(self, delta: PlayerPresence) -> None:
        self.bus.publish(Audience.users(p.username for p in self.sessions.online(Role.PLAYER)), delta)

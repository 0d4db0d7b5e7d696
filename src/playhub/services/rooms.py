"""Rooms, assembled: the seats, the start flow and the match lifecycle of every room, built together.

All room state lives in memory (seed 003 chose the same: a restart closes every room and stops its game server).

- ``room_states``: the transition table, its guards and side state (pure);
- ``room_seats.SeatService``: the rooms and their members, watchers and subscribers; announces every change;
- ``room_start.StartService``: ready marks, START_ROOM, the start vote, launching the game server;
- ``matches.MatchService``: a running match, how it ends (finished, exited, unresponsive, abandoned), rejoining it.

``RoomService`` only builds the three in the order they depend on each other and closes them; handlers call the
service that does the job.
"""

from __future__ import annotations

from collections.abc import Callable

from playhub.services.bus import PushBus
from playhub.services.events import EventBus
from playhub.services.matches import MatchService, Spawn
from playhub.services.room_seats import SeatService
from playhub.services.room_start import StartService
from playhub.services.room_states import Room
from playhub.services.sessions import SessionRegistry
from playhub.services.votes import VoteService
from playhub.settings import Settings
from playhub.store.blobs import BlobStore
from playhub.store.db import Database
from playhub.supervisor import Supervisor


class RoomService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        blobs: BlobStore,
        sessions: SessionRegistry,
        supervisor: Supervisor,
        votes: VoteService,
        bus: PushBus,
        spawn: Spawn,
        lobby_port: Callable[[], int],
        events: EventBus | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.seats = SeatService(settings, db, blobs, sessions, bus)
        self.matches = MatchService(settings, db, self.seats, supervisor, spawn, events)
        self.start_flow = StartService(settings, self.seats, self.matches, votes, supervisor, spawn, lobby_port)

    @property
    def rooms(self) -> dict[str, Room]:
        """Every open room by id."""
        return self.seats.rooms

    async def close(self) -> None:
        self.seats.close_all()
        await self.matches.close()

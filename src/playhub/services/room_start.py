"""The start flow of a room: ready marks, the host's START_ROOM, the start vote, and launching the game server.

Guards and state changes are ``room_states``'; this service runs the steps in order, owns the vote and hands a game
server that listens to the match lifecycle (``MatchService.begin``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from playhub.protocol.errors import BadState
from playhub.protocol.pushes import VoteRequest, VoteResult
from playhub.services import room_states as rs
from playhub.services.matches import MatchPass, MatchService
from playhub.services.room_seats import SeatService
from playhub.services.room_states import Member, Room
from playhub.services.sessions import Principal
from playhub.services.votes import Vote, VoteService
from playhub.settings import Settings
from playhub.supervisor import SpawnFailed, Supervisor

log = logging.getLogger("playhub.rooms")

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


class StartService:
    def __init__(
        self,
        settings: Settings,
        seats: SeatService,
        matches: MatchService,
        votes: VoteService,
        supervisor: Supervisor,
        spawn: Spawn,
        lobby_port: Callable[[], int],
    ) -> None:
        self.settings = settings
        self.seats = seats
        self.matches = matches
        self.votes = votes
        self.supervisor = supervisor
        self.spawn = spawn
        self.lobby_port = lobby_port
        seats.on_departure.append(self._cancel_vote)

    # --- ready marks -----------------------------------------------------------------------------------------
    def set_ready(self, user: Principal, room_id: str, ready: bool) -> Room:
        room = self.seats.get(room_id)
        rs.set_ready(room, user.username, ready)
        self.seats.announce(room)
        return room

    # --- the vote --------------------------------------------------------------------------------------------
    def vote(self, user: Principal, seq: int, accept: bool) -> None:
        self.votes.cast(seq, user.username, accept)

    def _cancel_vote(self, room: Room, member: Member, why: str) -> None:
        """A member left during the vote: the start is off."""
        if room.vote_seq is None:
            return
        vote = self.votes.get(room.vote_seq)
        if vote is not None:
            self.votes.cancel(vote, f"{member.username} {why}")

    # --- starting --------------------------------------------------------------------------------------------
    async def start(self, user: Principal, room_id: str) -> MatchPass:
        """The host's START_ROOM: vote, spawn, answer. Runs in a task owned by the app, so a host whose connection
        drops does not leave the room half-started; the caller only waits for the answer."""
        room = self.seats.get(room_id)
        host = user.username
        # Everything up to the first await happens at once, so two START_ROOMs cannot both pass the checks.
        others = rs.start(room, host)
        if not others:
            self.seats.announce(room)
            return await asyncio.shield(self.spawn(self._launch(room, host)))
        timeout_s = self.settings.vote_timeout_s
        vote = self.votes.open("START_ROOM", room.room_id, host, set(others), timeout_s)
        rs.vote_opened(room, vote.seq)
        self.seats.tell(others, VoteRequest(vote.seq, "START_ROOM", room.room_id, host, timeout_s))
        self.seats.announce(room)
        return await asyncio.shield(self.spawn(self._after_vote(room, host, others, vote)))

    async def _after_vote(self, room: Room, host: str, others: list[str], vote: Vote) -> MatchPass:
        try:
            outcome = await vote.wait()
        finally:
            rs.vote_closed(room)
            self.votes.close(vote)
        result = VoteResult(vote.seq, room.room_id, outcome.accepted, outcome.reason)
        self.seats.tell([*room.names(), *others, host], result)
        if not outcome.accepted:
            if rs.vote_decided(room, False):
                self.seats.announce(room)
            raise BadState(f"the start vote failed: {outcome.reason}")
        rs.vote_decided(room, True)
        self.seats.announce(room)
        return await self._launch(room, host)

    async def _launch(self, room: Room, host: str) -> MatchPass:
        secret = secrets.token_hex(32)
        try:
            server = await self.supervisor.spawn(
                room_id=room.room_id,
                game_name=room.game_name,
                version=room.version,
                folder=room.folder,
                entry_server=room.entry_server,
                players=room.names(),
                room_secret=secret,
                lobby_port=self.lobby_port(),
            )
        except Exception as exc:
            # Whatever went wrong (no interpreter, no uid, a full disk...), the room must not stay STARTING.
            if not isinstance(exc, SpawnFailed):
                log.exception("starting the game server of room %s failed", room.room_id)
            reason = f"the game server failed to start: {exc}"
            if rs.server_failed(room):
                self.seats.announce(room, reason=reason)
            raise BadState(reason) from None
        if not rs.still_starting(room):  # everyone left while it was starting
            await server.stop(self.settings.game_server_abort_grace_s)
            raise BadState(f"room '{room.room_id}' closed while its game server was starting")
        return await self.matches.begin(room, server, secret, host)

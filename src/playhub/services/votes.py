"""Blocking votes (seed 001 story 6, seed 003 propose/respond).

A vote has a ``seq``, a set of voters and a deadline. The initiator awaits :meth:`Vote.wait`, which resolves as soon
as every voter accepted, one refused, the deadline passed, or the vote was cancelled (a voter left). Voters answer
through :meth:`VoteService.cast`. The service knows nothing of rooms or sockets.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from dataclasses import dataclass, field

from playhub.protocol.errors import BadState, Forbidden, NotFound


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    accepted: bool
    reason: str  # "accepted", "refused by <name>", "timed out waiting for <names>", or why it was cancelled
    refused_by: str | None = None
    missing: tuple[str, ...] = ()


@dataclass(eq=False, slots=True)
class Vote:
    seq: int
    action: str
    subject: str  # what the vote is about (a room id)
    by: str
    voters: frozenset[str]
    timeout_s: float
    accepted: set[str] = field(default_factory=set)
    _future: asyncio.Future[VoteOutcome] | None = None

    def _resolve(self, outcome: VoteOutcome) -> None:
        assert self._future is not None
        if not self._future.done():
            self._future.set_result(outcome)

    @property
    def decided(self) -> bool:
        return self._future is not None and self._future.done()

    async def wait(self) -> VoteOutcome:
        """Block until the vote is decided; a timeout is an outcome, not an exception."""
        assert self._future is not None
        try:
            return await asyncio.wait_for(asyncio.shield(self._future), self.timeout_s)
        except TimeoutError:
            missing = tuple(sorted(self.voters - self.accepted))
            self._resolve(
                VoteOutcome(
                    False,
                    f"timed out after {self.timeout_s:g} s waiting for {', '.join(missing)}",
                    None,
                    missing,
                )
            )
            return self._future.result()


class VoteService:
    def __init__(self, memory: int) -> None:
        """``memory``: how many decided votes are remembered, so that a late VOTE answers "already decided"
        (BAD_STATE) rather than "no such vote" (NOT_FOUND); setting ``vote_memory``."""
        self.memory = memory
        self._seq = itertools.count(1)
        self._open: dict[int, Vote] = {}
        self._decided: OrderedDict[int, None] = OrderedDict()

    def open(self, action: str, subject: str, by: str, voters: set[str], timeout_s: float) -> Vote:
        vote = Vote(next(self._seq), action, subject, by, frozenset(voters), timeout_s)
        vote._future = asyncio.get_running_loop().create_future()
        self._open[vote.seq] = vote
        if not voters:
            vote._resolve(VoteOutcome(True, "accepted"))
        return vote

    def close(self, vote: Vote) -> None:
        """Forget a decided vote (the initiator calls this once it acted on the outcome)."""
        if not vote.decided:
            vote._resolve(VoteOutcome(False, "cancelled"))
        if self._open.pop(vote.seq, None) is not None:
            self._decided[vote.seq] = None
            if len(self._decided) > self.memory:
                self._decided.popitem(last=False)

    def cancel(self, vote: Vote, reason: str) -> None:
        vote._resolve(VoteOutcome(False, reason))

    def cast(self, seq: int, voter: str, accept: bool) -> Vote:
        """Record one answer. NOT_FOUND unknown seq, FORBIDDEN not a voter, BAD_STATE already voted or decided."""
        vote = self._open.get(seq)
        if vote is None:
            if seq in self._decided:
                raise BadState(f"vote {seq} is already decided")
            raise NotFound(f"no vote with seq {seq}")
        if voter not in vote.voters:
            raise Forbidden(f"you are not a voter in vote {seq}")
        if vote.decided:
            raise BadState(f"vote {seq} is already decided")
        if voter in vote.accepted:
            raise BadState(f"you already voted in vote {seq}")
        if not accept:
            vote._resolve(VoteOutcome(False, f"refused by {voter}", refused_by=voter))
            return vote
        vote.accepted.add(voter)
        if vote.accepted >= vote.voters:
            vote._resolve(VoteOutcome(True, "accepted"))
        return vote

    def get(self, seq: int) -> Vote | None:
        return self._open.get(seq)

    def voters_pending(self, vote: Vote) -> set[str]:
        return set(vote.voters - vote.accepted)

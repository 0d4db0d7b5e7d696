"""Pig, the push-your-luck dice game, with no I/O.

Players take turns in a fixed order. On your turn you roll a die as often as you like, adding each roll to your turn
total; you may hold at any time to bank the turn total. Rolling a 1 loses the turn total and ends your turn. The first
player whose banked score reaches the target wins at once. Players who leave are skipped; the last one left wins.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TARGET = 50
MIN_PLAYERS = 3


class IllegalMove(ValueError):
    """An action the rules do not allow now; the message is shown to the player."""


@dataclass
class PigGame:
    players: list[str]
    target: int = DEFAULT_TARGET
    rng: random.Random = field(default_factory=random.Random)
    min_players: int = MIN_PLAYERS
    scores: dict[str, int] = field(init=False)
    active: list[str] = field(init=False)  # still in the game, in turn order
    current: str = field(init=False)
    turn_total: int = field(init=False, default=0)
    rolls: list[int] = field(init=False, default_factory=list)  # this turn's rolls
    turns: int = field(init=False, default=1)
    last_event: str = field(init=False, default="")
    winner: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if len(self.players) < self.min_players or len(set(self.players)) != len(self.players):
            raise ValueError(f"Pig needs at least {self.min_players} different players")
        if self.target < 1:
            raise ValueError("the target must be positive")
        self.scores = dict.fromkeys(self.players, 0)
        self.active = list(self.players)
        self.current = self.active[0]

    @property
    def over(self) -> bool:
        return self.winner is not None

    def _check_turn(self, player: str) -> None:
        if self.over:
            raise IllegalMove("the game is over")
        if player != self.current:
            raise IllegalMove(f"it is {self.current}'s turn")

    def _next_turn(self) -> None:
        i = self.active.index(self.current)
        self.current = self.active[(i + 1) % len(self.active)]
        self.turn_total = 0
        self.rolls = []
        self.turns += 1

    def roll(self, player: str, die: int | None = None) -> int:
        """``player`` rolls (``die`` forces the value, for tests). Returns the value rolled."""
        self._check_turn(player)
        value = die if die is not None else self.rng.randint(1, 6)
        if not 1 <= value <= 6:
            raise ValueError("a die shows 1 to 6")
        self.rolls.append(value)
        if value == 1:
            lost = self.turn_total
            self.last_event = f"{player} rolled a 1 and lost {lost} point{'s' * (lost != 1)}"
            self._next_turn()
        else:
            self.turn_total += value
            self.last_event = f"{player} rolled {value} (turn total {self.turn_total})"
        return value

    def hold(self, player: str) -> None:
        """``player`` banks the turn total; reaching the target wins."""
        self._check_turn(player)
        banked = self.turn_total
        self.scores[player] += banked
        self.last_event = f"{player} held and banked {banked} (score {self.scores[player]})"
        if self.scores[player] >= self.target:
            self.winner = player
            self.last_event += f": {player} reaches {self.target} and wins"
            return
        self._next_turn()

    def remove(self, player: str) -> None:
        """``player`` left: skipped from now on; the last player left wins."""
        if player not in self.active or self.over:
            return
        if player == self.current:
            self._next_turn()
        self.active.remove(player)
        self.last_event = f"{player} left the game"
        if len(self.active) == 1:
            self.winner = self.active[0]
            self.last_event += f"; {self.winner} is the last player and wins"

    def state(self) -> dict[str, Any]:
        return {
            "scores": dict(self.scores),
            "order": list(self.players),
            "active": list(self.active),
            "current": None if self.over else self.current,
            "turn_total": self.turn_total,
            "rolls": list(self.rolls),
            "target": self.target,
            "turn": self.turns,
            "event": self.last_event,
            "winner": self.winner,
        }

    def summary(self) -> str:
        if self.winner is None:
            return "game not finished"
        ranking = sorted(self.players, key=lambda p: -self.scores[p])
        table = ", ".join(f"{p} {self.scores[p]}" for p in ranking)
        return f"{self.winner} wins after {self.turns} turns ({table})"

    def results(self) -> dict[str, Any]:
        return {"winner": self.winner, "scores": dict(self.scores), "summary": self.summary()}

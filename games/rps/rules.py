"""Rock-paper-scissors rules, with no I/O: a best-of-N match between two players."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MOVES = ("rock", "paper", "scissors")
BEATS = {"rock": "scissors", "paper": "rock", "scissors": "paper"}  # key beats value
SHORTCUTS = {"r": "rock", "p": "paper", "s": "scissors"}


def parse_move(text: str) -> str | None:
    """'r', 'rock', ' Rock ' -> 'rock'; anything else -> None."""
    word = text.strip().lower()
    word = SHORTCUTS.get(word, word)
    return word if word in MOVES else None


def round_winner(moves: dict[str, str]) -> str | None:
    """The player whose move beats the other's, or None on a tie."""
    (a, move_a), (b, move_b) = moves.items()
    if move_a == move_b:
        return None
    return a if BEATS[move_a] == move_b else b


@dataclass
class Match:
    """Best of ``best_of`` rounds: the first to win ``best_of // 2 + 1`` rounds takes the match. Tied rounds do not
    count, but at most ``max_rounds`` rounds are played (default 5 × best_of) so that a match always ends."""

    players: list[str]
    best_of: int = 3
    max_rounds: int = 0
    scores: dict[str, int] = field(init=False)
    history: list[dict[str, Any]] = field(init=False, default_factory=list)
    forfeited_by: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if len(self.players) != 2 or self.players[0] == self.players[1]:
            raise ValueError("rock-paper-scissors needs two different players")
        if self.best_of < 1 or self.best_of % 2 == 0:
            raise ValueError("best_of must be a positive odd number")
        self.max_rounds = self.max_rounds or 5 * self.best_of
        self.scores = dict.fromkeys(self.players, 0)

    @property
    def needed(self) -> int:
        return self.best_of // 2 + 1

    @property
    def round(self) -> int:
        """Number of the next round (1-based)."""
        return len(self.history) + 1

    @property
    def over(self) -> bool:
        return (
            self.forfeited_by is not None
            or max(self.scores.values()) >= self.needed
            or len(self.history) >= self.max_rounds
        )

    def play(self, moves: dict[str, str]) -> str | None:
        """Record one round; returns its winner (None on a tie)."""
        if self.over:
            raise ValueError("the match is over")
        if set(moves) != set(self.players) or any(m not in MOVES for m in moves.values()):
            raise ValueError(f"need one of {MOVES} from each of {self.players}")
        ordered = {p: moves[p] for p in self.players}
        winner = round_winner(ordered)
        if winner is not None:
            self.scores[winner] += 1
        self.history.append({"round": self.round, "moves": ordered, "winner": winner})
        return winner

    def forfeit(self, player: str) -> None:
        """``player`` left or stopped answering: the other one wins the match."""
        if player not in self.players:
            raise ValueError(f"{player} is not in this match")
        self.forfeited_by = player

    def opponent(self, player: str) -> str:
        return self.players[1] if player == self.players[0] else self.players[0]

    @property
    def winner(self) -> str | None:
        if self.forfeited_by is not None:
            return self.opponent(self.forfeited_by)
        a, b = self.players
        if self.scores[a] == self.scores[b]:
            return None
        return a if self.scores[a] > self.scores[b] else b

    def summary(self) -> str:
        a, b = self.players
        score = f"{self.scores[a]}-{self.scores[b]}"
        if self.forfeited_by is not None:
            return f"{self.winner} wins by forfeit ({self.forfeited_by} left) at {score}"
        if self.winner is None:
            return f"draw at {score} after {len(self.history)} rounds"
        return f"{self.winner} wins {a} {score} {b} in {len(self.history)} rounds"

    def results(self) -> dict[str, Any]:
        """The results object reported to PlayHub."""
        return {"winner": self.winner, "scores": dict(self.scores), "summary": self.summary()}

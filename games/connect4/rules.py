"""Connect Four rules, with no I/O: a 7-column, 6-row grid, discs fall to the lowest free cell, four in a line wins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROWS, COLS, LINE = 6, 7, 4
EMPTY = 0
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))  # right, down, down-right, down-left


class IllegalMove(ValueError):
    """A move the rules do not allow; the message is shown to the player."""


def new_grid() -> list[list[int]]:
    """``grid[row][col]``; row 0 is the top row. 0 is empty, 1 and 2 are the two players' discs."""
    return [[EMPTY] * COLS for _ in range(ROWS)]


def legal_columns(grid: list[list[int]]) -> list[int]:
    return [c for c in range(COLS) if grid[0][c] == EMPTY]


def drop(grid: list[list[int]], col: int, disc: int) -> int:
    """Put ``disc`` in ``col``; returns the row it lands in. Raises IllegalMove for a bad or full column."""
    if type(col) is not int or not 0 <= col < COLS:
        raise IllegalMove(f"column must be 0-{COLS - 1}")
    for row in range(ROWS - 1, -1, -1):
        if grid[row][col] == EMPTY:
            grid[row][col] = disc
            return row
    raise IllegalMove(f"column {col + 1} is full")


def winning_line(grid: list[list[int]]) -> list[tuple[int, int]]:
    """The cells of a line of four of one disc, or [] if there is none."""
    for r in range(ROWS):
        for c in range(COLS):
            disc = grid[r][c]
            if disc == EMPTY:
                continue
            for dr, dc in DIRECTIONS:
                cells = [(r + i * dr, c + i * dc) for i in range(LINE)]
                if all(0 <= rr < ROWS and 0 <= cc < COLS and grid[rr][cc] == disc for rr, cc in cells):
                    return cells
    return []


@dataclass
class Game:
    """A match between ``players[0]`` (disc 1, moves first) and ``players[1]`` (disc 2)."""

    players: list[str]
    grid: list[list[int]] = field(default_factory=new_grid)
    turn: int = 0  # index into players
    moves: list[tuple[str, int]] = field(default_factory=list)
    line: list[tuple[int, int]] = field(default_factory=list)
    forfeited_by: str | None = None

    def __post_init__(self) -> None:
        if len(self.players) != 2 or self.players[0] == self.players[1]:
            raise ValueError("Connect Four needs two different players")

    def disc_of(self, player: str) -> int:
        return self.players.index(player) + 1

    @property
    def current(self) -> str:
        return self.players[self.turn]

    @property
    def over(self) -> bool:
        return bool(self.line) or self.forfeited_by is not None or not legal_columns(self.grid)

    @property
    def winner(self) -> str | None:
        if self.forfeited_by is not None:
            return self.players[1 - self.players.index(self.forfeited_by)]
        if self.line:
            r, c = self.line[0]
            return self.players[self.grid[r][c] - 1]
        return None

    def play(self, player: str, col: int) -> int:
        """``player`` drops a disc in ``col``; returns the row. Raises IllegalMove."""
        if self.over:
            raise IllegalMove("the game is over")
        if player != self.current:
            raise IllegalMove(f"it is {self.current}'s turn")
        row = drop(self.grid, col, self.disc_of(player))
        self.moves.append((player, col))
        self.line = winning_line(self.grid)
        if not self.line:
            self.turn = 1 - self.turn
        return row

    def forfeit(self, player: str) -> None:
        if player not in self.players:
            raise ValueError(f"{player} is not in this game")
        if not self.over:
            self.forfeited_by = player

    def summary(self) -> str:
        if self.forfeited_by is not None:
            return f"{self.winner} wins: {self.forfeited_by} left after {len(self.moves)} moves"
        if self.winner is not None:
            return f"{self.winner} connects four in {len(self.moves)} moves"
        return f"draw: the grid is full after {len(self.moves)} moves"

    def results(self) -> dict[str, Any]:
        winner = self.winner
        scores = {p: (1 if p == winner else 0) for p in self.players}
        if winner is None and self.forfeited_by is None:
            scores = {p: 0.5 for p in self.players}
        return {"winner": winner, "scores": scores, "summary": self.summary()}

    def state(self) -> dict[str, Any]:
        """What clients draw: the grid, whose turn it is, the last move, and the winning line once there is one."""
        return {
            "grid": [row[:] for row in self.grid],
            "turn": None if self.over else self.current,
            "last_move": list(self.moves[-1]) if self.moves else None,
            "line": [list(cell) for cell in self.line],
            "over": self.over,
        }

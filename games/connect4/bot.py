"""Connect Four bot: same env contract as client.py, plays by itself (no window).

It wins when it can, blocks the opponent's immediate win, and otherwise prefers central columns.
CONNECT4_BOT_SEED makes its choices repeatable.
"""

from __future__ import annotations

import os
import random
import sys

from rules import COLS, drop, legal_columns, winning_line

from playhub.sdk import PlayerContext, connect_to_game_sync


def choose(grid: list[list[int]], mine: int, rng: random.Random) -> int:
    legal = legal_columns(grid)
    theirs = 3 - mine
    for disc in (mine, theirs):  # win first, then block
        for col in legal:
            trial = [row[:] for row in grid]
            drop(trial, col, disc)
            if winning_line(trial):
                return col
    centre = (COLS - 1) / 2
    return (
        min(legal, key=lambda c: (abs(c - centre), rng.random())) if rng.random() < 0.6 else rng.choice(legal)
    )


def main() -> int:
    me = PlayerContext.from_env()
    rng = random.Random(os.environ.get("CONNECT4_BOT_SEED") or None)
    conn, _ = connect_to_game_sync(me)
    mine = 0
    with conn:
        while (msg := conn.recv()) is not None:
            if msg["type"] == "START":
                mine = msg["discs"][me.username]
            elif msg["type"] == "STATE" and msg["turn"] == me.username:
                conn.send({"type": "MOVE", "column": choose(msg["grid"], mine, rng)})
            elif msg["type"] == "GAME_OVER":
                print(f"{me.username}: {msg['summary']}")
                return 0
    print(f"{me.username}: connection closed before the end")
    return 1


if __name__ == "__main__":
    sys.exit(main())

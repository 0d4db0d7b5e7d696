"""Rock-paper-scissors bot: same env contract as client.py, plays by itself.

RPS_BOT_MOVES="rock,paper" makes it cycle through fixed moves (tests); otherwise it picks at random.
"""

from __future__ import annotations

import itertools
import os
import random
import sys

from rules import MOVES

from playhub.sdk import PlayerContext, connect_to_game_sync


def main() -> int:
    me = PlayerContext.from_env()
    fixed = [m.strip() for m in os.environ.get("RPS_BOT_MOVES", "").split(",") if m.strip()]
    moves = itertools.cycle(fixed) if fixed else None
    conn, _ = connect_to_game_sync(me)
    with conn:
        while (msg := conn.recv()) is not None:
            if msg["type"] in ("ROUND", "ERROR"):
                conn.send({"type": "MOVE", "move": next(moves) if moves else random.choice(MOVES)})
            elif msg["type"] == "GAME_OVER":
                print(f"{me.username}: {msg['summary']}")
                return 0
    print(f"{me.username}: connection closed before the end")
    return 1


if __name__ == "__main__":
    sys.exit(main())

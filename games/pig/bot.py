"""Pig bot: same env contract as client.py, plays by itself.

It rolls until its turn total reaches PIG_BOT_HOLD (default 15) or would win, then holds.
"""

from __future__ import annotations

import os
import sys

from playhub.sdk import PlayerContext, connect_to_game_sync


def main() -> int:
    me = PlayerContext.from_env()
    hold_at = int(os.environ.get("PIG_BOT_HOLD", "15"))
    conn, _ = connect_to_game_sync(me)
    with conn:
        while (msg := conn.recv()) is not None:
            if msg["type"] == "STATE" and msg["current"] == me.username:
                total, banked = msg["turn_total"], msg["scores"][me.username]
                done = total >= hold_at or banked + total >= msg["target"]
                conn.send({"type": "HOLD" if done else "ROLL"})
            elif msg["type"] == "GAME_OVER":
                print(f"{me.username}: {msg['summary']}")
                return 0
    print(f"{me.username}: connection closed before the end")
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""Pig terminal client. Started by the PlayHub player app with the game's env (see README.md)."""

from __future__ import annotations

import sys
from typing import Any

from playhub.sdk import GameRejected, PlayerContext, ServerSpoke, ask, connect_to_game_sync
from playhub.sdk.jsonl import LineSocket

DIE_FACES = {1: "⚀", 2: "⚁", 3: "⚂", 4: "⚃", 5: "⚄", 6: "⚅"}


def scoreboard(state: dict[str, Any], me: str) -> str:
    lines = []
    for p in state["order"]:
        marker = "▶" if p == state["current"] else " "
        gone = "  (left)" if p not in state["active"] else ""
        you = " (you)" if p == me else ""
        bar = "█" * (state["scores"][p] * 20 // state["target"])
        lines.append(f"  {marker} {p + you:<20} {state['scores'][p]:>3}  {bar}{gone}")
    return "\n".join(lines)


def ask_action(conn: LineSocket) -> str | None:
    """ROLL or HOLD; None at end of input; "" when the server spoke first (someone left, the match ended)."""
    while True:
        try:
            text = ask(conn, "  [r]oll or [h]old? ")
        except ServerSpoke:
            return ""
        if text is None:
            return None
        text = text.strip().lower()
        if text in ("r", "roll", ""):
            return "ROLL"
        if text in ("h", "hold"):
            return "HOLD"
        print("  type r to roll, h to hold")


def main() -> int:
    me = PlayerContext.from_env()
    print(f"Pig — connecting to {me.host}:{me.port} as {me.username} ...")
    try:
        conn, welcome = connect_to_game_sync(me)
    except GameRejected as exc:
        print(f"The game server refused you: {exc.reason}")
        return 1
    except OSError as exc:
        print(f"Cannot reach the game server: {exc}")
        return 1
    with conn:
        print(f"Joined. Players: {', '.join(welcome['players'])}. Waiting for everyone ...")
        while (msg := conn.recv()) is not None:
            kind = msg.get("type")
            if kind == "START":
                print(f"\nPig: first to {msg['target']} wins. Turn order: {' → '.join(msg['players'])}")
                print("Roll as long as you like; a 1 loses the points of your turn. Hold to bank them.")
            elif kind == "STATE":
                if msg["event"]:
                    last = (
                        msg["rolls"][-1] if msg["rolls"] else (1 if " rolled a 1" in msg["event"] else None)
                    )
                    face = f"{DIE_FACES[last]}  " if last and " rolled " in msg["event"] else ""
                    print(f"\n  {face}{msg['event']}")
                if msg["current"] == me.username:
                    if not msg["rolls"]:
                        print(f"\n{scoreboard(msg, me.username)}\n\n  Your turn!")
                    else:
                        print(f"  turn total {msg['turn_total']} — banked {msg['scores'][me.username]}")
                    action = ask_action(conn)
                    if action is None:
                        return 1
                    if action:
                        conn.send({"type": action})
                elif not msg["rolls"] and msg["current"]:
                    print(f"\n{scoreboard(msg, me.username)}\n\n  {msg['current']} is playing ...")
            elif kind == "ERROR":
                print(f"  {msg.get('reason')}")
            elif kind == "GAME_OVER":
                verdict = "You win!" if msg["winner"] == me.username else f"{msg['winner']} wins."
                print(f"\n{verdict}  {msg['summary']}")
                return 0
    print("The game server closed the connection.")
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C: leave the game (the server counts it as a forfeit)
        print("\nYou left the game.")
        sys.exit(130)

"""Rock-paper-scissors terminal client. Started by the PlayHub player app with the game's env (see README.md)."""

from __future__ import annotations

import sys

from rules import parse_move

from playhub.sdk import GameRejected, PlayerContext, ServerSpoke, ask, connect_to_game_sync
from playhub.sdk.jsonl import LineSocket

ICONS = {"rock": "✊ rock", "paper": "✋ paper", "scissors": "✌ scissors"}
SERVER = "server"  # the server spoke while we were asking (e.g. the opponent left and the match is over)


def ask_move(conn: LineSocket) -> str | None:
    while True:
        try:
            text = ask(conn, "  your move — [r]ock, [p]aper, [s]cissors: ")
        except ServerSpoke:
            return SERVER
        if text is None:
            return None
        move = parse_move(text)
        if move:
            return move
        print("  please type r, p or s")


def main() -> int:
    me = PlayerContext.from_env()
    print(f"Rock Paper Scissors — connecting to {me.host}:{me.port} as {me.username} ...")
    try:
        conn, welcome = connect_to_game_sync(me)
    except GameRejected as exc:
        print(f"The game server refused you: {exc.reason}")
        return 1
    except OSError as exc:
        print(f"Cannot reach the game server: {exc}")
        return 1
    opponent = "your opponent"
    with conn:
        print(f"Joined. Players: {', '.join(welcome['players'])}. Waiting for everyone ...")
        while True:
            msg = conn.recv()
            if msg is None:
                print("The game server closed the connection.")
                return 1
            kind = msg.get("type")
            if kind == "START":
                opponent = next((p for p in msg["players"] if p != me.username), opponent)
                print(f"\nYou ({me.username}) vs {opponent} — best of {msg['best_of']}.")
            elif kind == "ROUND":
                s = msg["scores"]
                print(
                    f"\nRound {msg['round']}   score: you {s.get(me.username, 0)} – {s.get(opponent, 0)} {opponent}"
                )
                move = ask_move(conn)
                if move is None:
                    return 1
                if move != SERVER:
                    conn.send({"type": "MOVE", "move": move})
                print(f"  waiting for {opponent} ...")
            elif kind == "ERROR":
                print(f"  {msg.get('reason')}")
                move = ask_move(conn)
                if move is None:
                    return 1
                if move != SERVER:
                    conn.send({"type": "MOVE", "move": move})
            elif kind == "RESULT":
                mine, theirs = msg["moves"][me.username], msg["moves"][opponent]
                verdict = (
                    "tie"
                    if msg["winner"] is None
                    else ("you win" if msg["winner"] == me.username else f"{opponent} wins")
                )
                print(f"  you: {ICONS[mine]}   {opponent}: {ICONS[theirs]}   → {verdict} the round")
            elif kind == "GAME_OVER":
                outcome = (
                    "It's a draw."
                    if msg["winner"] is None
                    else (
                        "You win the match!"
                        if msg["winner"] == me.username
                        else f"{msg['winner']} wins the match."
                    )
                )
                print(f"\n{outcome}  ({msg['summary']})")
                return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C: leave the game (the server counts it as a forfeit)
        print("\nYou left the game.")
        sys.exit(130)

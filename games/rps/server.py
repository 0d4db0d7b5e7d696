"""Rock-paper-scissors game server: authoritative, two players, best of N.

Messages (JSON lines, after the SDK's HELLO/WELCOME handshake):
  server -> clients  START {players, best_of}
                     ROUND {round, scores}            ask every player for a move
                     RESULT {round, moves, winner, scores}
                     ERROR {reason}                   the move was not understood; send another
                     GAME_OVER {winner, scores, summary}
  client -> server   MOVE {move: "rock" | "paper" | "scissors"}

Settings (env): RPS_BEST_OF (default 3), RPS_MOVE_TIMEOUT seconds (default 120; a player who does not answer forfeits),
RPS_JOIN_TIMEOUT seconds (default 120).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from rules import MOVES, Match, parse_move

from playhub.sdk import RoomContext, accept_players, broadcast, close_all, jsonl

log = logging.getLogger("rps")


async def read_move(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str | None:
    """The player's next valid move, or None if they left. Invalid messages get an ERROR and another chance."""
    while True:
        try:
            msg = await jsonl.recv(reader)
        except jsonl.ProtocolError:
            msg = {}
        if msg is None:
            return None
        move = parse_move(str(msg.get("move", ""))) if msg.get("type") == "MOVE" else None
        if move is not None:
            return move
        await jsonl.send(writer, {"type": "ERROR", "reason": f"send MOVE with one of {', '.join(MOVES)}"})


async def play(ctx: RoomContext, best_of: int, move_timeout: float, join_timeout: float) -> int:
    try:
        players = await accept_players(ctx, count=len(ctx.players) or 2, timeout=join_timeout)
    except TimeoutError as exc:
        log.warning("%s", exc)
        await ctx.areport_finished({"winner": None, "scores": {}, "summary": f"cancelled: {exc}"})
        return 3
    names = list(players)
    match = Match(names, best_of)
    await broadcast(players, {"type": "START", "players": names, "best_of": best_of})
    while not match.over:
        await broadcast(players, {"type": "ROUND", "round": match.round, "scores": match.scores})
        tasks = {
            name: asyncio.create_task(asyncio.wait_for(read_move(*players[name]), move_timeout))
            for name in names
        }
        # Stop waiting as soon as someone leaves or times out: the other player should not wait for nothing.
        owner = {task: name for name, task in tasks.items()}
        quitter: str | None = None
        pending = set(tasks.values())
        while pending and quitter is None:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            quitter = next((owner[t] for t in done if t.exception() is not None or t.result() is None), None)
        for t in pending:
            t.cancel()
        if quitter is not None:
            log.info("%s left or did not answer in time", quitter)
            match.forfeit(quitter)
            break
        moves = {name: task.result() for name, task in tasks.items()}
        winner = match.play(moves)
        await broadcast(
            players,
            {
                "type": "RESULT",
                "round": match.round - 1,
                "moves": moves,
                "winner": winner,
                "scores": match.scores,
            },
        )
    results = match.results()
    log.info("%s", results["summary"])
    await broadcast(players, {"type": "GAME_OVER", **results})
    await close_all(players)
    await ctx.areport_finished(results)
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[rps server] %(message)s")
    ctx = RoomContext.from_env()
    best_of = int(os.environ.get("RPS_BEST_OF", "3"))
    move_timeout = float(os.environ.get("RPS_MOVE_TIMEOUT", "120"))
    join_timeout = float(os.environ.get("RPS_JOIN_TIMEOUT", "120"))
    log.info(
        "room %s on %s:%d, players %s, best of %d", ctx.room_id, ctx.host, ctx.port, ctx.players, best_of
    )
    return asyncio.run(play(ctx, best_of, move_timeout, join_timeout))


if __name__ == "__main__":
    sys.exit(main())

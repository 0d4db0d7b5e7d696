"""Connect Four game server: authoritative, two players, one disc per turn.

Messages (JSON lines, after the SDK's HELLO/WELCOME handshake):
  server -> clients  START {players, discs: {name: 1|2}}       players[0] moves first
                     STATE {grid, turn, last_move, line, over} after every change; grid[row][col], row 0 on top
                     ERROR {reason}                             an illegal or out-of-turn move
                     GAME_OVER {winner, scores, summary, grid, line}
  client -> server   MOVE {column: 0..6}

Settings (env): CONNECT4_TURN_TIMEOUT seconds (default 300; a player who does not move forfeits),
CONNECT4_JOIN_TIMEOUT seconds (default 120).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from rules import Game, IllegalMove

from playhub.sdk import Inbox, RoomContext, accept_players, broadcast, close_all, jsonl

log = logging.getLogger("connect4")


async def play(ctx: RoomContext, turn_timeout: float, join_timeout: float) -> int:
    try:
        players = await accept_players(ctx, count=len(ctx.players) or 2, timeout=join_timeout)
    except TimeoutError as exc:
        log.warning("%s", exc)
        await ctx.areport_finished({"winner": None, "scores": {}, "summary": f"cancelled: {exc}"})
        return 3
    game = Game(list(players))
    await broadcast(
        players,
        {"type": "START", "players": game.players, "discs": {p: game.disc_of(p) for p in game.players}},
    )
    await broadcast(players, {"type": "STATE", **game.state()})
    async with Inbox(players) as inbox:
        while not game.over:
            try:
                name, msg = await inbox.get(turn_timeout)
            except TimeoutError:
                log.info("%s did not move in time", game.current)
                game.forfeit(game.current)
                break
            if msg is None:
                log.info("%s left", name)
                game.forfeit(name)
                break
            if msg.get("type") != "MOVE":
                await jsonl.send(players[name][1], {"type": "ERROR", "reason": "send MOVE {column}"})
                continue
            try:
                game.play(name, msg.get("column"))  # type: ignore[arg-type]
            except IllegalMove as exc:
                await jsonl.send(players[name][1], {"type": "ERROR", "reason": str(exc)})
                continue
            await broadcast(players, {"type": "STATE", **game.state()})
    results = game.results()
    log.info("%s", results["summary"])
    await broadcast(
        players, {"type": "GAME_OVER", **results, "grid": game.grid, "line": game.state()["line"]}
    )
    await close_all(players)
    await ctx.areport_finished(results)
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[connect4 server] %(message)s")
    ctx = RoomContext.from_env()
    turn_timeout = float(os.environ.get("CONNECT4_TURN_TIMEOUT", "300"))
    join_timeout = float(os.environ.get("CONNECT4_JOIN_TIMEOUT", "120"))
    log.info("room %s on %s:%d, players %s", ctx.room_id, ctx.host, ctx.port, ctx.players)
    return asyncio.run(play(ctx, turn_timeout, join_timeout))


if __name__ == "__main__":
    sys.exit(main())

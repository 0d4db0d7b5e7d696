"""Pig game server: authoritative dice for 3 to 6 players, turns in the room's member order.

Messages (JSON lines, after the SDK's HELLO/WELCOME handshake):
  server -> clients  START {players, target}
                     STATE {scores, order, active, current, turn_total, rolls, target, turn, event, winner}
                     ERROR {reason}
                     GAME_OVER {winner, scores, summary}
  client -> server   ROLL {}  |  HOLD {}              only from the current player

Settings (env): PIG_TARGET (default 50), PIG_TURN_TIMEOUT seconds (default 60; an idle player holds automatically),
PIG_JOIN_TIMEOUT seconds (default 120), PIG_SEED (repeatable dice, for tests), PIG_PLAYERS (player count for a
local run without PlayHub, default 3).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys

from rules import IllegalMove, PigGame

from playhub.sdk import Inbox, RoomContext, accept_players, broadcast, close_all, jsonl

log = logging.getLogger("pig")


async def play(ctx: RoomContext, game_args: dict, turn_timeout: float, join_timeout: float) -> int:
    count = len(ctx.players) or int(os.environ.get("PIG_PLAYERS", "3"))
    try:
        players = await accept_players(ctx, count=count, timeout=join_timeout)
    except TimeoutError as exc:
        log.warning("%s", exc)
        await ctx.areport_finished({"winner": None, "scores": {}, "summary": f"cancelled: {exc}"})
        return 3
    game = PigGame(list(players), **game_args)
    await broadcast(players, {"type": "START", "players": game.players, "target": game.target})
    await broadcast(players, {"type": "STATE", **game.state()})
    async with Inbox(players) as inbox:
        while not game.over:
            try:
                name, msg = await inbox.get(turn_timeout)
            except TimeoutError:
                log.info("%s is idle: automatic hold", game.current)
                game.hold(game.current)
                await broadcast(players, {"type": "STATE", **game.state()})
                continue
            if msg is None:
                log.info("%s left", name)
                game.remove(name)
                players.pop(name)
                await broadcast(players, {"type": "STATE", **game.state()})
                continue
            kind = msg.get("type")
            try:
                if kind == "ROLL":
                    game.roll(name)
                elif kind == "HOLD":
                    game.hold(name)
                else:
                    raise IllegalMove("send ROLL or HOLD")
            except IllegalMove as exc:
                await jsonl.send(players[name][1], {"type": "ERROR", "reason": str(exc)})
                continue
            await broadcast(players, {"type": "STATE", **game.state()})
    results = game.results()
    log.info("%s", results["summary"])
    await broadcast(players, {"type": "GAME_OVER", **results})
    await close_all(players)
    await ctx.areport_finished(results)
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[pig server] %(message)s")
    ctx = RoomContext.from_env()
    seed = os.environ.get("PIG_SEED")
    game_args = {"target": int(os.environ.get("PIG_TARGET", "50")), "rng": random.Random(seed)}
    turn_timeout = float(os.environ.get("PIG_TURN_TIMEOUT", "60"))
    join_timeout = float(os.environ.get("PIG_JOIN_TIMEOUT", "120"))
    log.info("room %s on %s:%d, players %s", ctx.room_id, ctx.host, ctx.port, ctx.players)
    return asyncio.run(play(ctx, game_args, turn_timeout, join_timeout))


if __name__ == "__main__":
    sys.exit(main())

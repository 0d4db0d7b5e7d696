"""What the platform adds to a match: the Rock Paper Scissors sample game played K times directly, then K times
through ``playhub serve``.

Baseline: the game server and two bots as subprocesses with a hand-built room env (the bots start once the server
listens, as under the platform); the server reports to a small listener that answers like the lobby. Time = from
starting the server to receiving its GAME_FINISHED.

PlayHub: the game is published once; each match is START_ROOM (with the start vote) → the platform spawns the server
and answers once it listens → GAME_STARTED pushes → two bots launched with the env of GAME_STARTED → GAME_ENDED at
both players. Time = from sending START_ROOM to the last GAME_ENDED.

    python bench/games_bench.py --matches 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from bench.common import REPO, env, start_playhub  # noqa: E402
from playhub.client import Client  # noqa: E402
from playhub.client.publishing import publish_folder  # noqa: E402
from playhub.sdk import jsonl, player_ticket  # noqa: E402

GAME = REPO / "games" / "rps"
PLAYERS = ["ann", "bob"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def spawn(script: str, extra: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        script,
        cwd=GAME,
        env={**env(), **extra},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def direct_match() -> float:
    done = asyncio.Event()

    async def lobby(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await jsonl.recv(reader) is not None:
            await jsonl.send(writer, {"status": "ok", "code": 0, "message": "ok", "payload": {}})
            done.set()
        await jsonl.close(writer)

    sink = await asyncio.start_server(lobby, "127.0.0.1", 0)
    room, secret, port = "bench", secrets.token_hex(16), free_port()
    game_env = {"GAME_HOST": "127.0.0.1", "GAME_PORT": str(port), "ROOM_ID": room}
    t0 = time.perf_counter()
    server = await spawn(
        "server.py",
        {
            **game_env,
            "LOBBY_HOST": "127.0.0.1",
            "LOBBY_PORT": str(sink.sockets[0].getsockname()[1]),
            "PLAYHUB_ROOM_SECRET": secret,
            "PLAYHUB_PLAYERS": ",".join(PLAYERS),
        },
    )
    # Like the platform: start the clients once the server listens (else they sit in connect retries).
    while True:
        try:
            _, probe = await asyncio.open_connection("127.0.0.1", port)
            probe.close()
            break
        except OSError:
            await asyncio.sleep(0.01)
    bots = [
        await spawn(
            "bot.py", {**game_env, "PLAYER_USERNAME": p, "PLAYHUB_TICKET": player_ticket(secret, room, p)}
        )
        for p in PLAYERS
    ]
    await asyncio.wait_for(done.wait(), 30)
    elapsed = time.perf_counter() - t0
    for proc in (server, *bots):
        await proc.wait()
    sink.close()
    return elapsed


class Platform:
    """``playhub serve`` with the game published and two players in one room."""

    async def open(self, data_dir: Path) -> Platform:
        self.proc, ports = await asyncio.to_thread(start_playhub, data_dir)
        async with await Client.connect("127.0.0.1", ports["developer_port"]) as dev:
            await dev.register_dev("benchdev", "bench-password")
            game_id = (await publish_folder(dev, GAME))["game_id"]
        self.host = await Client.connect("127.0.0.1", ports["lobby_port"])
        self.guest = await Client.connect("127.0.0.1", ports["lobby_port"])
        await self.host.register_player(PLAYERS[0], "bench-password")
        await self.guest.register_player(PLAYERS[1], "bench-password")
        self.room_id = (await self.host.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
        await self.guest.request("JOIN_ROOM", {"room_id": self.room_id})
        self.votes = self.guest.subscribe("VOTE_REQUEST")
        self.started = {
            p: c.subscribe("GAME_STARTED") for p, c in zip(PLAYERS, (self.host, self.guest), strict=True)
        }
        self.ended = [c.subscribe("GAME_ENDED") for c in (self.host, self.guest)]
        return self

    async def match(self) -> float:
        t0 = time.perf_counter()
        pending = asyncio.ensure_future(self.host.request("START_ROOM", {"room_id": self.room_id}))
        vote = (await asyncio.wait_for(self.votes.get(), 10))["payload"]
        await self.guest.request("VOTE", {"seq": vote["seq"], "accept": True})
        await pending
        bots = []
        for p in PLAYERS:
            s: dict[str, Any] = (await asyncio.wait_for(self.started[p].get(), 10))["payload"]
            game_env = {
                "GAME_HOST": s["game_host"],
                "GAME_PORT": str(s["game_port"]),
                "ROOM_ID": s["room_id"],
            }
            bots.append(
                await spawn("bot.py", {**game_env, "PLAYER_USERNAME": p, "PLAYHUB_TICKET": s["ticket"]})
            )
        for q in self.ended:
            await asyncio.wait_for(q.get(), 30)
        elapsed = time.perf_counter() - t0
        for b in bots:
            await b.wait()
        return elapsed

    async def close(self) -> None:
        await self.host.close()
        await self.guest.close()
        self.proc.terminate()
        await asyncio.to_thread(self.proc.wait, 15)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matches", type=int, default=10)
    args = parser.parse_args()
    direct: list[float] = []
    platform: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        hub = await Platform().open(Path(tmp) / "data")
        try:
            for _ in range(args.matches):  # alternate, so that load changes on the machine hit both alike
                direct.append(await direct_match())
                platform.append(await hub.match())
        finally:
            await hub.close()
    d, p = statistics.median(direct), statistics.median(platform)
    print(
        json.dumps(
            {
                "matches": args.matches,
                "direct_median_s": round(d, 3),
                "platform_median_s": round(p, 3),
                "platform_overhead_ms": round((p - d) * 1000),
                "ratio_direct_over_platform": round(d / p, 2),
                "direct_all_s": [round(x, 3) for x in direct],
                "platform_all_s": [round(x, 3) for x in platform],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())

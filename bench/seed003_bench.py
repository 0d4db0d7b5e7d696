"""Seed 003's door: request rate in seed 003's one-connection-per-request pattern, and the game relay's round trip.

Runs ``playhub serve`` and the raw baseline (``bench/baseline_server.py``) as subprocesses, then:

1. per-request connections (what seed 003's clients do: connect, one line, one answer, close), ``--connections``
   clients in a closed loop for ``--seconds``: the baseline answering ``{"id"}`` vs PlayHub answering
   ``{"kind": "list_rooms", "token"}``;
2. kept-alive connections: seed 003's ``list_rooms`` vs PlayHub's own ``LIST_ROOMS`` on the same server (the cost of
   the door itself);
3. a running match of a one-player echo game: line round trips through the room's relay (the address seed 003's
   clients get) vs straight to the game server.

Usage: python bench/seed003_bench.py [--seconds 3] [--connections 20] [--round-trips 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench.common import env, start_playhub, use_fast_loop  # noqa: E402

ECHO_SERVER = r"""
import asyncio, os
async def handle(r, w):
    while line := await r.readline():
        w.write(line)
        await w.drain()
    w.close()
async def main():
    srv = await asyncio.start_server(handle, os.environ["GAME_HOST"], int(os.environ["GAME_PORT"]))
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
"""


async def call(port: int, obj: dict) -> dict:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(json.dumps(obj).encode() + b"\n")
    line = await reader.readline()
    writer.close()
    return json.loads(line)


async def per_request(port: int, line: bytes, connections: int, seconds: float) -> float:
    count = 0
    stop_at = 0.0

    async def one() -> None:
        nonlocal count
        while time.perf_counter() < stop_at:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(line)
            if not await reader.readline():
                raise ConnectionError("no answer")
            writer.close()
            count += 1

    stop_at = time.perf_counter() + min(1.0, seconds / 4)  # warm-up
    await asyncio.gather(*(one() for _ in range(connections)))
    count = 0
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    await asyncio.gather(*(one() for _ in range(connections)))
    return count / (time.perf_counter() - t0)


async def kept_alive(port: int, line: bytes, connections: int, seconds: float) -> float:
    count = 0
    stop_at = 0.0

    async def one() -> None:
        nonlocal count
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
        while time.perf_counter() < stop_at:
            writer.write(line)
            if not await reader.readline():
                raise ConnectionError("no answer")
            count += 1
        writer.close()

    stop_at = time.perf_counter() + min(1.0, seconds / 4)
    await asyncio.gather(*(one() for _ in range(connections)))
    count = 0
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    await asyncio.gather(*(one() for _ in range(connections)))
    return count / (time.perf_counter() - t0)


async def round_trips(host: str, port: int, n: int) -> list[float]:
    reader, writer = await asyncio.open_connection(host, port)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        writer.write(b'{"n": %d}\n' % i)
        await reader.readline()
        times.append(time.perf_counter() - t0)
    writer.close()
    return times


def echo_package() -> str:
    manifest = {
        "name": "echo",
        "display_name": "Echo",
        "type": "cli",
        "max_players": 1,
        "entry_server": "server.py",
        "entry_client": "client.py",
        "description": "echo",
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        files = (
            ("manifest.json", json.dumps(manifest)),
            ("server.py", ECHO_SERVER),
            ("client.py", "print(1)\n"),
        )
        for name, text in files:
            info = zipfile.ZipInfo(name)
            info.external_attr = (
                0o644 << 16
            )  # readable by the match's own uid, as files zipped from a folder are
            z.writestr(info, text)
    return base64.b64encode(buf.getvalue()).decode()


def start_baseline(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = tmp / "baseline.port"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "baseline_server.py"), str(port_file)], env=env()
    )
    while not port_file.exists() or not port_file.read_text():
        time.sleep(0.05)
    return proc, int(port_file.read_text())


async def main(args: argparse.Namespace, base_port: int, ports: dict[str, int]) -> None:
    dev_port, lobby_port = ports["developer_port"], ports["lobby_port"]
    creds = {"username": "benchdev", "password": "secret-pw"}
    await call(dev_port, {"kind": "register", **creds})
    dev = (await call(dev_port, {"kind": "login", **creds}))["token"]
    up = await call(
        dev_port,
        {
            "kind": "upload_game",
            "token": dev,
            "name": "echo",
            "version": "1.0.0",
            "manifest": {"description": "echo", "type": "cli", "max_players": 1},
            "zip_b64": echo_package(),
        },
    )
    assert up["ok"], up
    creds = {"username": "benchp", "password": "secret-pw"}
    await call(lobby_port, {"kind": "register", **creds})
    token = (await call(lobby_port, {"kind": "login", **creds}))["token"]
    native = {"username": "benchn", "password": "secret-pw"}
    reg = await call(lobby_port, {"type": "REGISTER_PLAYER", "payload": native})
    native_token = reg["payload"]["session_token"]

    base_line = b'{"id": 1}\n'
    seed_line = json.dumps({"kind": "list_rooms", "token": token}).encode() + b"\n"
    native_line = json.dumps({"type": "LIST_ROOMS", "token": native_token}).encode() + b"\n"
    c, s = args.connections, args.seconds
    base_pr = await per_request(base_port, base_line, c, s)
    seed_pr = await per_request(lobby_port, seed_line, c, s)
    native_ka = await kept_alive(lobby_port, native_line, c, s)
    seed_ka = await kept_alive(lobby_port, seed_line, c, s)
    print(
        f"per-request connections: baseline {base_pr:,.0f}/s, seed-003 list_rooms {seed_pr:,.0f}/s, "
        f"ratio {seed_pr / base_pr:.2f}x"
    )
    print(
        f"kept alive: native LIST_ROOMS {native_ka:,.0f}/s, seed-003 list_rooms {seed_ka:,.0f}/s, "
        f"ratio {seed_ka / native_ka:.2f}x"
    )

    room = await call(lobby_port, {"kind": "create_room", "token": token, "game": "echo"})
    assert room["ok"], room
    assert (await call(lobby_port, {"kind": "propose_start", "token": token, "room_id": room["room_id"]}))[
        "ok"
    ]
    game_port = None
    for _ in range(200):
        listed = await call(lobby_port, {"type": "LIST_ROOMS", "token": native_token})
        match = listed["payload"]["rooms"][0].get("match")
        if match:
            game_port = match["game_port"]
            break
        await asyncio.sleep(0.05)
    assert game_port, f"the match did not start: {listed}"
    direct = await round_trips("127.0.0.1", game_port, args.round_trips)
    relayed = await round_trips(room["host"], room["port"], args.round_trips)
    d, r = statistics.median(direct) * 1e6, statistics.median(relayed) * 1e6
    print(
        f"game line round trip (median of {args.round_trips}): direct {d:.0f} us, through the relay "
        f"{r:.0f} us, ratio {r / d:.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--round-trips", type=int, default=2000)
    loop = use_fast_loop()
    print(f"event loop: {loop}")
    with tempfile.TemporaryDirectory() as tmp:
        baseline, base_port = start_baseline(Path(tmp))
        hub, ports = start_playhub(Path(tmp) / "data", "--set", "seed003_requests_per_ip=0")
        try:
            asyncio.run(main(parser.parse_args(), base_port, ports))
        finally:
            hub.terminate()
            baseline.terminate()
            hub.wait(10)
            baseline.wait(10)

"""Rooms and game servers: START_ROOM-to-answer latency, and lobby responsiveness with many rooms playing.

Runs ``playhub serve`` as a subprocess on free ports with a fresh data directory, publishes a trivial game into it
before the start, then:

1. raw baseline: spawn the same trivial game server directly and poll until it accepts TCP (what any supervisor pays);
2. ``--starts`` solo starts (min_players 1, no vote): CREATE_ROOM, START_ROOM (timed), LEAVE_ROOM (stops the server);
3. ``--starts`` two-player starts with an automatic yes vote (START_ROOM timed, vote included);
4. a cheap command's latency (``LIST_PLAYERS``) while idle, then while ``--rooms`` rooms play at once with one game
   client per room exchanging a line every ``--tick`` seconds with its game server.

Usage: python bench/rooms_bench.py [--starts 50] [--rooms 30] [--probes 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from playhub.client import Client  # noqa: E402
from playhub.store.blobs import BlobStore  # noqa: E402
from playhub.store.db import _connect, migrate  # noqa: E402

TRIVIAL_SERVER = r"""
import os, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((os.environ["GAME_HOST"], int(os.environ["GAME_PORT"])))
s.listen(64)
while True:
    c, _ = s.accept()
    f = c.makefile("rwb")
    for line in f:
        f.write(line)
        f.flush()
    c.close()
"""

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


def publish(data: Path, game_id: str, name: str, code: str, max_players: int, min_players: int) -> None:
    manifest = {
        "name": name,
        "display_name": name.title(),
        "type": "cli",
        "max_players": max_players,
        "min_players": min_players,
        "entry_server": "server.py",
        "entry_client": "client.py",
        "description": "benchmark game",
    }
    folder = BlobStore(data).version_dir(game_id, "1.0.0")
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "server.py").write_text(code)
    conn = _connect(data / "playhub.sqlite3")
    try:
        migrate(conn)
        now = time.time()
        if not conn.execute("SELECT 1 FROM accounts WHERE id = 1").fetchone():
            conn.execute(
                "INSERT INTO accounts (id, role, username, password_hash, created_at) "
                "VALUES (1, 'developer', 'bench', 'x', ?)",
                (now,),
            )
        conn.execute(
            "INSERT INTO games (id, developer_id, name, display_name, description, game_type, max_players, "
            "min_players, status, latest_version, created_at, updated_at) "
            "VALUES (?, 1, ?, ?, 'b', 'cli', ?, ?, 'ONLINE', '1.0.0', ?, ?)",
            (game_id, name, name.title(), max_players, min_players, now, now),
        )
        conn.execute(
            "INSERT INTO versions (game_id, version, major, minor, patch, size_bytes, checksum, manifest, "
            "uploaded_at) VALUES (?, '1.0.0', 1, 0, 0, 0, '', ?, ?)",
            (game_id, json.dumps(manifest), now),
        )
    finally:
        conn.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(name: str, ms: list[float]) -> str:
    return (
        f"{name:<44} n={len(ms):<4} p50={pct(ms, 0.5):7.1f} ms  p95={pct(ms, 0.95):7.1f} ms  "
        f"mean={statistics.fmean(ms):7.1f} ms"
    )


def raw_spawn_baseline(code: str, n: int) -> list[float]:
    """Spawn the trivial server directly and poll until it listens: the floor for any START_ROOM."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "server.py"
        script.write_text(code)
        for _ in range(n):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            env = {"PATH": os.environ.get("PATH", ""), "GAME_HOST": "127.0.0.1", "GAME_PORT": str(port)}
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp, env=env, start_new_session=True)
            delay = 0.005
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.5).close()
                    break
                except OSError:
                    time.sleep(delay)
                    delay = min(delay * 1.5, 0.025)  # the supervisor's schedule
            out.append((time.perf_counter() - t0) * 1000)
            proc.kill()
            proc.wait()
    return out


async def login(port: int, name: str) -> Client:
    c = await Client.connect("127.0.0.1", port)
    await c.register_player(name, "bench-password")
    return c


async def solo_starts(port: int, n: int) -> list[float]:
    c = await login(port, "solo")
    out = []
    for _ in range(n):
        room = (await c.request("CREATE_ROOM", {"game_id": "g-solo"}))["room_id"]
        t0 = time.perf_counter()
        await c.request("START_ROOM", {"room_id": room})
        out.append((time.perf_counter() - t0) * 1000)
        await c.request("LEAVE_ROOM", {"room_id": room})
    await c.close()
    return out


async def voted_starts(port: int, n: int) -> list[float]:
    host, guest = await login(port, "host"), await login(port, "guest")

    def auto_yes(_type: str, payload: dict) -> None:
        guest.send_request("VOTE", {"seq": payload["seq"], "accept": True})

    guest.on_push(auto_yes, "VOTE_REQUEST")
    out = []
    for _ in range(n):
        room = (await host.request("CREATE_ROOM", {"game_id": "g-duo"}))["room_id"]
        await guest.request("JOIN_ROOM", {"room_id": room})
        t0 = time.perf_counter()
        await host.request("START_ROOM", {"room_id": room})
        out.append((time.perf_counter() - t0) * 1000)
        await guest.request("LEAVE_ROOM", {"room_id": room})
        await host.request("LEAVE_ROOM", {"room_id": room})
    await host.close()
    await guest.close()
    return out


async def probe(client: Client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await client.request("LIST_PLAYERS")
        out.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.002)
    return out


async def many_rooms(
    port: int, rooms: int, probes: int, tick: float
) -> tuple[list[float], list[float], float, int]:
    watcher = await login(port, "watcher")
    idle = await probe(watcher, probes)
    players = [await login(port, f"player{i}") for i in range(rooms)]
    t0 = time.perf_counter()
    answers = await asyncio.gather(*(_create_and_start(p) for p in players))
    all_started_s = time.perf_counter() - t0
    stop = asyncio.Event()
    exchanged = 0

    async def play(answer: dict) -> None:
        nonlocal exchanged
        r, w = await asyncio.open_connection(answer["game_host"], answer["game_port"])
        while not stop.is_set():
            w.write(b"move\n")
            await w.drain()
            await r.readline()
            exchanged += 1
            await asyncio.sleep(tick)
        w.close()

    games = [asyncio.create_task(play(a)) for a in answers]
    await asyncio.sleep(0.5)
    busy = await probe(watcher, probes)
    stop.set()
    await asyncio.gather(*games)
    for p in players:
        await p.close()
    await watcher.close()
    return idle, busy, all_started_s, exchanged


async def _create_and_start(p: Client) -> dict:
    room = (await p.request("CREATE_ROOM", {"game_id": "g-echo"}))["room_id"]
    return await p.request("START_ROOM", {"room_id": room})


def start_server(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    data = tmp / "data"
    data.mkdir()
    publish(data, "g-solo", "solo", TRIVIAL_SERVER, 1, 1)
    publish(data, "g-duo", "duo", TRIVIAL_SERVER, 2, 2)
    publish(data, "g-echo", "echo", ECHO_SERVER, 1, 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with open(tmp / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "playhub",
                "serve",
                "--data-dir",
                str(data),
                "--dev-port",
                "0",
                "--lobby-port",
                "0",
                "--fast-hash",
                "--log-level",
                "WARNING",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ports = data / "runtime_ports.json"
    while not ports.exists():
        if proc.poll() is not None:
            raise SystemExit(f"server failed: {(tmp / 'server.log').read_text()}")
        time.sleep(0.05)
    return proc, int(json.loads(ports.read_text())["lobby_port"])


async def measure(args: argparse.Namespace, port: int) -> None:
    raw = await asyncio.to_thread(raw_spawn_baseline, TRIVIAL_SERVER, args.starts)
    solo = await solo_starts(port, args.starts)
    voted = await voted_starts(port, args.starts)
    idle, busy, started_s, exchanged = await many_rooms(port, args.rooms, args.probes, args.tick)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(summary("raw baseline: spawn + poll until listening", raw))
    print(summary("START_ROOM, solo (no vote)", solo))
    print(summary("START_ROOM, 2 players (auto-yes vote)", voted))
    print(
        f"{'ratio START_ROOM solo / raw (p50)':<44} {pct(solo, 0.5) / pct(raw, 0.5):.2f}x   "
        f"(p95 {pct(solo, 0.95) / pct(raw, 0.95):.2f}x)"
    )
    print(f"{args.rooms} rooms started at once in {started_s * 1000:.0f} ms")
    print(summary("LIST_PLAYERS, idle", idle))
    print(summary(f"LIST_PLAYERS, {args.rooms} rooms playing", busy))
    print(f"{'game messages echoed meanwhile':<44} {exchanged}")
    print(f"{'ratio busy / idle (p95)':<44} {pct(busy, 0.95) / pct(idle, 0.95):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--starts", type=int, default=50)
    parser.add_argument("--rooms", type=int, default=30)
    parser.add_argument("--probes", type=int, default=400)
    parser.add_argument("--tick", type=float, default=0.05, help="seconds between a game client's messages")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_server(Path(tmp))
        try:
            asyncio.run(measure(args, port))
        finally:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()

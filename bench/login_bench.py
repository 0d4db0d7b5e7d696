"""Login benchmark: login+logout throughput against raw argon2id, and the reconnect storm after a restart.

1. Raw bound: this process verifies passwords with libsodium (PyNaCl, as the server does) on one thread per core, with
   the server's parameters (the defaults: OWASP's minimum configuration m=7 MiB, t=5, p=1), for --seconds.
2. PlayHub: ``playhub serve`` (production hashing) in a subprocess; --connections clients each loop
   LOGIN_PLAYER + LOGOUT for --seconds. Printed: pairs/s, per core, and the ratio to the raw bound. The same with
   ``--fast-hash`` shows what the rest of a login costs.
3. Restart storm: --storm players log in, the server is stopped and started again on the same data directory, and all
   of them present their token again at once (connect + WHOAMI, as the TUI does). Measured: time until every one is
   back, and the p99 of a bystander's WHOAMI meanwhile. With --relogin-storm, the same players also log in again with
   their passwords instead (what a restart cost when sessions were not stored).

    python bench/login_bench.py [--seconds 5] [--connections 16] [--storm 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from bench.common import env, use_fast_loop  # noqa: E402
from playhub.client import Client  # noqa: E402
from playhub.protocol.errors import RateLimited  # noqa: E402
from playhub.services.passwords import available_cores  # noqa: E402
from playhub.settings import Settings  # noqa: E402

PASSWORD = "bench-password"


def start_server(data_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    """``playhub serve`` on free ports with production hashing unless ``--fast-hash`` is in ``extra``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ports_file = data_dir / "runtime_ports.json"
    if ports_file.exists():
        ports_file.unlink()
    proc = subprocess.Popen(
        [sys.executable, "-m", "playhub", "serve", "--data-dir", str(data_dir), "--dev-port", "0",
         "--lobby-port", "0", "--log-level", "WARNING",
         # Every client of the benchmark comes from 127.0.0.1: the per-IP registration quota would cap the setup.
         "--set", "register_max_per_ip=0", *extra],
        env=env(),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ports_file.exists():
            try:
                proc.lobby_port = json.loads(ports_file.read_text())["lobby_port"]  # type: ignore[attr-defined]
                return proc
            except (ValueError, KeyError):
                pass
        if proc.poll() is not None:
            raise RuntimeError(f"playhub exited with {proc.returncode}")
        time.sleep(0.02)
    proc.kill()
    raise TimeoutError("playhub did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def raw_argon2(seconds: float, threads: int, memory_kib: int, time_cost: int) -> float:
    """Password verifications per second on ``threads`` threads (libsodium releases the GIL)."""
    from nacl.pwhash import argon2id

    password = PASSWORD.encode()
    stored = argon2id.str(password, opslimit=time_cost, memlimit=memory_kib * 1024)
    argon2id.verify(stored, password)  # warm up
    count = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def work() -> None:
        nonlocal count
        done = 0
        while time.perf_counter() < stop_at:
            argon2id.verify(stored, password)
            done += 1
        with lock:
            count += done

    t0 = time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return count / (time.perf_counter() - t0)


async def register_all(port: int, names: list[str], parallel: int = 32) -> dict[str, str]:
    tokens: dict[str, str] = {}
    queue = list(names)

    async def worker() -> None:
        while queue:
            name = queue.pop()
            # A connection each, as each player would have (sessions per connection are capped).
            async with await Client.connect("127.0.0.1", port) as c:
                out = await c.request("REGISTER_PLAYER", {"username": name, "password": PASSWORD})
                tokens[name] = out["session_token"]

    await asyncio.gather(*(worker() for _ in range(min(parallel, len(names)))))
    return tokens


async def login_logout_rate(port: int, connections: int, seconds: float) -> float:
    names = [f"bench{i}" for i in range(connections)]
    count = 0
    stop_at = 0.0

    async def one(name: str) -> None:
        nonlocal count
        async with await Client.connect("127.0.0.1", port) as c:
            while time.perf_counter() < stop_at:
                await c.login_player(name, PASSWORD)
                await c.logout()
                count += 1

    stop_at = time.perf_counter() + min(1.0, seconds / 4)  # warm up
    await asyncio.gather(*(one(n) for n in names))
    count = 0
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    await asyncio.gather(*(one(n) for n in names))
    return count / (time.perf_counter() - t0)


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)] if ordered else float("nan")


def bystander_main(port: int, token: str, stop: Any, out: Any) -> None:
    """Another client, in its own process (as on another machine): WHOAMI every 2 ms; sends (wall time, latency)."""

    async def probe() -> list[tuple[float, float]]:
        samples = []
        async with await Client.connect("127.0.0.1", port) as c:
            c.token = token
            while not stop.is_set():
                t0 = time.perf_counter()
                await c.request("WHOAMI", timeout=30)
                samples.append((time.time(), time.perf_counter() - t0))
                await asyncio.sleep(0.002)
        return samples

    out.put(asyncio.run(probe()))


async def storm(port: int, tokens: dict[str, str], bystander_token: str, relogin: bool) -> dict[str, float]:
    """Everyone comes back at once, while a bystander in another process measures its WHOAMI latency."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    stop = ctx.Event()
    bystander = ctx.Process(target=bystander_main, args=(port, bystander_token, stop, results), daemon=True)
    bystander.start()
    await asyncio.sleep(2.0)  # the bystander is up and measuring before the storm begins

    async def comeback(name: str, token: str) -> Client:
        for attempt in range(50):
            try:
                c = await Client.connect("127.0.0.1", port, timeout=30)
                break
            except OSError:
                await asyncio.sleep(0.05 * (attempt + 1))
        else:
            raise ConnectionError("could not reconnect")
        if relogin:
            while True:
                try:
                    await c.login_player(name, PASSWORD)
                    break
                except RateLimited as exc:  # 106 while the hashing queue is full: wait as told
                    await asyncio.sleep(exc.retry_after_s)
        else:
            c.token = token
            await c.request("WHOAMI", timeout=60)
        return c

    start_wall, t0 = time.time(), time.perf_counter()
    clients = await asyncio.gather(*(comeback(n, t) for n, t in tokens.items()))
    elapsed = time.perf_counter() - t0
    end_wall = time.time()
    stop.set()
    samples = await asyncio.to_thread(results.get, True, 30)
    bystander.join(10)
    for c in clients:
        await c.close()
    during = [lat for at, lat in samples if start_wall <= at <= end_wall + 0.05]
    return {
        "all_back_s": elapsed,
        "bystander_p99_ms": p99(during) * 1000,
        "bystander_max_ms": max(during, default=float("nan")) * 1000,
        "samples": len(during),
    }


async def restart_storm(tmp: Path, players: int, fast_hash: bool, relogin: bool) -> dict[str, float]:
    data = tmp / ("storm-relogin" if relogin else "storm")
    extra = ("--fast-hash",) if fast_hash else ()
    proc = start_server(data, *extra)
    try:
        tokens = await register_all(proc.lobby_port, [f"storm{i}" for i in range(players)])  # type: ignore[attr-defined]
        bystander = (await register_all(proc.lobby_port, ["bystander"]))["bystander"]  # type: ignore[attr-defined]
    finally:
        stop_server(proc)
    t_restart = time.perf_counter()
    proc = start_server(data, *extra)
    ready_s = time.perf_counter() - t_restart
    try:
        result = await storm(proc.lobby_port, tokens, bystander, relogin)  # type: ignore[attr-defined]
    finally:
        stop_server(proc)
    return {"restart_ready_s": ready_s, **result}


async def run(args: argparse.Namespace) -> None:
    cores = available_cores()
    s = Settings()
    memory_kib, time_cost = s.argon2_memory_kib, s.argon2_time_cost  # the server's defaults
    print(f"cores: {cores}; argon2id m={memory_kib} KiB, t={time_cost}, p=1; {args.connections} connections, "
          f"{args.seconds:g} s per measurement")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if args.throughput:
            # Alternating rounds, best of each kept: the machine's other load affects both sides alike.
            raws, hubs = [], []
            proc = start_server(tmp / "prod")
            try:
                await register_all(proc.lobby_port, [f"bench{i}" for i in range(args.connections)])  # type: ignore[attr-defined]
                for _ in range(args.rounds):
                    raws.append(raw_argon2(args.seconds, cores, memory_kib, time_cost))
                    hubs.append(await login_logout_rate(proc.lobby_port, args.connections, args.seconds))  # type: ignore[attr-defined]
            finally:
                stop_server(proc)
            raw, hub = max(raws), max(hubs)
            print(f"raw libsodium argon2id verify ({cores} thr): {raw:8.1f} /s  = {raw / cores:6.1f} /s per core")
            print(f"PlayHub login+logout (production)     : {hub:8.1f} /s  = {hub / cores:6.1f} /s per core")
            print(f"ratio to raw argon2id                 : {hub / raw:.2f}x")
            proc = start_server(tmp / "fast", "--fast-hash")
            try:
                await register_all(proc.lobby_port, [f"bench{i}" for i in range(args.connections)])  # type: ignore[attr-defined]
                fast = await login_logout_rate(proc.lobby_port, args.connections, args.seconds)  # type: ignore[attr-defined]
            finally:
                stop_server(proc)
            print(f"PlayHub login+logout (--fast-hash)    : {fast:8.1f} /s  = {fast / cores:6.1f} /s per core")
        if args.storm:
            result = await restart_storm(tmp, args.storm, not args.storm_production_hash, relogin=False)
            print(f"restart storm: {args.storm} sessions resumed with their token in {result['all_back_s']:.2f} s "
                  f"(target < 10 s; server ready {result['restart_ready_s']:.2f} s after start), bystander WHOAMI p99 "
                  f"{result['bystander_p99_ms']:.1f} ms (max {result['bystander_max_ms']:.1f} ms) over {int(result['samples'])} "
                  "requests during the storm (target < 50 ms)")  # fmt: skip
            if args.relogin_storm:
                result = await restart_storm(tmp, args.storm, False, relogin=True)
                print(f"for comparison, {args.storm} password logins after a restart (production hashing): "
                      f"{result['all_back_s']:.2f} s, bystander WHOAMI p99 {result['bystander_p99_ms']:.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per throughput figure")
    parser.add_argument("--connections", type=int, default=16, help="clients looping login+logout")
    parser.add_argument("--rounds", type=int, default=2, help="alternating raw/PlayHub rounds; best of each kept")
    parser.add_argument("--storm", type=int, default=1000, help="sessions in the restart storm (0 = skip)")
    parser.add_argument("--no-throughput", dest="throughput", action="store_false", help="only the storm")
    parser.add_argument(
        "--storm-production-hash",
        action="store_true",
        help="register the storm's players with production hashing (slow to set up; resuming hashes nothing)",
    )
    parser.add_argument("--relogin-storm", action="store_true", help="also time password logins after a restart")
    args = parser.parse_args()
    print(f"event loop: {use_fast_loop()}")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

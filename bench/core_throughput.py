"""Core benchmark: PlayHub answering an authenticated cheap command vs the raw asyncio NDJSON baseline.

Both servers run as subprocesses on the same event loop type; one load generator (this process) drives both in the
same run with the same number of connections. Also measures the server RSS cost of idle authenticated connections.

    python bench/core_throughput.py [--seconds 5] [--connections 50] [--idle 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import closed_loop_load, env, rss_bytes, start_playhub, use_fast_loop  # noqa: E402
from playhub.client import Client  # noqa: E402


def start_baseline(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = tmp / "baseline.port"
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("baseline_server.py")), str(port_file)], env=env()
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text():
            return proc, int(port_file.read_text())
        time.sleep(0.05)
    proc.kill()
    raise TimeoutError("baseline did not start")


async def login_players(port: int, count: int, prefix: str) -> list[Client]:
    clients = []
    for i in range(count):
        c = await Client.connect("127.0.0.1", port)
        await c.register_player(f"{prefix}{i}", "bench-password")
        clients.append(c)
    return clients


async def run(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        base_proc, base_port = start_baseline(tmp)
        hub_proc, ports = start_playhub(tmp / "data")
        try:
            lobby = ports["lobby_port"]
            clients = await login_players(lobby, args.connections, "load")
            hub_lines = [b'{"type":"WHOAMI","token":"%s","id":1}\n' % c.token.encode() for c in clients]  # type: ignore[union-attr]
            base_lines = [b'{"type":"PING","id":1}\n']
            # Interleave so drift of the machine affects both alike.
            base_rates, hub_rates = [], []
            for _ in range(args.rounds):
                base_rates.append(
                    await closed_loop_load("127.0.0.1", base_port, base_lines, args.connections, args.seconds)
                )
                hub_rates.append(
                    await closed_loop_load("127.0.0.1", lobby, hub_lines, args.connections, args.seconds)
                )
            base_rate, hub_rate = max(base_rates), max(hub_rates)
            results = {"baseline_rps": base_rate, "playhub_rps": hub_rate, "ratio": hub_rate / base_rate}
            for c in clients:
                await c.close()
            if args.idle:
                before = rss_bytes(hub_proc.pid)
                idle = await login_players(lobby, args.idle, "idle")
                await asyncio.sleep(0.5)
                after = rss_bytes(hub_proc.pid)
                results["idle_connections"] = args.idle
                results["idle_rss_mb"] = (after - before) / 2**20
                for c in idle:
                    await c.close()
            return results
        finally:
            for p in (base_proc, hub_proc):
                p.terminate()
                p.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per round and server")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is kept")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--idle", type=int, default=1000, help="idle authenticated connections to measure (0 = skip)"
    )
    args = parser.parse_args()
    loop = use_fast_loop()
    results = asyncio.run(run(args))
    print(f"event loop: {loop}, {args.connections} connections, {args.seconds:g} s x {args.rounds} rounds")
    print(f"raw baseline     : {results['baseline_rps']:10.0f} req/s")
    print(f"PlayHub WHOAMI   : {results['playhub_rps']:10.0f} req/s")
    print(f"ratio            : {results['ratio']:.2f}x (target >= 0.5x)")
    if "idle_rss_mb" in results:
        print(
            f"idle connections : {int(results['idle_connections'])} authenticated, server RSS +"
            f"{results['idle_rss_mb']:.1f} MB (target < 50 MB)"
        )


if __name__ == "__main__":
    main()

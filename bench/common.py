"""Shared pieces of the benchmarks: event loop choice, subprocess servers, the load generator, RSS."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def use_fast_loop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = (
        str(SRC) + os.pathsep + str(REPO) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    )
    return e


def start_playhub(data_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    """``playhub serve`` in a subprocess on free ports; returns it and its runtime_ports.json."""
    ports_file = data_dir / "runtime_ports.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "playhub",
            "serve",
            "--data-dir",
            str(data_dir),
            "--dev-port",
            "0",
            "--lobby-port",
            "0",
            "--fast-hash",
            "--log-level",
            "WARNING",
            # The load generator opens every client from 127.0.0.1: per-IP quotas would cap the benchmark itself.
            "--set",
            "register_max_per_ip=0",
            "--set",
            "max_rooms_per_ip=0",
            "--set",
            "max_downloads_per_ip=0",
            *extra,
        ],
        env=env(),
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if ports_file.exists():
            try:
                return proc, json.loads(ports_file.read_text())
            except ValueError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise TimeoutError("playhub did not start")


def rss_bytes(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


async def closed_loop_load(
    host: str, port: int, requests: list[bytes], connections: int, seconds: float
) -> float:
    """``connections`` clients, each sending one NDJSON request and waiting for its answer, for ``seconds``.

    Lines may be large (a listing answer is tens of KB), and pushes between answers are skipped.

    ``requests[i]`` is the line client ``i`` sends. Returns answered requests per second.
    """
    count = 0
    stop_at = 0.0

    async def one(i: int) -> None:
        nonlocal count
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
        line = requests[i % len(requests)]
        while time.perf_counter() < stop_at:
            writer.write(line)
            while True:
                resp = await reader.readline()
                if not resp:
                    raise ConnectionError("server closed the connection")
                if resp.startswith(b'{"status"'):  # pushes ({"type", "payload"}) are not answers
                    break
            count += 1
        writer.close()

    # Warm up, then measure.
    stop_at = time.perf_counter() + min(1.0, seconds / 4)
    await asyncio.gather(*(one(i) for i in range(connections)))
    count = 0
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    await asyncio.gather(*(one(i) for i in range(connections)))
    return count / (time.perf_counter() - t0)

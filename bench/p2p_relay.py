"""Throughput of a relayed P2P session against a raw asyncio TCP forwarder, in one process.

Both carry the same bytes from one socket to another through this event loop: the baseline is the simplest forwarder
(read, write, drain), the relay is PlayHub's (``server/p2p_relay.py``: pairing by ticket, flow control, byte counting,
no bandwidth cap for this run). The direct path (peer to peer over loopback, no server in between) is printed too.

Run: ``python bench/p2p_relay.py [--mb 64] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from playhub.client import Client  # noqa: E402
from playhub.client.p2p import accept_peer, connect_peer  # noqa: E402
from playhub.server.app import PlayHubApp  # noqa: E402
from playhub.settings import Settings  # noqa: E402

_BLOCK = b"\xa5" * (256 * 1024)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(64 * 1024):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def _carry(writer: asyncio.StreamWriter, reader: asyncio.StreamReader, total: int) -> float:
    """Send ``total`` bytes into ``writer`` and read them from ``reader``; MB/s."""

    async def send() -> None:
        sent = 0
        while sent < total:
            writer.write(_BLOCK)
            sent += len(_BLOCK)
            await writer.drain()

    start = time.perf_counter()
    sender = asyncio.ensure_future(send())
    got = 0
    while got < total:
        data = await reader.read(1 << 20)
        if not data:
            raise RuntimeError(f"stream ended after {got} bytes")
        got += len(data)
    await sender
    return total / (time.perf_counter() - start) / 1e6


async def raw_forwarder(total: int) -> float:
    sink_q: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()

    async def on_sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sink_q.put_nowait(reader)
        try:
            await asyncio.sleep(3600)  # keeps the writer open until the forwarder closes
        except asyncio.CancelledError:
            pass

    sink = await asyncio.start_server(on_sink, "127.0.0.1", 0)
    sink_port = sink.sockets[0].getsockname()[1]

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, out = await asyncio.open_connection("127.0.0.1", sink_port)
        await _pump(reader, out)

    fwd = await asyncio.start_server(on_client, "127.0.0.1", 0)
    _, w = await asyncio.open_connection("127.0.0.1", fwd.sockets[0].getsockname()[1])
    r = await sink_q.get()
    try:
        return await _carry(w, r, total)
    finally:
        w.close()
        fwd.close()
        sink.close()


async def playhub_paths(total: int, data_dir: Path) -> tuple[float, float]:
    settings = Settings(
        data_dir=data_dir,
        dev_port=0,
        lobby_port=0,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        register_max_per_ip=0,
        p2p_relay_bytes_per_s=0,
        p2p_relay_max_bytes=0,
    )
    app = PlayHubApp(settings)
    await app.start()
    try:
        a = await Client.connect("127.0.0.1", app.lobby_port)
        b = await Client.connect("127.0.0.1", app.lobby_port)
        await a.register_player("bench_a", "secret-pw")
        await b.register_player("bench_b", "secret-pw")
        speeds = []
        for direct in (False, True):
            callee = asyncio.ensure_future(accept_peer(b, try_direct=direct, listen_host="127.0.0.1"))
            la = await connect_peer(a, "bench_b", try_direct=direct, listen_host="127.0.0.1")
            lb = await callee
            speeds.append(await _carry(la.writer, lb.reader, total))
            await la.close()
            await lb.close()
        await a.close()
        await b.close()
        return speeds[0], speeds[1]
    finally:
        await app.stop()


async def main(mb: int, rounds: int) -> None:
    total = mb * 1024 * 1024
    best_raw = best_relay = best_direct = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            best_raw = max(best_raw, await raw_forwarder(total))
            relay, direct = await playhub_paths(total, Path(tmp) / f"d{i}")
            best_relay, best_direct = max(best_relay, relay), max(best_direct, direct)
    print(f"raw forwarder: {best_raw:.0f} MB/s")
    print(f"playhub relay: {best_relay:.0f} MB/s")
    print(f"direct path: {best_direct:.0f} MB/s")
    print(f"relay ratio vs raw forwarder: {best_relay / best_raw:.2f}x (best of {rounds}, {mb} MiB each)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.mb, args.rounds))

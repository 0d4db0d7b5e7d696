"""Chat benchmark: fan-out to a large channel, sustained delivery across many users, history pages.

Each figure is compared with a raw baseline run in the same process tree: a minimal asyncio NDJSON server (same JSON
library and event loop) that writes every line it receives to every connection of the same group, with no storage,
no checks and no envelope.

    python bench/chat_bench.py [--members 500] [--fanout-messages 50] [--users 200] [--group 10]
                               [--rate 5000] [--seconds 5] [--pages 200]

- fan-out: one message to a channel of ``--members`` connected members; latency from send until the last member has it;
- sustained: ``--users`` connected users in channels of ``--group``; messages are sent so that ``--rate`` deliveries per
  second reach the users; reports the achieved delivery rate, delivery latency and the server's RSS before and after;
- history: ``CHAT_HISTORY`` pages of 100 messages, round-trip time, against a raw request/response round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import env, rss_bytes, start_playhub, use_fast_loop  # noqa: E402
from playhub.client import Client  # noqa: E402

RAW_FANOUT = r"""
import asyncio, sys
import msgspec
sys.path.insert(0, sys.argv[2])
from bench.common import use_fast_loop
dec = msgspec.json.Decoder().decode
groups = {}
async def handle(reader, writer):
    group = None
    try:
        while line := await reader.readline():
            msg = dec(line)
            if "join" in msg:
                group = msg["join"]
                groups.setdefault(group, []).append(writer)
                writer.write(b'{"status":"ok"}\n')
                continue
            for w in groups.get(group, ()):
                w.write(line)
    except ConnectionError:
        pass
    finally:
        if group is not None:
            groups[group].remove(writer)
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20)
    open(sys.argv[1], "w").write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()
use_fast_loop()
asyncio.run(main())
"""

_enc = msgspec.json.Encoder().encode
_dec = msgspec.json.Decoder().decode


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


# --- the raw baseline ---------------------------------------------------------------------------------------------
class RawConn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, group: str) -> RawConn:
        r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        w.write(_enc({"join": group}) + b"\n")
        await r.readline()
        return cls(r, w)


async def raw_reader(conn: RawConn, seen: dict[int, list[float]]) -> None:
    try:
        while line := await conn.reader.readline():
            seen.setdefault(_dec(line)["n"], []).append(time.perf_counter())
    except (ConnectionError, asyncio.CancelledError):
        pass


def start_raw(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = tmp / "raw-port"
    proc = subprocess.Popen(
        [sys.executable, "-c", RAW_FANOUT, str(port_file), str(Path(__file__).resolve().parents[1])],
        env=env(),
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text():
            return proc, int(port_file.read_text())
        time.sleep(0.02)
    proc.kill()
    raise TimeoutError("raw baseline did not start")


# --- PlayHub clients ----------------------------------------------------------------------------------------------
async def players(port: int, n: int, prefix: str) -> list[Client]:
    out: list[Client] = []

    async def one(i: int) -> Client:
        c = await Client.connect("127.0.0.1", port)
        await c.register_player(f"{prefix}{i}", "secret-pw")
        return c

    for start in range(0, n, 50):
        out += await asyncio.gather(*(one(i) for i in range(start, min(n, start + 50))))
    return out


def track(c: Client, seen: dict[int, list[float]], key: str = "n") -> None:
    def on_push(type_: str, payload: dict) -> None:  # type: ignore[type-arg]
        text = payload.get("text", "")
        if text.startswith(key):
            seen.setdefault(int(text[len(key) :]), []).append(time.perf_counter())

    c.on_push(on_push, "CHAT_MESSAGE")


async def wait_until(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    # Polled: the receive callbacks stay a bare append, with no per-push event bookkeeping in the measurement.
    while not cond() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.002)


# --- scenarios ----------------------------------------------------------------------------------------------------
async def fanout(port: int, raw_port: int, members: int, messages: int) -> dict[str, float]:
    clients = await players(port, members, "fan")
    await asyncio.gather(*(c.request("CHAT_JOIN", {"channel": "big"}) for c in clients))
    ph: dict[int, list[float]] = {}
    for c in clients:
        track(c, ph)
    lat_ph = []
    for i in range(messages):
        t0 = time.perf_counter()
        await clients[0].request("CHAT_SEND", {"channel": "big", "text": f"n{i}"})
        await wait_until(lambda i=i: len(ph.get(i, ())) >= members)
        lat_ph.append((max(ph[i]) - t0) * 1000)
        await asyncio.sleep(0.01)
    for c in clients:
        await c.close()
    raws = [await RawConn.open(raw_port, "big") for _ in range(members)]
    rs: dict[int, list[float]] = {}
    tasks = [asyncio.ensure_future(raw_reader(r, rs)) for r in raws]
    lat_raw = []
    for i in range(messages):
        t0 = time.perf_counter()
        raws[0].writer.write(_enc({"n": i, "text": f"n{i}"}) + b"\n")
        await wait_until(lambda i=i: len(rs.get(i, ())) >= members)
        lat_raw.append((max(rs[i]) - t0) * 1000)
        await asyncio.sleep(0.01)
    for t in tasks:
        t.cancel()
    for r in raws:
        r.writer.close()
    return {
        "p50": pct(lat_ph, 0.5),
        "p99": pct(lat_ph, 0.99),
        "raw_p50": pct(lat_raw, 0.5),
        "raw_p99": pct(lat_raw, 0.99),
    }


async def sustained(
    port: int, raw_port: int, pid: int, users: int, group: int, rate: float, seconds: float
) -> dict:  # type: ignore[type-arg]
    clients = await players(port, users, "sus")
    for i, c in enumerate(clients):
        await c.request("CHAT_JOIN", {"channel": f"g{i // group}"})
    seen: dict[int, list[float]] = {}
    for c in clients:
        track(c, seen)
    rss0 = rss_bytes(pid)
    sends_per_s = rate / group  # every message reaches its group (the sender's connection included)
    interval = 1.0 / sends_per_s
    sent_at: dict[int, float] = {}
    n = 0
    start = time.perf_counter()
    refused = 0
    pending: set[asyncio.Future] = set()  # type: ignore[type-arg]
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) / interval)
        while n < due:
            c = clients[n % users]
            sent_at[n] = time.perf_counter()
            fut = c.send_request("CHAT_SEND", {"channel": f"g{(n % users) // group}", "text": f"n{n}"})
            pending.add(fut)
            fut.add_done_callback(pending.discard)
            n += 1
        await asyncio.sleep(0.001)
    results = await asyncio.gather(*pending, return_exceptions=True)
    refused = sum(1 for r in results if isinstance(r, dict) and r.get("status") != "ok")
    await wait_until(lambda: sum(len(v) for v in seen.values()) >= n * group, timeout=10)
    elapsed = time.perf_counter() - start
    delivered = sum(len(v) for v in seen.values())
    lat = [(t - sent_at[i]) * 1000 for i, ts in seen.items() for t in ts]
    rss1 = rss_bytes(pid)
    for c in clients:
        await c.close()
    # The raw baseline under the same offered load.
    raws = [await RawConn.open(raw_port, f"g{i // group}") for i in range(users)]
    rs: dict[int, list[float]] = {}
    tasks = [asyncio.ensure_future(raw_reader(r, rs)) for r in raws]
    raw_sent: dict[int, float] = {}
    m = 0
    start = time.perf_counter()
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) / interval)
        while m < due:
            raw_sent[m] = time.perf_counter()
            raws[m % users].writer.write(_enc({"n": m, "text": f"n{m}"}) + b"\n")
            m += 1
        await asyncio.sleep(0.001)
    await wait_until(lambda: sum(len(v) for v in rs.values()) >= m * group, timeout=10)
    raw_elapsed = time.perf_counter() - start
    raw_lat = [(t - raw_sent[i]) * 1000 for i, ts in rs.items() for t in ts]
    for t in tasks:
        t.cancel()
    for r in raws:
        r.writer.close()
    return {
        "sent": n,
        "refused": refused,
        "delivered_per_s": delivered / elapsed,
        "p50": pct(lat, 0.5),
        "p99": pct(lat, 0.99),
        "raw_delivered_per_s": sum(len(v) for v in rs.values()) / raw_elapsed,
        "raw_p50": pct(raw_lat, 0.5),
        "raw_p99": pct(raw_lat, 0.99),
        "rss_before_mb": rss0 / 2**20,
        "rss_after_mb": rss1 / 2**20,
    }


async def history(port: int, raw_port: int, pages: int) -> dict[str, float]:
    (c,) = await players(port, 1, "hist")
    await c.request("CHAT_JOIN", {"channel": "log"})
    ids = []
    for i in range(300):
        sent = await c.request(
            "CHAT_SEND", {"channel": "log", "text": f"message number {i} with some text ✓"}
        )
        ids.append(sent["message"]["id"])
    ms = []
    for _ in range(pages):
        t0 = time.perf_counter()
        page = await c.request("CHAT_HISTORY", {"channel": "log", "limit": 100, "before_id": ids[250]})
        ms.append((time.perf_counter() - t0) * 1000)
        assert len(page["messages"]) == 100
    await c.close()
    raw = await RawConn.open(raw_port, "echo")  # alone in its group: a round trip through the raw server
    raw_ms = []
    for i in range(pages):
        t0 = time.perf_counter()
        raw.writer.write(_enc({"n": i}) + b"\n")
        await raw.reader.readline()
        raw_ms.append((time.perf_counter() - t0) * 1000)
    raw.writer.close()
    return {
        "p50": pct(ms, 0.5),
        "p99": pct(ms, 0.99),
        "raw_p50": pct(raw_ms, 0.5),
        "raw_p99": pct(raw_ms, 0.99),
    }


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        proc, ports = start_playhub(
            data,
            "--set",
            "chat_user_rate=0",
            "--set",
            "chat_channel_rate=0",
            "--set",
            "chat_channels_per_user=0",
        )
        raw, raw_port = start_raw(Path(tmp))
        try:
            port = ports["lobby_port"]
            f = await fanout(port, raw_port, args.members, args.fanout_messages)
            print(
                f"fan-out to {args.members} members: p50 {f['p50']:.1f} ms, p99 {f['p99']:.1f} ms"
                f" | raw p50 {f['raw_p50']:.1f} ms, p99 {f['raw_p99']:.1f} ms"
                f" | ratio p99 {f['p99'] / f['raw_p99']:.2f}x"
            )
            s = await sustained(port, raw_port, proc.pid, args.users, args.group, args.rate, args.seconds)
            print(
                f"sustained {args.users} users, groups of {args.group}, offered {args.rate:.0f} deliveries/s:"
                f" delivered {s['delivered_per_s']:.0f}/s ({s['sent']} sent, {s['refused']} refused),"
                f" latency p50 {s['p50']:.1f} ms p99 {s['p99']:.1f} ms"
                f" | raw {s['raw_delivered_per_s']:.0f}/s p50 {s['raw_p50']:.1f} ms p99 {s['raw_p99']:.1f} ms"
                f" | ratio delivered {s['delivered_per_s'] / s['raw_delivered_per_s']:.2f}x"
                f" | server RSS {s['rss_before_mb']:.1f} -> {s['rss_after_mb']:.1f} MB"
            )
            h = await history(port, raw_port, args.pages)
            print(
                f"history page of 100: p50 {h['p50']:.2f} ms, p99 {h['p99']:.2f} ms"
                f" | raw round trip p50 {h['raw_p50']:.2f} ms | ratio p50 {h['p50'] / h['raw_p50']:.2f}x"
            )
        finally:
            proc.terminate()
            raw.kill()
            proc.wait(10)
            raw.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=500)
    ap.add_argument("--fanout-messages", type=int, default=50)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--group", type=int, default=10)
    ap.add_argument("--rate", type=float, default=5000.0)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--pages", type=int, default=200)
    args = ap.parse_args()
    print(f"event loop: {use_fast_loop()}")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

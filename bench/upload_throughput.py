"""Upload throughput: a 100 MB package through PlayHub's chunked upload vs a raw TCP copy of the same bytes.

All run in the same invocation on loopback, each into a separate server process that writes the bytes to disk:

* raw: a plain socket server (``recv`` into a file), the client ``sendall``s the file in 1 MiB blocks;
* for reference only (not the ratio's baseline): the same sink writing every block to two files and flushing both
  at the end, the least a durable publication stores (the archive and its unpacked copy);
* PlayHub: ``playhub serve`` in a subprocess; the client uses ``playhub.client.publishing.upload_file`` on a
  length-prefixed connection: ``UPLOAD_BEGIN``, chunks with a window in flight, then ``UPLOAD_END`` (SHA-256 check,
  archive inspection, publication of the unpacked files), once with base64 JSON chunks (the client hashes the file
  before ``UPLOAD_BEGIN``) and once with binary chunk frames (the client hashes while sending and gives the SHA-256
  with ``UPLOAD_END``). Either way the server writes the archive and unpacks it while the chunks arrive, and flushes
  both to disk before the commit.

Raw copy, base64 upload and binary upload alternate for ``--rounds`` rounds; medians are printed with each rate's
ratio to the raw copy and the server's RSS growth during the upload (sampled with psutil every 20 ms).

    python bench/upload_throughput.py [--mb 100] [--window 8] [--rounds 3]
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
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from bench.common import start_playhub  # noqa: E402
from playhub.client import Client  # noqa: E402
from playhub.client.publishing import sha256_file, upload_file  # noqa: E402
from playhub.wire.framing import Framing  # noqa: E402

_SINK = r"""
import os, socket, sys
paths = sys.argv[1:]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
outs = [open(path, "wb") for path in paths]
while True:
    block = conn.recv(1 << 20)
    if not block:
        break
    for out in outs:
        out.write(block)
if len(outs) > 1:  # the reference for what publishing has to store: two copies, on disk before the answer
    for out in outs:
        out.flush()
        os.fsync(out.fileno())
for out in outs:
    out.close()
conn.sendall(b"ok")
conn.close()
"""


def make_package(folder: Path, megabytes: int) -> Path:
    archive = folder / "bench.zip"
    manifest = {
        "name": "benchgame",
        "display_name": "Bench",
        "type": "cli",
        "max_players": 2,
        "entry_server": "server.py",
        "entry_client": "client.py",
        "description": "benchmark package",
    }
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("server.py", "print(1)\n")
        zf.writestr("client.py", "print(2)\n")
        for i in range(megabytes // 4):  # 4 MiB incompressible assets
            zf.writestr(f"assets/blob{i}.bin", os.urandom(4 << 20))
    return archive


def raw_copy(archive: Path, *sink_files: Path) -> float:
    """Seconds to send ``archive`` over loopback to a sink writing it to ``sink_files`` (with two: each flushed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SINK, *map(str, sink_files)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock, open(archive, "rb") as fh:
        while block := fh.read(1 << 20):
            sock.sendall(block)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(2) == b"ok"
    elapsed = time.perf_counter() - start
    proc.wait(10)
    return elapsed


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``playhub serve`` in a subprocess (uvloop when installed, as in production); returns it and its dev port."""
    server, ports = start_playhub(data_dir)
    return server, int(ports["developer_port"])


async def playhub_upload(
    client: Client,
    game_id: str,
    version: str,
    archive: Path,
    server: subprocess.Popen[bytes],
    window: int,
    encoding: str,
) -> dict[str, float]:
    """One whole ``upload_file`` (client SHA-256, BEGIN, chunks, END) with the server's CPU and RSS around it."""
    base_rss = psutil.Process(server.pid).memory_info().rss
    marks: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        marks.setdefault("first", time.perf_counter())
        if done == total:
            marks["chunks_done"] = time.perf_counter()

    server_cpu0 = sum(psutil.Process(server.pid).cpu_times()[:2])
    client_cpu0 = time.process_time()
    with RssSampler(server.pid) as rss:
        start = time.perf_counter()
        out = await upload_file(
            client,
            game_id,
            version,
            archive,
            progress=progress,
            window=window,
            encoding=encoding,  # type: ignore[arg-type]
        )
        end = time.perf_counter()
    server_cpu = sum(psutil.Process(server.pid).cpu_times()[:2]) - server_cpu0
    client_cpu = time.process_time() - client_cpu0
    assert out["version"] == version
    return {
        "total_s": end - start,
        "begin_s": marks["first"] - start,
        "chunks_s": marks["chunks_done"] - marks["first"],
        "end_s": end - marks["chunks_done"],
        "rss_base_mb": base_rss / 2**20,
        "rss_growth_mb": (rss.peak - base_rss) / 2**20,
        "server_cpu_s": server_cpu,
        "client_cpu_s": client_cpu,
    }


async def playhub_rounds(
    archive: Path,
    server: subprocess.Popen[bytes],
    port: int,
    window: int,
    rounds: int,
    raw_copy_fn: Any,
    raw_twice_fn: Any,
) -> dict[str, list[Any]]:
    """Alternate raw copy, base64 upload and binary upload ``rounds`` times, so load changes hit all three alike."""
    client = await Client.connect("127.0.0.1", port, framing=Framing.LENGTH_PREFIXED)
    await client.register_dev("bench", "bench-pw")
    game_id = (
        await client.request(
            "CREATE_GAME", {"name": "benchgame", "description": "b", "game_type": "cli", "max_players": 2}
        )
    )["game_id"]
    results: dict[str, list[Any]] = {"raw": [], "raw2": [], "base64": [], "binary": []}
    version = 0
    for _ in range(rounds):
        results["raw"].append(await asyncio.to_thread(raw_copy_fn))
        results["raw2"].append(await asyncio.to_thread(raw_twice_fn))
        for encoding in ("base64", "binary"):
            version += 1
            results[encoding].append(
                await playhub_upload(client, game_id, f"1.0.{version}", archive, server, window, encoding)
            )
    await client.close()
    return results


def _median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=100, help="package size in MiB (default 100)")
    parser.add_argument("--window", type=int, default=8, help="chunks in flight (default 8)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds; medians are printed (default 3)"
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory(prefix="playhub-bench-") as tmp:
        folder = Path(tmp)
        archive = make_package(folder, args.mb)
        size = archive.stat().st_size
        t0 = time.perf_counter()
        sha256_file(archive)
        hash_s = time.perf_counter() - t0
        server, port = start_server(folder / "data")
        try:
            res = asyncio.run(
                playhub_rounds(
                    archive,
                    server,
                    port,
                    args.window,
                    args.rounds,
                    lambda: raw_copy(archive, folder / "raw-copy.bin"),
                    lambda: raw_copy(archive, folder / "raw-copy-a.bin", folder / "raw-copy-b.bin"),
                )
            )
        finally:
            server.terminate()
            server.wait(15)
    mb = size / 2**20
    raw_s = _median(res["raw"])
    raw_rate = mb / raw_s
    print(f"package: {mb:.1f} MiB, chunk window {args.window}, {args.rounds} alternating rounds (medians)")
    print(f"raw TCP copy to disk:         {raw_rate:8.1f} MiB/s ({raw_s:.2f} s; runs {_fmt(res['raw'])} s)")
    raw2_s = _median(res["raw2"])
    print(
        f"(reference) raw copy into two files, fsynced: {mb / raw2_s:8.1f} MiB/s ({raw2_s:.2f} s; runs "
        f"{_fmt(res['raw2'])} s; {raw_s / raw2_s:.2f}x of the raw copy)"
    )
    print(f"client SHA-256 of the file:   {hash_s:.3f} s (before a base64 upload; binary ones hash while sending)")
    for encoding in ("base64", "binary"):
        runs = res[encoding]
        total = _median([r["total_s"] for r in runs])
        chunks = _median([r["chunks_s"] for r in runs])
        up_rate, chunk_rate = mb / total, mb / chunks
        print(
            f"PlayHub {encoding:6} upload, BEGIN..END: {up_rate:8.1f} MiB/s ({total:.2f} s; runs "
            f"{_fmt([r['total_s'] for r in runs])} s; hash+BEGIN {_median([r['begin_s'] for r in runs]):.2f} s, "
            f"UPLOAD_END {_median([r['end_s'] for r in runs]):.2f} s)"
        )
        print(f"PlayHub {encoding:6} chunk phase only:     {chunk_rate:8.1f} MiB/s ({chunks:.2f} s)")
        print(
            f"ratio {encoding} upload/raw:             {up_rate / raw_rate:8.2f}x (chunk phase {chunk_rate / raw_rate:.2f}x)"
        )
        print(
            f"CPU during the {encoding} upload: server {_median([r['server_cpu_s'] for r in runs]):.2f} s, "
            f"client {_median([r['client_cpu_s'] for r in runs]):.2f} s"
        )
        print(
            f"server RSS ({encoding}): {_median([r['rss_base_mb'] for r in runs]):.1f} MiB before, "
            f"+{max(r['rss_growth_mb'] for r in runs):.1f} MiB peak growth during upload"
        )


def _fmt(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()

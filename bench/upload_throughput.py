"""Upload throughput: a 100 MB package through PlayHub's chunked upload vs a raw TCP copy of the same bytes.

Both run in the same invocation on loopback, each into a separate server process that writes the bytes to disk:

* raw: a plain socket server (``recv`` into a file), the client ``sendall``s the file in 1 MiB blocks;
* PlayHub: ``playhub serve`` in a subprocess; the client uses ``playhub.client.publishing.upload_file`` (base64 JSON
  chunks, a window of requests in flight), then ``UPLOAD_END`` (SHA-256 check, archive inspection, unpacking).

Prints both rates, their ratio, and the server's RSS growth during the upload (sampled with psutil every 20 ms).

    python bench/upload_throughput.py [--mb 100] [--window 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from playhub.client import Client  # noqa: E402
from playhub.client.publishing import sha256_file, upload_file  # noqa: E402

_SINK = r"""
import socket, sys
path, = sys.argv[1:]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
with open(path, "wb") as out:
    while True:
        block = conn.recv(1 << 20)
        if not block:
            break
        out.write(block)
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


def raw_copy(archive: Path, sink_file: Path) -> float:
    proc = subprocess.Popen([sys.executable, "-c", _SINK, str(sink_file)], stdout=subprocess.PIPE, text=True)
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
    server = subprocess.Popen(
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
        ],
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    ports = data_dir / "runtime_ports.json"
    for _ in range(400):
        if ports.exists():
            try:
                return server, int(json.loads(ports.read_text())["developer_port"])
            except (ValueError, KeyError):
                pass
        time.sleep(0.05)
    server.kill()
    raise RuntimeError("the server did not start")


async def playhub_upload(
    archive: Path, server: subprocess.Popen[bytes], port: int, window: int
) -> dict[str, float]:
    client = await Client.connect("127.0.0.1", port)
    await client.register_dev("bench", "bench-pw")
    game_id = (
        await client.request(
            "CREATE_GAME", {"name": "benchgame", "description": "b", "game_type": "cli", "max_players": 2}
        )
    )["game_id"]
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
        out = await upload_file(client, game_id, "1.0.0", archive, progress=progress, window=window)
        end = time.perf_counter()
    server_cpu = sum(psutil.Process(server.pid).cpu_times()[:2]) - server_cpu0
    client_cpu = time.process_time() - client_cpu0
    assert out["version"] == "1.0.0"
    await client.close()
    return {
        "total_s": end - start,
        "chunks_s": marks["chunks_done"] - marks["first"],
        "end_s": end - marks["chunks_done"],
        "rss_base_mb": base_rss / 2**20,
        "rss_growth_mb": (rss.peak - base_rss) / 2**20,
        "server_cpu_s": server_cpu,
        "client_cpu_s": client_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=100, help="package size in MiB (default 100)")
    parser.add_argument("--window", type=int, default=8, help="chunks in flight (default 8)")
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
        raw_s = raw_copy(archive, folder / "raw-copy.bin")
        server, port = start_server(folder / "data")
        try:
            ph = asyncio.run(playhub_upload(archive, server, port, args.window))
        finally:
            server.terminate()
            server.wait(15)
    mb = size / 2**20
    raw_rate = mb / raw_s
    up_rate = mb / ph["total_s"]
    chunk_rate = mb / ph["chunks_s"]
    print(f"package: {mb:.1f} MiB, chunk window {args.window}")
    print(f"raw TCP copy to disk:         {raw_rate:8.1f} MiB/s ({raw_s:.2f} s)")
    print(
        f"PlayHub upload, BEGIN..END:   {up_rate:8.1f} MiB/s ({ph['total_s']:.2f} s, incl. client SHA-256 "
        f"{hash_s:.2f} s, UPLOAD_END {ph['end_s']:.2f} s)"
    )
    print(f"PlayHub chunk phase only:     {chunk_rate:8.1f} MiB/s ({ph['chunks_s']:.2f} s)")
    print(
        f"ratio upload/raw:             {up_rate / raw_rate:8.2f}x (chunk phase {chunk_rate / raw_rate:.2f}x)"
    )
    print(f"CPU during the upload: server {ph['server_cpu_s']:.2f} s, client {ph['client_cpu_s']:.2f} s")
    print(
        f"server RSS: {ph['rss_base_mb']:.1f} MiB before, +{ph['rss_growth_mb']:.1f} MiB peak growth during upload"
    )


if __name__ == "__main__":
    main()

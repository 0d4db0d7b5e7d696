"""Store benchmarks: cached store reads, one large download, and many downloads at once.

1. ``LIST_GAMES`` with 200 games vs the raw baseline of ``bench/core_throughput.py`` (a minimal asyncio NDJSON server
   answering a small fixed object), and vs the same raw server answering the very bytes of the 200-game listing, so
   the cost of moving ~60 KB per answer is visible apart from PlayHub's own overhead. Same event loop, same load
   generator, same number of connections, interleaved rounds in one run.
2. One download of a 100 MB package: PlayHub's DOWNLOAD_BEGIN/CHUNK/END stream (the client decodes each chunk) vs a
   raw socket copy of the same file (the server writes the file bytes as they are, the client counts them), in base64
   mode (NDJSON) and in binary mode (length-prefixed connection, binary chunk frames sent with os.sendfile).
3. 50 concurrent downloads of a 20 MB package: aggregate rate and the growth of the server's RSS (peak during the
   downloads minus before), with the server in its own process, in base64 mode and then in binary mode.

    python bench/store_bench.py [--seconds 3] [--rounds 2] [--connections 50] [--big-mb 100]
                                [--parallel 50] [--parallel-mb 20]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "src")
)  # this checkout's playhub, as the server uses
from bench.common import closed_loop_load, env, rss_bytes, start_playhub, use_fast_loop  # noqa: E402
from bench.core_throughput import start_baseline  # noqa: E402
from playhub.client import Client  # noqa: E402
from playhub.client.library import LocalLibrary, download_game  # noqa: E402
from playhub.packages import parse_version  # noqa: E402
from playhub.protocol.store import DownloadChunkPush  # noqa: E402
from playhub.store import accounts  # noqa: E402
from playhub.store.blobs import BlobStore  # noqa: E402
from playhub.store.db import Database  # noqa: E402
from playhub.wire.framing import FrameDecoder, Framing, decode_binary, encode_frame, is_binary_frame  # noqa: E402

READ_LIMIT = 1 << 20  # listing answers are ~60 KB, above asyncio's default line limit


# --- the store's content ---------------------------------------------------------------------------------------------
def _write_package(path: Path, name: str, payload_bytes: int) -> None:
    """A valid package with ``payload_bytes`` of random data stored uncompressed, written in pieces."""
    manifest = {
        "name": name,
        "display_name": name.replace("-", " ").title(),
        "type": "cli",
        "max_players": 2,
        "entry_server": "server.py",
        "entry_client": "client.py",
        "description": f"{name}: a benchmark game",
    }
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("server.py", "print('server')\n")
        zf.writestr("client.py", "print('client')\n")
        if payload_bytes:
            with zf.open(zipfile.ZipInfo("assets/data.bin"), "w", force_zip64=True) as out:
                left = payload_bytes
                while left:
                    n = min(left, 1 << 20)
                    out.write(os.urandom(n))
                    left -= n


def _insert_game(conn: sqlite3.Connection, game_id: str, name: str, size: int, sha: str) -> None:
    dev = accounts.find(conn, "developer", "benchdev")
    dev_id = dev.id if dev else accounts.create(conn, "developer", "benchdev", "not-a-hash")
    now = time.time()
    manifest = {"name": name, "display_name": name.title(), "type": "cli", "max_players": 2}
    conn.execute(
        "INSERT INTO games (id, developer_id, name, display_name, description, game_type, max_players, "
        "status, latest_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'cli', 2, 'ONLINE', "
        "'1.0.0', ?, ?)",
        (game_id, dev_id, name, name.title(), "benchmark game", now, now),
    )
    major, minor, patch = parse_version("1.0.0")
    conn.execute(
        "INSERT INTO versions (game_id, version, major, minor, patch, size_bytes, checksum, manifest, "
        "uploaded_at) VALUES (?, '1.0.0', ?, ?, ?, ?, ?, ?, ?)",
        (game_id, major, minor, patch, size, sha, json.dumps(manifest), now),
    )


def populate(data_dir: Path, games: int, packages: dict[str, int]) -> dict[str, str]:
    """Write ``games`` small games plus the ``packages`` (name → payload bytes) into a fresh data dir.

    Rows and files are written directly, in the same shape publishing produces. Returns name → game_id.
    """
    data_dir.mkdir(parents=True)
    blobs = BlobStore(data_dir)
    blobs.ensure()
    db = Database(data_dir / "playhub.sqlite3")
    db.open_sync()
    ids: dict[str, str] = {}
    small = data_dir.parent / "small.zip"
    _write_package(small, "template", 0)
    wanted = {f"game-{i:03d}": 0 for i in range(games)} | packages
    for name, payload in wanted.items():
        game_id = secrets.token_hex(8)
        archive = blobs.archive(game_id, "1.0.0")
        archive.parent.mkdir(parents=True)
        if payload:
            _write_package(archive, name, payload)
        else:
            os.link(small, archive)
        digest = hashlib.sha256()
        with open(archive, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        ids[name] = game_id
        db.run_sync(_insert_game, game_id, name, archive.stat().st_size, digest.hexdigest())
    asyncio.run(db.close())
    return ids


# --- raw servers for the baselines -----------------------------------------------------------------------------------
async def _serve_fixed(port_file: Path, body_file: Path) -> None:
    """Answer every NDJSON line with a fixed response whose payload is ``body_file`` (the listing bytes)."""
    body = body_file.read_bytes()  # noqa: ASYNC240 - once, at startup
    decode = msgspec.json.Decoder().decode
    encode = msgspec.json.Encoder().encode

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                req = decode(line)
                out = {
                    "status": "ok",
                    "code": 0,
                    "message": "OK",
                    "payload": msgspec.Raw(body),
                    "id": req.get("id"),
                }
                writer.write(encode(out) + b"\n")
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))  # noqa: ASYNC240 - once, at startup
    async with server:
        await server.serve_forever()


async def _serve_file(port_file: Path, path: Path) -> None:
    """Raw socket copy: on connect, write the file's bytes as they are (in 256 KiB reads off the loop), then close."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with open(path, "rb") as f:  # noqa: ASYNC230 - the baseline opens once per connection
            while block := await asyncio.to_thread(f.read, 256 * 1024):
                writer.write(block)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))  # noqa: ASYNC240 - once, at startup
    async with server:
        await server.serve_forever()


def start_raw(tmp: Path, mode: str, arg: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = tmp / f"raw-{mode}.port"
    proc = subprocess.Popen(
        [sys.executable, __file__, f"--serve-{mode}", str(port_file), str(arg)], env=env()
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text():
            return proc, int(port_file.read_text())
        time.sleep(0.05)
    proc.kill()
    raise TimeoutError("raw server did not start")


# --- downloads -----------------------------------------------------------------------------------------------------
async def playhub_download(port: int, token: str, game_id: str, decode: bool) -> tuple[int, float]:
    """Run one download over a raw socket; returns (bytes received, seconds). ``decode`` base64-decodes chunks."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=READ_LIMIT)
    req = {"type": "DOWNLOAD_BEGIN", "token": token, "payload": {"game_id": game_id}, "id": 1}
    t0 = time.perf_counter()
    writer.write(json.dumps(req).encode() + b"\n")
    answer = json.loads(await reader.readline())
    while "status" not in answer:  # pushes (presence, ...) may come before the answer
        answer = json.loads(await reader.readline())
    if answer.get("status") != "ok":
        raise RuntimeError(f"DOWNLOAD_BEGIN failed: {answer}")
    received = 0
    # A typed decoder turns data_b64 back into bytes in the same pass as the JSON parsing.
    chunk_decoder = msgspec.json.Decoder(DownloadChunkPush)
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection mid-download")
        if line.startswith(b'{"type":"DOWNLOAD_CHUNK"'):
            if decode:
                received += len(chunk_decoder.decode(line).payload.data_b64)
            continue
        msg = json.loads(line)
        if msg.get("type") == "DOWNLOAD_END":
            if not decode:
                received = int(answer["payload"]["size_bytes"])
            break
        if msg.get("type") == "DOWNLOAD_ERROR":
            raise RuntimeError(f"download failed: {msg}")
    elapsed = time.perf_counter() - t0
    writer.close()
    return received, elapsed


async def playhub_download_binary(port: int, token: str, game_id: str) -> tuple[int, float]:
    """One binary-mode download on a length-prefixed connection, parsed with the project's frame decoder; returns
    (bytes received, seconds)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=READ_LIMIT)
    req = {
        "type": "DOWNLOAD_BEGIN",
        "token": token,
        "payload": {"game_id": game_id, "encoding": "binary"},
        "id": 1,
    }
    decoder = FrameDecoder(64 << 20, Framing.LENGTH_PREFIXED)
    t0 = time.perf_counter()
    writer.write(encode_frame(Framing.LENGTH_PREFIXED, json.dumps(req).encode()))
    received = 0
    answered = False
    try:
        while True:
            block = await reader.read(1 << 18)  # as the raw client reads
            if not block:
                raise ConnectionError("server closed the connection mid-download")
            for frame in decoder.feed(block):
                if is_binary_frame(frame):
                    received += len(decode_binary(frame).data)
                    continue
                msg = json.loads(frame)
                if "status" in msg:
                    if msg["status"] != "ok":
                        raise RuntimeError(f"DOWNLOAD_BEGIN failed: {msg}")
                    answered = True
                elif msg.get("type") == "DOWNLOAD_END":
                    assert answered
                    return received, time.perf_counter() - t0
                elif msg.get("type") == "DOWNLOAD_ERROR":
                    raise RuntimeError(f"download failed: {msg}")
    finally:
        writer.close()


async def raw_download(port: int) -> tuple[int, float]:
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=READ_LIMIT)
    received = 0
    while block := await reader.read(1 << 18):
        received += len(block)
    elapsed = time.perf_counter() - t0
    writer.close()
    return received, elapsed


async def _sample_rss(pid: int, peaks: list[int], done: asyncio.Event) -> None:
    while not done.is_set():
        peaks.append(rss_bytes(pid))
        await asyncio.sleep(0.05)


async def run(args: argparse.Namespace) -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        big_mb, par_mb = args.big_mb, args.parallel_mb
        ids = await asyncio.to_thread(
            populate, tmp / "data", args.games, {"big": big_mb << 20, "medium": par_mb << 20}
        )
        hub_proc, ports = start_playhub(tmp / "data")
        procs = [hub_proc]
        try:
            lobby = ports["lobby_port"]
            client = await Client.connect("127.0.0.1", lobby)
            await client.register_player("benchplayer", "bench-password")
            listing = await client.request_raw("LIST_GAMES")
            body = msgspec.json.encode(listing["payload"])
            (tmp / "listing.json").write_bytes(body)
            results["listing_games"] = len(listing["payload"]["games"])
            results["listing_bytes"] = len(body)

            # 1. cached store reads
            base_proc, base_port = start_baseline(tmp)
            same_proc, same_port = start_raw(tmp, "fixed", tmp / "listing.json")
            procs += [base_proc, same_proc]
            tokens = []
            for i in range(args.connections):
                c = await Client.connect("127.0.0.1", lobby)
                await c.register_player(f"reader{i}", "bench-password")
                tokens.append(c.token)
                await c.close()
            hub_lines = [b'{"type":"LIST_GAMES","token":"%s","id":1}\n' % t.encode() for t in tokens]  # type: ignore[union-attr]
            raw_lines = [b'{"type":"PING","id":1}\n']
            rates: dict[str, list[float]] = {"baseline": [], "same_bytes": [], "playhub": []}
            for _ in range(args.rounds):
                rates["baseline"].append(
                    await closed_loop_load("127.0.0.1", base_port, raw_lines, args.connections, args.seconds)
                )
                rates["same_bytes"].append(
                    await closed_loop_load("127.0.0.1", same_port, raw_lines, args.connections, args.seconds)
                )
                rates["playhub"].append(
                    await closed_loop_load("127.0.0.1", lobby, hub_lines, args.connections, args.seconds)
                )
            for key, values in rates.items():
                results[f"list_{key}_rps"] = max(values)
            for p in (base_proc, same_proc):
                p.terminate()
                p.wait(10)

            # 2. one large download
            big_path = tmp / "data" / "uploadedGame" / ids["big"] / "1.0.0.zip"
            file_proc, file_port = start_raw(tmp, "file", big_path)
            procs.append(file_proc)
            hub_best = raw_best = stream_best = bin_best = 0.0
            big_size = big_path.stat().st_size
            for _ in range(args.rounds):
                size, secs = await raw_download(file_port)
                raw_best = max(raw_best, size / secs)
                got, secs = await playhub_download(lobby, client.token or "", ids["big"], decode=True)
                if got != big_size:
                    raise RuntimeError(f"downloaded {got} bytes, expected {big_size}")
                hub_best = max(hub_best, got / secs)
                got, secs = await playhub_download(lobby, client.token or "", ids["big"], decode=False)
                stream_best = max(stream_best, got / secs)
                got, secs = await playhub_download_binary(lobby, client.token or "", ids["big"])
                if got != big_size:
                    raise RuntimeError(f"downloaded {got} bytes in binary mode, expected {big_size}")
                bin_best = max(bin_best, got / secs)
            results["download_stream_mbps"] = stream_best / 2**20
            results["download_binary_mbps"] = bin_best / 2**20
            # The client library end to end: part file, resume record, SHA-256 check, safe unpack, rename; base64
            # on an NDJSON connection, binary on a length-prefixed one.
            for key, framing in (
                ("library_mbps", Framing.NDJSON),
                ("library_binary_mbps", Framing.LENGTH_PREFIXED),
            ):
                lib_client = await Client.connect("127.0.0.1", lobby, framing=framing)
                lib_client.token = client.token
                library = LocalLibrary(tmp / f"downloads-{key}", "benchplayer")
                t0 = time.perf_counter()
                await download_game(lib_client, library, ids["big"])
                results[key] = big_size / (time.perf_counter() - t0) / 2**20
                await lib_client.close()
            results["big_bytes"] = big_size
            results["download_raw_mbps"] = raw_best / 2**20
            results["download_playhub_mbps"] = hub_best / 2**20
            file_proc.terminate()
            file_proc.wait(10)

            # 3. many downloads at once
            parallel = []
            for i in range(args.parallel):
                c = await Client.connect("127.0.0.1", lobby)
                await c.register_player(f"downloader{i}", "bench-password")
                parallel.append(c.token or "")
                await c.close()
            medium = (tmp / "data" / "uploadedGame" / ids["medium"] / "1.0.0.zip").stat().st_size
            results["parallel"] = args.parallel
            results["parallel_bytes"] = medium
            for mode in ("base64", "binary"):
                await asyncio.sleep(0.5)
                before = rss_bytes(hub_proc.pid)
                peaks = [before]
                done = asyncio.Event()
                sampler = asyncio.create_task(_sample_rss(hub_proc.pid, peaks, done))
                t0 = time.perf_counter()
                try:
                    if mode == "binary":
                        outs = await asyncio.gather(
                            *(playhub_download_binary(lobby, tok, ids["medium"]) for tok in parallel)
                        )
                    else:
                        outs = await asyncio.gather(
                            *(playhub_download(lobby, tok, ids["medium"], decode=False) for tok in parallel)
                        )
                finally:
                    elapsed = time.perf_counter() - t0
                    done.set()
                    await sampler
                suffix = "" if mode == "base64" else "_binary"
                results[f"parallel_seconds{suffix}"] = elapsed
                results[f"parallel_mbps{suffix}"] = medium * len(outs) / elapsed / 2**20
                results[f"parallel_rss_growth_mb{suffix}"] = (max(peaks) - before) / 2**20
                results[f"rss_before_mb{suffix}"] = before / 2**20
            await client.close()
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
                    p.wait(10)
    return results


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] in ("--serve-fixed", "--serve-file"):
        use_fast_loop()
        serve = _serve_fixed if sys.argv[1] == "--serve-fixed" else _serve_file
        asyncio.run(serve(Path(sys.argv[2]), Path(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per round and server")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is kept")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--games", type=int, default=200)
    parser.add_argument("--big-mb", type=int, default=100, help="size of the single large download")
    parser.add_argument("--parallel", type=int, default=50, help="concurrent downloads")
    parser.add_argument(
        "--parallel-mb", type=int, default=20, help="size of the package downloaded concurrently"
    )
    args = parser.parse_args()
    loop = use_fast_loop()
    r = asyncio.run(run(args))
    print(f"event loop: {loop}, {args.connections} connections, {args.seconds:g} s x {args.rounds} rounds")
    print(f"LIST_GAMES: {int(r['listing_games'])} games, {int(r['listing_bytes'])} bytes per answer")
    print(f"  raw baseline (small answer) : {r['list_baseline_rps']:10.0f} req/s")
    print(f"  raw server, same bytes      : {r['list_same_bytes_rps']:10.0f} req/s")
    print(f"  PlayHub LIST_GAMES (cached) : {r['list_playhub_rps']:10.0f} req/s")
    print(
        f"  ratio vs raw baseline       : {r['list_playhub_rps'] / r['list_baseline_rps']:.2f}x (target >= 0.5x)"
    )
    print(f"  ratio vs same-bytes server  : {r['list_playhub_rps'] / r['list_same_bytes_rps']:.2f}x")
    print(f"download of {r['big_bytes'] / 2**20:.0f} MB:")
    print(f"  raw socket copy             : {r['download_raw_mbps']:10.1f} MB/s")
    print(f"  PlayHub, client not decoding: {r['download_stream_mbps']:10.1f} MB/s")
    print(f"  PlayHub download (decoded)  : {r['download_playhub_mbps']:10.1f} MB/s")
    print(
        f"  ratio                       : {r['download_playhub_mbps'] / r['download_raw_mbps']:.2f}x (target >= 0.25x)"
    )
    print(f"  PlayHub binary frames       : {r['download_binary_mbps']:10.1f} MB/s")
    print(
        f"  ratio binary                : {r['download_binary_mbps'] / r['download_raw_mbps']:.2f}x (target >= 0.7x)"
    )
    print(f"  download_game, installed    : {r['library_mbps']:10.1f} MB/s (write, SHA-256, unpack, rename)")
    print(
        f"  download_game, binary       : {r['library_binary_mbps']:10.1f} MB/s (same, binary chunk frames)"
    )
    print(f"{int(r['parallel'])} concurrent downloads of {r['parallel_bytes'] / 2**20:.0f} MB:")
    for label, suffix in (("base64", ""), ("binary", "_binary")):
        print(
            f"  {label} aggregate            : {r['parallel_mbps' + suffix]:10.1f} MB/s in "
            f"{r['parallel_seconds' + suffix]:.1f} s"
        )
        print(
            f"  {label} server RSS           : {r['rss_before_mb' + suffix]:.0f} MB before, "
            f"+{r['parallel_rss_growth_mb' + suffix]:.1f} MB at peak (target < 100 MB)"
        )


if __name__ == "__main__":
    main()

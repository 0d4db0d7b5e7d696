"""Helpers for the lobby tests: games written straight into the store, and small real game servers."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from playhub.client import Client
from playhub.server.app import PlayHubApp

# A game server driven by its clients, one command per line:
#   env                    -> its environment, cwd, process group, limits, room secret and ids as one JSON line
#   hello <user> <ticket>  -> "ticket ok" / "ticket bad" (checks the ticket with playhub.sdk.tickets)
#   finish <json>          -> sends GAME_FINISHED (with the room secret) to the lobby; replies with the lobby's answer
#   legacy <json>          -> sends seed 003's {"kind": "game_finished", ...} line; replies with the lobby's answer
#   child                  -> starts a sleeping child process in its group; replies with its pid
#   exit <code>            -> exits at once with that code
#   anything else          -> echoed back
ECHO_SERVER = r"""
import asyncio, json, os, resource, socket, subprocess, sys

from playhub.sdk import room_secret
from playhub.sdk.tickets import verify_ticket

def lobby_call(message):
    with socket.create_connection((os.environ["LOBBY_CONNECT_HOST"], int(os.environ["LOBBY_CONNECT_PORT"])), 5) as s:
        s.sendall((json.dumps(message) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode().strip()

async def handle(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        text = line.decode().strip()
        cmd, _, arg = text.partition(" ")
        if cmd == "env":
            out = json.dumps({
                "env": dict(os.environ),
                "argv": sys.argv[1:],
                "cwd": os.getcwd(),
                "pgid": os.getpgid(0),
                "pid": os.getpid(),
                "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                "as": resource.getrlimit(resource.RLIMIT_AS)[0],
                "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
                "fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
                "secret": room_secret(),
                "uid": os.getuid(),
                "gid": os.getgid(),
                "groups": os.getgroups(),
            })
        elif cmd == "hello":
            user, _, ticket = arg.partition(" ")
            ok = verify_ticket(room_secret(), os.environ["ROOM_ID"], user, ticket)
            out = "ticket ok" if ok else "ticket bad"
        elif cmd == "finish":
            extra = json.loads(arg or "{}")
            msg = {"type": "GAME_FINISHED", "payload": {"room_id": os.environ["ROOM_ID"],
                   "secret": room_secret(), **extra}}
            out = await asyncio.to_thread(lobby_call, msg)
        elif cmd == "legacy":
            extra = json.loads(arg or "{}")
            out = await asyncio.to_thread(lobby_call, {"kind": "game_finished", "room_id": os.environ["ROOM_ID"], **extra})
        elif cmd == "child":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            out = str(child.pid)
        elif cmd == "exit":
            os._exit(int(arg or "0"))
        else:
            out = text
        writer.write((out + "\n").encode())
        await writer.drain()
    writer.close()

async def main():
    print("echo server starting on", os.environ["GAME_PORT"], flush=True)
    server = await asyncio.start_server(handle, os.environ["GAME_HOST"], int(os.environ["GAME_PORT"]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""

CRASH_SERVER = r"""
import sys
print("loading the level failed: boom", file=sys.stderr, flush=True)
sys.exit(3)
"""

SILENT_SERVER = r"""
import time
print("thinking very hard instead of listening", flush=True)
time.sleep(600)
"""

# Listens, then exits by itself a little later (a match that ends without telling the lobby).
EXIT_LATER_SERVER = r"""
import os, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((os.environ["GAME_HOST"], int(os.environ["GAME_PORT"])))
s.listen()
time.sleep(float(os.environ.get("EXIT_AFTER", "0.8")))
sys.exit(int(open("exit_code.txt").read()) if os.path.exists("exit_code.txt") else 0)
"""

# Listens, then writes far more output than any log should hold.
FLOOD_SERVER = r"""
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((os.environ["GAME_HOST"], int(os.environ["GAME_PORT"])))
s.listen()
s.accept()[0].close()  # the readiness probe
line = "x" * 1023 + "\n"
for _ in range(100_000):
    sys.stdout.write(line)
"""

# Minimal seed-003 game: listens, sends the legacy line by itself after a moment, and exits.
LEGACY_SERVER = r"""
import json, os, socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((os.environ["GAME_HOST"], int(os.environ["GAME_PORT"])))
s.listen()
time.sleep(0.5)
with socket.create_connection((os.environ["LOBBY_CONNECT_HOST"], int(os.environ["LOBBY_CONNECT_PORT"]))) as c:
    c.sendall((json.dumps({"kind": "game_finished", "room_id": os.environ["ROOM_ID"], "kick_all": False}) + "\n").encode())
    print("lobby said", c.recv(4096).decode().strip(), flush=True)
"""


def _ensure_developer(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT id FROM accounts WHERE role = 'developer' AND username = 'lobbydev'"
    ).fetchone()
    if row:
        return int(row[0])
    cur = conn.execute(
        "INSERT INTO accounts (role, username, password_hash, created_at) VALUES ('developer', 'lobbydev', 'x', ?)",
        (time.time(),),
    )
    return int(cur.lastrowid)  # type: ignore[arg-type]


def _insert_game(
    conn: sqlite3.Connection,
    game_id: str,
    name: str,
    max_players: int,
    min_players: int | None,
    status: str,
    version: str | None,
    manifest: dict[str, Any],
) -> None:
    dev = _ensure_developer(conn)
    now = time.time()
    conn.execute(
        "INSERT INTO games (id, developer_id, name, display_name, description, game_type, max_players, min_players, "
        "status, latest_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'cli', ?, ?, ?, ?, ?, ?)",
        (
            game_id,
            dev,
            name,
            name.title(),
            "a test game",
            max_players,
            min_players,
            status,
            version,
            now,
            now,
        ),
    )
    if version is not None:
        major, minor, patch = (int(x) for x in version.split("."))
        conn.execute(
            "INSERT INTO versions (game_id, version, major, minor, patch, size_bytes, checksum, manifest, uploaded_at) "
            "VALUES (?, ?, ?, ?, ?, 0, '', ?, ?)",
            (game_id, version, major, minor, patch, json.dumps(manifest), now),
        )


async def make_game(
    app: PlayHubApp,
    name: str,
    server_code: str = ECHO_SERVER,
    *,
    max_players: int = 2,
    min_players: int | None = None,
    status: str = "ONLINE",
    version: str | None = "1.0.0",
    files: dict[str, str] | None = None,
) -> str:
    """Publish a game by writing its rows and its unpacked folder directly. Returns the game id."""
    game_id = f"g-{name}"
    manifest: dict[str, Any] = {
        "name": name,
        "display_name": name.title(),
        "type": "cli",
        "max_players": max_players,
        "entry_server": "server.py",
        "entry_client": "client.py",
        "description": "a test game",
    }
    if min_players is not None:
        manifest["min_players"] = min_players
    if version is not None:
        folder = app.blobs.version_dir(game_id, version)
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps(manifest))
        (folder / "server.py").write_text(server_code)
        (folder / "client.py").write_text("print('client')\n")
        for rel, text in (files or {}).items():
            (folder / rel).write_text(text)
    await app.db.run(_insert_game, game_id, name, max_players, min_players, status, version, manifest)
    return game_id


async def set_status(app: PlayHubApp, game_id: str, status: str) -> None:
    def run(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE games SET status = ? WHERE id = ?", (status, game_id))

    await app.db.run(run)


class GameConn:
    """A line-based connection to a spawned game server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> GameConn:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def ask(self, line: str, timeout: float = 10.0) -> str:
        self.writer.write((line + "\n").encode())
        await self.writer.drain()
        return (await asyncio.wait_for(self.reader.readline(), timeout)).decode().strip()

    async def ask_json(self, line: str) -> Any:
        return json.loads(await self.ask(line))

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


async def start_two(
    hub: Any, game_id: str, a: str = "alice", b: str = "bob"
) -> tuple[Client, Client, dict, str]:
    """Two players in one room, started through an accepted vote. Returns (host, guest, START_ROOM answer, room id)."""
    host = await hub.player(a)
    guest = await hub.player(b)
    room_id = (await host.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await guest.request("JOIN_ROOM", {"room_id": room_id})
    votes = guest.subscribe("VOTE_REQUEST")
    pending = asyncio.ensure_future(host.request("START_ROOM", {"room_id": room_id}))
    req = (await asyncio.wait_for(votes.get(), 10))["payload"]
    await guest.request("VOTE", {"seq": req["seq"], "accept": True})
    answer = await pending
    return host, guest, answer, room_id


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


async def wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False

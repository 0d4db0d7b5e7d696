"""Game-server isolation with real processes: each match runs as a uid of its own, in a cgroup of its own, in a run
folder of its own, with nothing of the data folder readable, and dies whole when its room ends.

Most tests need root (uid switching, cgroups) and skip with the reason otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from playhub.client import Client
from playhub.protocol.errors import BadState
from playhub.store.blobs import BlobStore
from playhub.store.db import _connect as connect
from playhub.store.db import migrate
from playhub.supervisor.accounts import PoolExhausted, UidPool, uids_processes
from playhub.supervisor.cgroups import CgroupLimits, CgroupManager
from tests.helpers import Harness, ServerProcess
from tests.lobby_helpers import GameConn, _insert_game, make_game, pid_alive, wait_dead

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="uid switching and cgroups need root; see docs/security.md")


def _cgroups_usable() -> bool:
    if not ROOT:
        return False
    return CgroupManager.detect("playhub-probe", "probe", CgroupLimits()) is not None


# A hostile game server, driven by its client one command per line (one reply line each):
#   info              -> pid, ids, home, secret file, cwd, cgroup membership, environment names, as JSON
#   read <path>       -> "ok" or "denied <error>"      (reads the file, or lists the folder)
#   write <path>      -> "ok" or "denied <error>"      (appends to the file, creating it)
#   daemon            -> the pid of a grandchild that left the session (setsid) and was double-forked
#   legacy <room_id>  -> the lobby's answer to seed 003's {"kind":"game_finished"} line for that room
HOSTILE_SERVER = r"""
import asyncio, json, os, socket, subprocess, sys

from playhub.sdk import room_secret

DAEMON = '''
import os, sys, time
os.setsid()
pid = os.fork()
if pid:
    print(pid, flush=True)
    os._exit(0)
os.close(0); os.close(1); os.close(2)
time.sleep(600)
'''

def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as exc:
        return f"denied {type(exc).__name__}"

def read(path):
    if os.path.isdir(path):
        os.listdir(path)
    else:
        with open(path, "rb") as f:
            f.read(1)

def write(path):
    with open(path, "a") as f:
        f.write("pwned")

def legacy(room_id):
    with socket.create_connection((os.environ["LOBBY_CONNECT_HOST"], int(os.environ["LOBBY_CONNECT_PORT"])), 5) as s:
        s.sendall((json.dumps({"kind": "game_finished", "room_id": room_id, "kick_all": False}) + "\n").encode())
        return s.makefile().readline().strip()

async def handle(reader, writer):
    while line := await reader.readline():
        cmd, _, arg = line.decode().strip().partition(" ")
        if cmd == "info":
            out = json.dumps({
                "pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
                "home": os.environ["HOME"], "secret_file": os.environ.get("PLAYHUB_ROOM_SECRET_FILE"),
                "secret": room_secret(), "cwd": os.getcwd(), "cgroup": open("/proc/self/cgroup").read(),
                "env": sorted(os.environ), "python": sys.executable,
            })
        elif cmd == "read":
            out = attempt(lambda: read(arg))
        elif cmd == "write":
            out = attempt(lambda: write(arg))
        elif cmd == "daemon":
            out = subprocess.run([sys.executable, "-c", DAEMON], capture_output=True, text=True).stdout.strip()
        elif cmd == "legacy":
            out = await asyncio.to_thread(legacy, arg)
        else:
            out = "?"
        writer.write((out + "\n").encode())
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(handle, os.environ["GAME_HOST"], int(os.environ["GAME_PORT"]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


async def _solo_match(hub: Harness, name: str, user: str) -> tuple[Client, str, GameConn, dict[str, Any]]:
    game_id = await make_game(hub.app, name, HOSTILE_SERVER, max_players=1, files={"data.txt": "level 1\n"})
    player = await hub.player(user)
    room_id = (await player.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    answer = await player.request("START_ROOM", {"room_id": room_id})
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    info = await game.ask_json("info")
    return player, room_id, game, info


@needs_root
async def test_a_hostile_game_cannot_reach_the_platform_or_other_matches(hub: Harness) -> None:
    _pa, room_a, a, info_a = await _solo_match(hub, "hostile", "alice")
    _pb, room_b, b, info_b = await _solo_match(hub, "victim", "bob")
    data = hub.app.data_dir
    s = hub.app.settings
    # Each match its own uid from the pool, gid = uid, no supplementary groups.
    for info in (info_a, info_b):
        assert s.game_uid_base <= info["uid"] < s.game_uid_base + s.game_uid_count
        assert info["gid"] == info["uid"] and info["groups"] == []
    assert info_a["uid"] != info_b["uid"]
    # The secret is in a file, not in the environment.
    assert "PLAYHUB_ROOM_SECRET" not in info_a["env"] and len(info_a["secret"]) == 64
    environ = await asyncio.to_thread(Path(f"/proc/{info_a['pid']}/environ").read_bytes)
    assert info_a["secret"].encode() not in environ
    victim_version = hub.app.blobs.version_dir("g-victim", "1.0.0")
    own_version = hub.app.blobs.version_dir("g-hostile", "1.0.0")
    denied = {
        "the database": f"read {data / 'playhub.sqlite3'}",
        "the data folder": f"read {data}",
        "the platform's environment": f"read /proc/{os.getpid()}/environ",
        "another match's environment": f"read /proc/{info_b['pid']}/environ",
        "another match's secret": f"read {info_b['secret_file']}",
        "another match's home": f"read {info_b['home']}",
        "another match's files": f"read {info_b['cwd']}/server.py",
        "another game's published files": f"read {victim_version / 'server.py'}",
        "the room logs": f"read {data / 'logs' / 'rooms' / (room_b + '.log')}",
        "its own copy of the code": f"write {info_a['cwd']}/server.py",
        "a new file next to its code": f"write {info_a['cwd']}/evil.py",
        "its own published version": f"write {own_version / 'server.py'}",
        "another match's home (write)": f"write {info_b['home']}/planted",
        "the run folders' list": f"read {Path(info_a['home']).parent.parent}",
    }
    for what, command in denied.items():
        assert (await a.ask(command)).startswith("denied"), f"a game could {command.split()[0]} {what}"
    # What it may do: read its own files and secret, write in its home.
    assert await a.ask(f"read {info_a['cwd']}/data.txt") == "ok"
    assert await a.ask(f"read {info_a['secret_file']}") == "ok"
    assert await a.ask(f"write {info_a['home']}/save.txt") == "ok"
    assert (own_version / "server.py").read_text() == HOSTILE_SERVER
    for game in (a, b):
        await game.close()


async def test_the_data_folder_is_private(make_hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data0"  # where make_hub puts its first server's data
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)  # an older version, or a careless umask, left it open
    db = data / "playhub.sqlite3"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    hub = await make_hub()
    assert hub.app.data_dir == data
    await hub.player("alice")  # some writes, so the WAL files exist
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("playhub.sqlite3", "playhub.sqlite3-wal", "playhub.sqlite3-shm"):
        path = data / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


@pytest.mark.skipif(not _cgroups_usable(), reason="needs root and a writable cgroup file system")
async def test_a_setsid_grandchild_dies_when_the_room_closes(hub: Harness) -> None:
    player, room_id, game, info = await _solo_match(hub, "escaper", "alice")
    daemon = int(await game.ask("daemon"))
    assert pid_alive(daemon) and os.getpgid(daemon) != info["pid"]
    # The match's cgroup holds the limits for all of its processes together.
    s = hub.app.settings
    cg = hub.app.rooms.rooms[room_id].server.match.cgroup
    assert daemon in cg.pids() and info["pid"] in cg.pids()
    if "pids" in cg.limited:
        assert (cg.limited["pids"] / "pids.max").read_text().strip() == str(s.game_room_processes)
    if "memory" in cg.limited:
        limit_file = (
            "memory.max" if (cg.limited["memory"] / "memory.max").exists() else "memory.limit_in_bytes"
        )
        assert int((cg.limited["memory"] / limit_file).read_text()) == s.game_room_memory_bytes
    await game.close()
    await player.request("LEAVE_ROOM", {"room_id": room_id})  # the last member leaves: the room closes
    assert await wait_dead(info["pid"], 10)
    assert await wait_dead(daemon, 10), "a process that left the session outlived its room"
    await asyncio.sleep(0.2)
    assert not any(f.exists() for f in cg.folders)
    assert await asyncio.to_thread(uids_processes, {info["uid"]}) == {}


def _publish_hostile(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    game_id = "g-lurker"
    manifest = {
        "name": "lurker",
        "display_name": "Lurker",
        "type": "cli",
        "max_players": 1,
        "entry_server": "server.py",
        "entry_client": "client.py",
        "description": "a test game",
    }
    folder = BlobStore(data_dir).version_dir(game_id, "1.0.0")
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "server.py").write_text(HOSTILE_SERVER)
    conn = connect(data_dir / "playhub.sqlite3")
    try:
        migrate(conn)
        _insert_game(conn, game_id, "lurker", 1, None, "ONLINE", "1.0.0", manifest)
    finally:
        conn.close()
    return game_id


@needs_root
async def test_leftovers_of_a_killed_playhub_are_reaped_at_startup(tmp_path: Path) -> None:
    data = tmp_path / "data"
    game_id = await asyncio.to_thread(_publish_hostile, data)
    server = await asyncio.to_thread(ServerProcess(data).start)
    try:
        client = await Client.connect("127.0.0.1", server.lobby_port)
        await client.register_player("alice", "secret-pw")
        room = (await client.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
        answer = await client.request("START_ROOM", {"room_id": room})
        game = await GameConn.open("127.0.0.1", answer["game_port"])
        info = await game.ask_json("info")
        daemon = int(await game.ask("daemon"))
        await game.close()
        await client.close()
        # SIGKILL: no cleanup at all. (Any PlayHub starting on this host from now on reaps the leftovers: their
        # uid is held by no one any more. The restart below is one.)
        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(server.start)
        assert await wait_dead(info["pid"], 10)
        assert await wait_dead(daemon, 10), "a detached process of the old match survived the restart"
        assert await asyncio.to_thread(uids_processes, {info["uid"]}) == {}
    finally:
        await asyncio.to_thread(server.stop)


async def test_legacy_line_from_another_rooms_server_is_refused(hub: Harness) -> None:
    pa, room_a, a, info_a = await _solo_match(hub, "forger", "alice")
    pb, room_b, b, info_b = await _solo_match(hub, "target", "bob")
    # Room A's server (another uid; without root, another process tree) forges room B's end: 102, B keeps playing.
    reply = json.loads(await a.ask(f"legacy {room_b}"))
    assert reply["code"] == 102
    assert hub.app.rooms.rooms[room_b].state.value == "PLAYING"
    # B's own server may.
    assert json.loads(await b.ask(f"legacy {room_b}"))["status"] == "ok"
    assert hub.app.rooms.rooms[room_b].state.value == "WAITING"
    for game in (a, b):
        await game.close()


async def test_spawn_failure_puts_the_room_back_to_waiting_with_a_reason(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(game_server_python="/nonexistent/python3")
    game_id = await make_game(hub.app, "broken", max_players=1)
    player = await hub.player("alice")
    room_id = (await player.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    update = asyncio.ensure_future(player.wait_push("ROOM_UPDATED", lambda p: "reason" in p))
    with pytest.raises(BadState) as info:
        await player.request("START_ROOM", {"room_id": room_id})
    assert info.value.code == 105 and "/nonexistent/python3" in info.value.message
    pushed = await asyncio.wait_for(update, 10)
    assert pushed["room"]["status"] == "WAITING" and "failed to start" in pushed["reason"]
    assert (await player.request("LIST_ROOMS"))["rooms"][0]["status"] == "WAITING"
    # Nothing of the failed match is left: its run folder and its uid are free again.
    supervisor = hub.app.rooms.supervisor
    assert [p.name for p in supervisor.run_root.iterdir() if p.name != "lib"] == []


@needs_root
def test_uid_pool_never_hands_out_a_uid_twice(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    one, two = UidPool(62_000, 2, locks), UidPool(62_000, 2, locks)  # two PlayHubs on one host
    a = one.acquire("room-a")
    b = two.acquire("room-b")
    assert {a.uid, b.uid} == {62_000, 62_001}
    with pytest.raises(PoolExhausted):
        one.acquire("room-c")
    two.release(b)
    assert one.acquire("room-d").uid == b.uid


@needs_root
def test_a_uid_left_by_a_dead_holder_is_cleaned_before_reuse(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    (locks / "62100.lock").write_text("12345 room-of-a-crashed-playhub")
    leftover = subprocess.Popen(
        ["/bin/sleep", "60"],
        user=62_100,
        group=62_100,
        extra_groups=[],
    )
    try:
        pool = UidPool(62_100, 1, locks)
        account = pool.acquire("fresh")
        assert account.uid == 62_100
        assert leftover.wait(5) == -9
        pool.release(account)
        assert (locks / "62100.lock").read_text() == ""
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()


@needs_root
async def test_no_free_game_uid_answers_105(make_hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(game_uid_base=62_200, game_uid_count=1, game_uid_lock_dir=tmp_path / "uid-locks")
    _pa, _room_a, a, info_a = await _solo_match(hub, "first", "alice")
    assert info_a["uid"] == 62_200
    game_id = await make_game(hub.app, "second", HOSTILE_SERVER, max_players=1)
    bob = await hub.player("bob")
    room_b = (await bob.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    with pytest.raises(BadState) as info:
        await bob.request("START_ROOM", {"room_id": room_b})
    assert info.value.code == 105 and "no free game uid" in info.value.message
    assert hub.app.rooms.rooms[room_b].state.value == "WAITING"
    await a.close()


async def test_a_planted_run_folder_is_refused(make_hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Someone who can write the run folder's parent (a shared /tmp) plants a link where PlayHub's run folder goes."""
    runs = tmp_path / "runs"
    runs.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    hub = await make_hub(game_run_dir=runs)
    root = hub.app.rooms.supervisor.run_root
    root.symlink_to(elsewhere)
    game_id = await make_game(hub.app, "planted", max_players=1)
    player = await hub.player("alice")
    room_id = (await player.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    with pytest.raises(BadState) as info:
        await player.request("START_ROOM", {"room_id": room_id})
    assert info.value.code == 105 and "run folder" in info.value.message
    assert (await player.request("LIST_ROOMS"))["rooms"][0]["status"] == "WAITING"
    assert list(elsewhere.iterdir()) == []


@needs_root
async def test_without_cgroups_the_uid_still_ends_the_whole_match(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(game_cgroups="off")
    player, room_id, game, info = await _solo_match(hub, "nocgroup", "alice")
    assert hub.app.rooms.rooms[room_id].server.match.cgroup is None
    daemon = int(await game.ask("daemon"))
    assert pid_alive(daemon)
    await game.close()
    await player.request("LEAVE_ROOM", {"room_id": room_id})
    assert await wait_dead(info["pid"], 10)
    assert await wait_dead(daemon, 10), "a process that left the session outlived its room"

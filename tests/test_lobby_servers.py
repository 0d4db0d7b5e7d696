"""Game-server supervision: env contract, isolation, readiness failures, exits, teardown and leftovers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from playhub.protocol.errors import BadState
from playhub.settings import Settings
from playhub.supervisor import pidfiles
from tests.helpers import Harness
from tests.lobby_helpers import (
    CRASH_SERVER,
    ECHO_SERVER,
    EXIT_LATER_SERVER,
    FLOOD_SERVER,
    SILENT_SERVER,
    GameConn,
    make_game,
    pid_alive,
    start_two,
    wait_dead,
)

ENV_CONTRACT = {
    "GAME_HOST",
    "GAME_PORT",
    "SERVER_PORT",
    "ROOM_ID",
    "GAME_NAME",
    "GAME_VERSION",
    "LOBBY_HOST",
    "LOBBY_PORT",
    "LOBBY_CONNECT_HOST",
    "LOBBY_CONNECT_PORT",
    "PLAYHUB_ROOM_SECRET_FILE",
    "PLAYHUB_PLAYERS",
    "PYTHONPATH",
    "PATH",
    "LANG",
    "HOME",
    "TMPDIR",
    "PYTHONUNBUFFERED",
}


async def _solo(hub: Harness, name: str, code: str, user: str = "alice") -> tuple[object, str]:
    game_id = await make_game(hub.app, name, code, max_players=1)
    player = await hub.player(user)
    room_id = (await player.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    return player, room_id


async def test_env_contract_clean_env_limits_and_group(hub: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYHUB_TEST_SECRET_OF_THE_PLATFORM", "must-not-leak")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    game_id = await make_game(hub.app, "envcheck")
    host, guest, answer, room_id = await start_two(hub, game_id)
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    info = await game.ask_json("env")
    env = info["env"]
    assert set(env) == ENV_CONTRACT | {"SDL_VIDEODRIVER"}
    s = hub.app.settings
    assert env["GAME_HOST"] == "127.0.0.1" and env["GAME_PORT"] == str(answer["game_port"])
    assert env["ROOM_ID"] == room_id and env["GAME_NAME"] == "envcheck" and env["GAME_VERSION"] == "1.0.0"
    assert env["LOBBY_HOST"] == "127.0.0.1" and env["LOBBY_PORT"] == str(hub.app.lobby_port)
    assert env["LOBBY_CONNECT_HOST"] == "127.0.0.1" and env["LOBBY_CONNECT_PORT"] == str(hub.app.lobby_port)
    assert env["PLAYHUB_PLAYERS"] == "alice,bob" and len(info["secret"]) == 64
    # The match's own run folder: a read-only copy of the version as cwd, a home, the SDK, the secret file.
    run = Path(env["HOME"]).parent
    assert run.parent == hub.app.rooms.supervisor.run_root and run.name.startswith(f"{room_id}-")
    assert env["PYTHONPATH"] == str(run.parent / "lib") and (run.parent / "lib" / "playhub" / "sdk").is_dir()
    assert env["PLAYHUB_ROOM_SECRET_FILE"] == str(run / "secret")
    assert env["HOME"] == env["TMPDIR"] == str(run / "home")
    assert info["cwd"] == str(run / "game")
    assert (run / "game" / "server.py").read_bytes() == (
        hub.app.blobs.version_dir(game_id, "1.0.0") / "server.py"
    ).read_bytes()
    # Own process group, limits from the settings.
    assert info["pgid"] == info["pid"] != os.getpgid(0)
    assert info["nofile"] == s.game_server_open_files
    assert info["as"] == s.game_server_memory_bytes
    assert info["cpu"] == s.game_server_cpu_seconds
    assert info["fsize"] == s.game_server_file_bytes
    # A pid file while it runs; the log file per room.
    pid_dir = hub.app.data_dir / "run" / "game-servers"
    assert [p.name for p in pid_dir.glob("*.json")] == [f"{room_id}-{info['pid']}.json"]
    log_text = (hub.app.data_dir / "logs" / "rooms" / f"{room_id}.log").read_text()
    assert "echo server starting on" in log_text and "starting" in log_text.splitlines()[0]
    # A child in the group dies with the match.
    child = int(await game.ask("child"))
    assert pid_alive(child)
    await game.ask("finish {}")
    assert await wait_dead(info["pid"]) and await wait_dead(child)
    await asyncio.sleep(0.1)
    assert list(pid_dir.glob("*.json")) == []
    await game.close()


async def test_crash_at_start_answers_105_with_the_log_tail(hub: Harness) -> None:
    player, room_id = await _solo(hub, "crasher", CRASH_SERVER)
    with pytest.raises(BadState) as info:
        await player.request("START_ROOM", {"room_id": room_id})  # type: ignore[attr-defined]
    msg = info.value.message
    assert "exited with code 3 before accepting connections" in msg and "boom" in msg
    room = (await player.request("LIST_ROOMS"))["rooms"][0]  # type: ignore[attr-defined]
    assert room["status"] == "WAITING"


async def test_server_that_never_listens_is_killed(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(game_server_ready_timeout_s=0.8)
    player, room_id = await _solo(hub, "mute", SILENT_SERVER)
    with pytest.raises(BadState) as info:
        await player.request("START_ROOM", {"room_id": room_id})
    assert "did not accept connections" in info.value.message
    assert "thinking very hard" in info.value.message
    assert (await player.request("LIST_ROOMS"))["rooms"][0]["status"] == "WAITING"
    leftovers = await asyncio.to_thread(_room_processes, room_id)
    assert leftovers == []


def _room_processes(room_id: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                env = Path(f"/proc/{entry.name}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"ROOM_ID={room_id}".encode() in env and pid_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize(("code", "reason"), [(0, "exited"), (3, "crashed")])
async def test_server_exiting_mid_game(hub: Harness, code: int, reason: str) -> None:
    game_id = await make_game(hub.app, f"quitter{code}")
    host, guest, answer, room_id = await start_two(hub, game_id)
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    ended = asyncio.ensure_future(guest.wait_push("GAME_ENDED"))
    waiting = asyncio.ensure_future(
        host.wait_push("ROOM_UPDATED", lambda p: p["room"]["status"] == "WAITING")
    )
    game.writer.write(f"exit {code}\n".encode())
    assert (await ended) == {"room_id": room_id, "reason": reason, "results": None, "exit_code": code}
    await waiting
    await game.close()


async def test_server_exiting_by_itself_and_signal_crash(hub: Harness) -> None:
    player, room_id = await _solo(hub, "shortlived", EXIT_LATER_SERVER)
    ended = asyncio.ensure_future(player.wait_push("GAME_ENDED"))  # type: ignore[attr-defined]
    await player.request("START_ROOM", {"room_id": room_id})  # type: ignore[attr-defined]
    assert (await ended)["reason"] == "exited"
    # Killed by a signal: a crash with a negative exit code.
    game_id = await make_game(hub.app, "victim", max_players=1)
    other = await hub.player("victor")
    room2 = (await other.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    answer = await other.request("START_ROOM", {"room_id": room2})
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    pid = (await game.ask_json("env"))["pid"]
    ended2 = asyncio.ensure_future(other.wait_push("GAME_ENDED"))
    os.kill(pid, signal.SIGKILL)
    assert (await ended2) == {"room_id": room2, "reason": "crashed", "results": None, "exit_code": -9}
    await game.close()
    # Stopped on purpose from outside (Ctrl+C, kill): "stopped".
    answer = await other.request("START_ROOM", {"room_id": room2})
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    pid = (await game.ask_json("env"))["pid"]
    ended3 = asyncio.ensure_future(other.wait_push("GAME_ENDED"))
    os.kill(pid, signal.SIGTERM)
    assert (await ended3)["reason"] == "stopped" and (await ended3)["exit_code"] == -15
    await game.close()


async def test_shutdown_stops_every_game_server(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub()
    player, room_id = await _solo(hub, "stopme", ECHO_SERVER)
    answer = await player.request("START_ROOM", {"room_id": room_id})
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    pid = (await game.ask_json("env"))["pid"]
    await hub.app.stop()
    assert await wait_dead(pid, 5)
    assert list((hub.app.data_dir / "run" / "game-servers").glob("*.json")) == []
    conn = sqlite3.connect(hub.app.data_dir / "playhub.sqlite3")
    try:
        (result,) = conn.execute("SELECT result FROM plays WHERE room_id = ?", (room_id,)).fetchone()
    finally:
        conn.close()
    assert json.loads(result) == {"reason": "stopped", "results": None}
    await game.close()


async def test_reap_kills_only_recorded_processes_of_that_room(tmp_path: Path) -> None:
    """A pid file whose pid now belongs to an unrelated process must not kill it."""
    pid_dir = tmp_path / "run"
    stranger = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(30)")
    ours = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import time; time.sleep(30)",
        env={**os.environ, "ROOM_ID": "r-1"},
        start_new_session=True,
    )
    try:
        pidfiles.write(pid_dir, "r-0", stranger.pid, stranger.pid)  # a reused pid: not ours
        pidfiles.write(pid_dir, "r-1", ours.pid, ours.pid)
        pidfiles.write(pid_dir, "r-2", 999_999_999, 999_999_999)  # long gone
        (pid_dir / "junk.json").write_text("{not json")
        killed = await asyncio.to_thread(pidfiles.reap, pid_dir)
        assert killed == 1
        assert await asyncio.wait_for(ours.wait(), 5) == -signal.SIGKILL
        assert stranger.returncode is None and pid_alive(stranger.pid)
        assert list(pid_dir.iterdir()) == []
    finally:
        for proc in (stranger, ours):
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


def test_limits_default_are_named_settings() -> None:
    s = Settings()
    assert s.game_server_memory_bytes > 0 and s.game_server_cpu_seconds > 0
    assert s.game_server_open_files > 0 and s.game_server_processes > 0
    assert s.game_server_stop_grace_s > 0 and s.game_server_finish_grace_s >= 0


async def test_legacy_finish_only_from_the_rooms_own_server(hub: Harness) -> None:
    game_id = await make_game(hub.app, "remote")
    host, guest, answer, room_id = await start_two(hub, game_id)
    # A plain local process (not the room's game server) sends the legacy line: 102, the match goes on.
    reader, writer = await asyncio.open_connection("127.0.0.1", hub.app.lobby_port)
    writer.write((json.dumps({"kind": "game_finished", "room_id": room_id, "kick_all": False}) + "\n").encode())
    reply = json.loads(await asyncio.wait_for(reader.readline(), 10))
    writer.close()
    assert reply["code"] == 102 and "own game server" in reply["message"]
    assert (await host.request("LIST_ROOMS"))["rooms"][0]["status"] == "PLAYING"
    # The room's own server sends it: accepted.
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    assert json.loads(await game.ask("legacy {}"))["status"] == "ok"
    assert (await host.request("LIST_ROOMS"))["rooms"][0]["status"] == "WAITING"
    await game.close()


def test_process_limit_is_relative_to_what_the_user_runs() -> None:
    from playhub.supervisor.limits import Limits, for_spawn, tasks_of_user

    assert tasks_of_user() >= 1  # at least this test process
    limits = Limits(processes=64)
    if os.getuid() == 0:
        assert for_spawn(limits) == limits  # root is not bound by RLIMIT_NPROC: nothing to compute
    else:
        assert for_spawn(limits).processes >= 65
    assert for_spawn(Limits(processes=0)).processes == 0


async def test_output_flood_is_capped_by_the_file_size_limit(make_hub) -> None:  # type: ignore[no-untyped-def]
    limit = 256 * 1024
    hub = await make_hub(game_server_file_bytes=limit)
    player, room_id = await _solo(hub, "flood", FLOOD_SERVER)
    ended = asyncio.ensure_future(player.wait_push("GAME_ENDED", timeout=20))
    await player.request("START_ROOM", {"room_id": room_id})
    assert (await ended)["reason"] == "crashed"
    size = (hub.app.data_dir / "logs" / "rooms" / f"{room_id}.log").stat().st_size
    assert size <= limit

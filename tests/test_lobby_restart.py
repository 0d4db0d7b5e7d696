"""No game server outlives PlayHub: clean shutdown stops them, and a restart after a crash kills the leftovers."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from playhub.client import Client
from playhub.store.blobs import BlobStore
from playhub.store.db import _connect as connect
from playhub.store.db import migrate
from tests.helpers import ServerProcess
from tests.lobby_helpers import ECHO_SERVER, GameConn, _insert_game, wait_dead


def _publish(data_dir: Path) -> str:
    """Write a one-player echo game into a data directory before the server starts."""
    data_dir.mkdir(parents=True, exist_ok=True)
    game_id = "g-survivor"
    manifest = {
        "name": "survivor",
        "display_name": "Survivor",
        "type": "cli",
        "max_players": 1,
        "entry_server": "server.py",
        "entry_client": "client.py",
        "description": "a test game",
    }
    folder = BlobStore(data_dir).version_dir(game_id, "1.0.0")
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "server.py").write_text(ECHO_SERVER)
    conn = connect(data_dir / "playhub.sqlite3")
    try:
        migrate(conn)
        _insert_game(conn, game_id, "survivor", 1, None, "ONLINE", "1.0.0", manifest)
    finally:
        conn.close()
    return game_id


async def _start_game(server: ServerProcess, game_id: str, user: str) -> tuple[Client, int]:
    client = await Client.connect("127.0.0.1", server.lobby_port)
    try:
        await client.register_player(user, "secret-pw")
    except Exception:
        await client.login_player(user, "secret-pw")
    room = (await client.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    answer = await client.request("START_ROOM", {"room_id": room})
    game = await GameConn.open("127.0.0.1", answer["game_port"])
    pid = (await game.ask_json("env"))["pid"]
    await game.close()
    return client, pid


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
async def test_no_game_server_survives_playhub(tmp_path: Path, sig: signal.Signals) -> None:
    data = tmp_path / "data"
    game_id = await asyncio.to_thread(_publish, data)
    server = await asyncio.to_thread(ServerProcess(data).start)
    try:
        client, pid = await _start_game(server, game_id, "alice")
        await client.close()
        await asyncio.to_thread(server.stop, sig)
        if sig is signal.SIGTERM:
            assert await wait_dead(pid, 5)  # a clean shutdown stops its game servers
        # A killed PlayHub could not clean up, so its next start does. (As root, any PlayHub starting on this host
        # may do it first: the match's uid is held by no one any more.)
        await asyncio.to_thread(server.start)
        assert await wait_dead(pid, 5)
        assert list((data / "run" / "game-servers").glob("*.json")) == []
        client, pid2 = await _start_game(server, game_id, "alice")  # and rooms work again
        await client.close()
    finally:
        await asyncio.to_thread(server.stop)
    assert await wait_dead(pid2, 5)

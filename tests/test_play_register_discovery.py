"""`playhub play register`, finding the last server from any folder, and the address advertised to players."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from playhub.cli.main import main
from playhub.client import Client, resolve_address
from playhub.client.discovery import read_last_server, state_dir
from playhub.server.addresses import owns, pick_owned, resolve_public_host
from tests.helpers import Harness, ServerProcess, subprocess_env


async def test_play_register(hub: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--host", "127.0.0.1", "--port", str(hub.app.lobby_port)]
    code = await asyncio.to_thread(
        main, ["play", "register", *where, "--user", "newbie", "--password", "pw-123456"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Registered player 'newbie'" in out
    client = await hub.lobby()
    await client.login_player("newbie", "pw-123456")
    code = await asyncio.to_thread(
        main, ["play", "register", *where, "--user", "newbie", "--password", "pw-123456"]
    )
    _, err = capsys.readouterr()
    assert code == 1 and "(code 104)" in err
    code = await asyncio.to_thread(
        main, ["play", "register", *where, "--user", "x", "--password", "pw-123456"]
    )
    _, err = capsys.readouterr()
    assert code == 1 and "(code 100)" in err


def test_play_finds_the_last_server_from_any_folder(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        info = read_last_server()
        assert info is not None and info["lobby_port"] == server.lobby_port
        assert info["data_dir"] == str((tmp_path / "data").resolve())
        address = resolve_address("lobby", env={})
        assert (address.port, address.source) == (server.lobby_port, "last_server.json")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        env = subprocess_env()
        for key in ("PLAYHUB_LOBBY_HOST", "PLAYHUB_LOBBY_PORT", "LOBBY_CONNECT_HOST", "LOBBY_CONNECT_PORT"):
            env.pop(key, None)
        proc = subprocess.run(
            [sys.executable, "-m", "playhub", "play", "register", "--user", "zed", "--password", "pw-123456"],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert f"127.0.0.1:{server.lobby_port}" in proc.stdout

        async def login() -> None:
            async with await Client.connect("127.0.0.1", server.lobby_port) as c:
                await c.login_player("zed", "pw-123456")

        asyncio.run(login())
    finally:
        server.stop()
    assert not (state_dir() / "last_server.json").exists()  # a stopped server is forgotten
    assert resolve_address("lobby", env={}).source == "default"


def test_a_stale_last_server_is_ignored(tmp_path: Path) -> None:
    path = state_dir() / "last_server.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(json.dumps({"lobby_port": 6000, "lobby_host": "127.0.0.1", "pid": dead.pid}))
    assert read_last_server() is None
    assert resolve_address("lobby", env={}).source == "default"


def test_public_host_choice(tmp_path: Path) -> None:
    assert owns("127.0.0.1") and not owns("192.0.2.77")  # 192.0.2.0/24 is documentation space: never ours
    assert pick_owned(["192.0.2.77", "", "127.0.0.1"]) == "127.0.0.1"
    assert resolve_public_host("0.0.0.0", "games.example.org", tmp_path) == (
        "games.example.org",
        "--public-host",
    )
    assert resolve_public_host("127.0.0.1", None, tmp_path) == (None, "--host")
    (tmp_path / "config.json").write_text(
        json.dumps({"public_host": "192.0.2.77", "public_hosts": ["127.0.0.1"]})
    )
    assert resolve_public_host("0.0.0.0", None, tmp_path) == ("127.0.0.1", "config.json")
    (tmp_path / "config.json").write_text(json.dumps({"public_hosts": ["192.0.2.77"]}))
    host, source = resolve_public_host("0.0.0.0", None, tmp_path)
    assert host != "192.0.2.77" and source != "config.json"

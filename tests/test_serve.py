"""``playhub serve`` as a real process: runtime_ports.json, both framings, clean shutdown, session resume."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import pytest

from playhub.client import Client
from playhub.protocol.errors import Unauthorized
from playhub.wire import Framing
from tests.helpers import Harness, ServerProcess, subprocess_env


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_serve_writes_runtime_ports_and_stops_cleanly(tmp_path, sig) -> None:  # type: ignore[no-untyped-def]
    server = ServerProcess(tmp_path / "data").start()
    info = json.loads((tmp_path / "data" / "runtime_ports.json").read_text())
    assert {"developer_port", "lobby_port", "dev_host", "lobby_host"} <= info.keys()
    async with await Client.connect(
        info["dev_host"], info["developer_port"], framing=Framing.LENGTH_PREFIXED
    ) as c:
        await c.register_dev("procdev", "secret-pw")
    async with await Client.connect(info["lobby_host"], info["lobby_port"]) as c:
        await c.register_player("procplayer", "secret-pw")
    assert server.stop(sig) == 0
    assert not (tmp_path / "data" / "runtime_ports.json").exists()


def test_serve_help_explains_options() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "playhub", "serve", "--help"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in ("--data-dir", "--host", "--dev-port", "--lobby-port"):
        assert flag in out


def test_port_in_use_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "playhub",
                "serve",
                "--data-dir",
                str(tmp_path / "d"),
                "--dev-port",
                str(port),
                "--lobby-port",
                "0",
            ],
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 1
    assert "cannot start" in proc.stderr


async def test_dropped_connection_resumes_with_same_token_within_grace(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub: Harness = await make_hub(session_resume_grace_s=30.0)
    first = await hub.player("resumer")
    token = first.token
    await first.close()
    again = await hub.lobby()
    assert (await again.request("WHOAMI", token=token))["username"] == "resumer"


async def test_dropped_session_expires_after_its_ttl(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub: Harness = await make_hub(session_resume_grace_s=0.0, session_ttl_s=0.5)
    first = await hub.player("expirer")
    token = first.token
    await first.close()
    await asyncio.sleep(0.6)
    again = await hub.lobby()
    with pytest.raises(Unauthorized):
        await again.request("WHOAMI", token=token)

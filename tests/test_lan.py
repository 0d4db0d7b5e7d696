"""LAN play: a server bound to 0.0.0.0 advertises an address that players on another host reach, for the lobby and
for game servers. Two network namespaces joined by a veth pair stand for the server host and a player host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import subprocess_env

_PID = os.getpid()
NS_SERVER, NS_PLAYER = f"phs{_PID}", f"php{_PID}"
_NET = f"10.{100 + _PID % 100}.{_PID // 100 % 250}"
SERVER_IP, PLAYER_IP = f"{_NET}.1", f"{_NET}.2"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def two_hosts() -> Iterator[None]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 for network namespaces")
    try:
        _ip("netns", "add", NS_SERVER)
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"network namespaces are not available here: {exc}")
    try:
        _ip("netns", "add", NS_PLAYER)
        veth_s, veth_p = f"vs{_PID}"[:15], f"vp{_PID}"[:15]
        _ip(
            "link",
            "add",
            veth_s,
            "netns",
            NS_SERVER,
            "type",
            "veth",
            "peer",
            "name",
            veth_p,
            "netns",
            NS_PLAYER,
        )
        for ns, dev, addr, peer in (
            (NS_SERVER, veth_s, SERVER_IP, PLAYER_IP),
            (NS_PLAYER, veth_p, PLAYER_IP, SERVER_IP),
        ):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "route", "add", "default", "via", peer)
        yield
    finally:
        for ns in (NS_SERVER, NS_PLAYER):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def _in(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


PLAYERS = textwrap.dedent(
    """
    import asyncio, json, sys
    from playhub.client import Client

    async def main(host, port):
        a = await Client.connect(host, port)
        b = await Client.connect(host, port)
        await a.register_player("lan_ann", "secret-pw")
        await b.register_player("lan_bob", "secret-pw")
        games = {g["name"]: g for g in (await a.request("LIST_GAMES"))["games"]}
        room = (await a.request("CREATE_ROOM", {"game_id": games["rps"]["game_id"]}))["room_id"]
        await b.request("JOIN_ROOM", {"room_id": room})
        votes = b.subscribe("VOTE_REQUEST")
        started = asyncio.ensure_future(b.wait_push("GAME_STARTED"))
        pending = asyncio.ensure_future(a.request("START_ROOM", {"room_id": room}))
        seq = (await asyncio.wait_for(votes.get(), 10))["payload"]["seq"]
        await b.request("VOTE", {"seq": seq, "accept": True})
        answer = await pending
        pushed = await started
        r, w = await asyncio.wait_for(asyncio.open_connection(answer["game_host"], answer["game_port"]), 5)
        w.close()
        print(json.dumps({"game_host": answer["game_host"], "pushed_host": pushed["game_host"], "reached": True}))
        await a.close()
        await b.close()

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


def test_server_on_all_interfaces_advertises_a_reachable_address(two_hosts: None, tmp_path: Path) -> None:
    env = subprocess_env()
    for key in ("PLAYHUB_LOBBY_HOST", "PLAYHUB_LOBBY_PORT", "LOBBY_CONNECT_HOST", "LOBBY_CONNECT_PORT"):
        env.pop(key, None)
    data = tmp_path / "data"
    data.mkdir()
    # config.json lists an address of another machine first: the server keeps the one it owns.
    (data / "config.json").write_text(json.dumps({"public_hosts": ["192.0.2.9", SERVER_IP]}))
    check = subprocess.run(
        _in(
            NS_SERVER,
            sys.executable,
            "-c",
            "from pathlib import Path; from playhub.server.addresses import "
            f"resolve_public_host as r; print(r('0.0.0.0', None, Path({str(data)!r}))[0]); "
            "print(r('0.0.0.0', None, Path('/nonexistent'))[0])",
        ),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.stdout.split() == [SERVER_IP, SERVER_IP], check.stderr  # from config.json, then detected
    (data / "config.json").unlink()
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        _in(
            NS_SERVER,
            sys.executable,
            "-m",
            "playhub",
            "demo",
            "--host",
            "0.0.0.0",
            "--data-dir",
            str(data),
            "--dev-port",
            "0",
            "--lobby-port",
            "0",
            "--fast-hash",
        ),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        ports = data / "runtime_ports.json"
        deadline = time.monotonic() + 30
        while not ports.exists() or "publish" not in (tmp_path / "server.log").read_text(errors="replace"):
            assert server.poll() is None and time.monotonic() < deadline, (
                tmp_path / "server.log"
            ).read_text()
            time.sleep(0.1)
        info = json.loads(ports.read_text())
        assert info["lobby_host"] == SERVER_IP and info["dev_host"] == SERVER_IP
        time.sleep(0.5)  # the demo publishes its games right after writing runtime_ports.json
        script = tmp_path / "players.py"
        script.write_text(PLAYERS)
        out = subprocess.run(
            _in(NS_PLAYER, sys.executable, str(script), info["lobby_host"], str(info["lobby_port"])),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr + (tmp_path / "server.log").read_text()
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result == {"game_host": SERVER_IP, "pushed_host": SERVER_IP, "reached": True}
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        log.close()

"""P2P across hosts: the server, player A and player B each in a network namespace of their own (made here with
``ip netns`` and veth pairs; the server's namespace routes between the two players). The direct path works between two
reachable hosts; with B unreachable from A the relay is chosen and data flows; a wrong token is refused by the peer.

This machine has neither iptables nor nft, so "unreachable" is a ``prohibit`` route in A's namespace (iproute2 only):
A cannot send to B, and B's connection attempts to A get no answer either (A's replies hit the same route).
"""

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
NS_S, NS_A, NS_B = f"p2s{_PID}", f"p2a{_PID}", f"p2b{_PID}"
_NET = f"10.{200 + _PID % 50}.{_PID // 50 % 250}"
S_FOR_A, A_IP = f"{_NET}.1", f"{_NET}.2"  # the S-A link, a /30
S_FOR_B, B_IP = f"{_NET}.5", f"{_NET}.6"  # the S-B link, a /30


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _in(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


@pytest.fixture(scope="module")
def hosts() -> Iterator[None]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make network namespaces")
    try:
        _ip("netns", "add", NS_S)
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"network namespaces cannot be made here: {exc}")
    try:
        for ns, s_ip, p_ip, tag in ((NS_A, S_FOR_A, A_IP, "a"), (NS_B, S_FOR_B, B_IP, "b")):
            _ip("netns", "add", ns)
            vs, vp = f"p2s{tag}{_PID}"[:15], f"p2p{tag}{_PID}"[:15]
            _ip("link", "add", vs, "netns", NS_S, "type", "veth", "peer", "name", vp, "netns", ns)
            _ip("-n", NS_S, "addr", "add", f"{s_ip}/30", "dev", vs)
            _ip("-n", ns, "addr", "add", f"{p_ip}/30", "dev", vp)
            for n, dev in ((NS_S, vs), (ns, vp)):
                _ip("-n", n, "link", "set", dev, "up")
                _ip("-n", n, "link", "set", "lo", "up")
            _ip("-n", ns, "route", "add", "default", "via", s_ip)
        subprocess.run(
            _in(NS_S, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"),
            check=True,
            capture_output=True,
            timeout=10,
        )
        yield
    finally:
        for ns in (NS_S, NS_A, NS_B):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


@pytest.fixture(scope="module")
def server(hosts: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    data = tmp_path_factory.mktemp("p2p-lan") / "data"
    data.mkdir()
    log_path = data.parent / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        _in(
            NS_S,
            sys.executable,
            "-m",
            "playhub",
            "serve",
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
        env=subprocess_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        ports = data / "runtime_ports.json"
        deadline = time.monotonic() + 30
        while not ports.exists():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        yield int(json.loads(ports.read_text())["lobby_port"])
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


PLAYER = textwrap.dedent(
    """
    import asyncio, json, sys
    from playhub.client import Client
    from playhub.client.p2p import accept_peer, connect_peer
    from playhub.sdk.tickets import p2p_ticket

    async def main(mode, host, port, me, peer):
        c = await Client.connect(host, int(port))
        await c.register_player(me, "secret-pw")
        if mode == "callee":
            invites = c.subscribe("P2P_INVITE")
            print("ready", flush=True)
            invite = (await asyncio.wait_for(invites.get(), 30))["payload"]
            link = await accept_peer(c, invite)
            data = await asyncio.wait_for(link.reader.readexactly(5), 10)
            link.writer.write(data.upper() + b"!")
            await link.writer.drain()
            await asyncio.wait_for(link.reader.read(), 10)  # until the caller closes
            print(json.dumps({"path": link.path, "peer": link.peer, "got": data.decode()}), flush=True)
        elif mode == "caller":
            link = await connect_peer(c, peer, direct_timeout=2.0)
            link.writer.write(b"hello")
            back = await asyncio.wait_for(link.reader.readexactly(6), 10)
            await link.close()
            print(json.dumps({"path": link.path, "peer": link.peer, "got": back.decode()}), flush=True)
        else:  # a caller that first knocks on the callee's listener with a wrong ticket, then the right one
            peers, invites = c.subscribe("P2P_PEER"), c.subscribe("P2P_INVITE")
            sid = (await c.request("P2P_REQUEST", {"to": peer}))["session_id"]
            token = (await invites.get())["payload"]["token"]
            await c.request("P2P_LISTENING", {"session_id": sid, "port": 0})
            where = (await asyncio.wait_for(peers.get(), 10))["payload"]["peer"]

            async def knock(ticket):
                r, w = await asyncio.wait_for(asyncio.open_connection(where["ip"], where["port"]), 5)
                w.write((json.dumps({"p2p": sid, "user": me, "ticket": ticket}) + "\\n").encode())
                line = json.loads(await asyncio.wait_for(r.readline(), 5))
                return line, r, w

            refused, _, w1 = await knock(p2p_ticket("a-guessed-token", sid, "direct", me))
            w1.close()
            hello, r, w = await knock(p2p_ticket(token, sid, "direct", me))
            w.write(b'{"use":true}\\n')
            outcome = (await c.request("P2P_REPORT", {"session_id": sid, "outcome": "direct"}))["outcome"]
            w.write(b"hello")
            back = await asyncio.wait_for(r.readexactly(6), 10)
            w.close()
            print(json.dumps({"refused": refused, "hello_user": hello.get("user"), "outcome": outcome,
                              "got": back.decode()}), flush=True)
        await c.close()

    asyncio.run(main(*sys.argv[1:]))
    """
)


def _run_pair(tmp_path: Path, lobby_port: int, mode: str, a: str, b: str) -> tuple[dict, dict]:
    script = tmp_path / "player.py"
    script.write_text(PLAYER)
    env = subprocess_env()
    callee = subprocess.Popen(
        _in(NS_B, sys.executable, str(script), "callee", S_FOR_B, str(lobby_port), b, a),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert callee.stdout is not None
        line = callee.stdout.readline()
        assert line.strip() == "ready", line + (callee.stderr.read() if callee.stderr else "")
        caller = subprocess.run(
            _in(NS_A, sys.executable, str(script), mode, S_FOR_A, str(lobby_port), a, b),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert caller.returncode == 0, caller.stderr
        out, err = callee.communicate(timeout=30)
        assert callee.returncode == 0, err
        return json.loads(caller.stdout.strip().splitlines()[-1]), json.loads(out.strip().splitlines()[-1])
    finally:
        if callee.poll() is None:
            callee.kill()
            callee.wait(5)


def test_direct_path_between_two_hosts(server: int, tmp_path: Path) -> None:
    caller, callee = _run_pair(tmp_path, server, "caller", "lan_ann", "lan_bob")
    assert caller == {"path": "direct", "peer": "lan_bob", "got": "HELLO!"}
    assert callee == {"path": "direct", "peer": "lan_ann", "got": "hello"}


def test_wrong_token_is_refused_across_hosts(server: int, tmp_path: Path) -> None:
    caller, callee = _run_pair(tmp_path, server, "badtoken", "lan_cat", "lan_dan")
    assert caller["refused"] == {"error": "wrong ticket"}
    assert caller["hello_user"] == "lan_dan" and caller["outcome"] == "direct" and caller["got"] == "HELLO!"
    assert callee == {"path": "direct", "peer": "lan_cat", "got": "hello"}


def test_relay_when_the_hosts_cannot_reach_each_other(server: int, tmp_path: Path) -> None:
    _ip("-n", NS_A, "route", "add", "prohibit", f"{B_IP}/32")
    try:
        probe = subprocess.run(
            _in(NS_A, sys.executable, "-c", f"import socket; socket.create_connection(({B_IP!r}, 9), 2)"),
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert probe.returncode != 0 and "refused" not in probe.stderr.lower(), probe.stderr  # not even a RST
        caller, callee = _run_pair(tmp_path, server, "caller", "lan_eve", "lan_fay")
    finally:
        _ip("-n", NS_A, "route", "del", "prohibit", f"{B_IP}/32")
    assert caller == {"path": "relayed", "peer": "lan_fay", "got": "HELLO!"}
    assert callee == {"path": "relayed", "peer": "lan_eve", "got": "hello"}

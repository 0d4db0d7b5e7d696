"""``playhub admin``: offline against a data directory, and next to a running server that applies each change."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from playhub.client import Client
from playhub.protocol.codes import Code
from playhub.protocol.errors import PlayHubError
from tests.helpers import ServerProcess, subprocess_env


def admin(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "playhub", "admin", "--data-dir", str(data), *args],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )


async def _code(coro: object) -> int:
    try:
        await coro  # type: ignore[misc]
    except PlayHubError as exc:
        return int(exc.code)
    return 0


async def test_admin_commands_apply_to_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert admin(data, "users").returncode == 1  # no database yet: says so
    server = ServerProcess(data).start()
    try:
        alice = await Client.connect("127.0.0.1", server.lobby_port)
        bob = await Client.connect("127.0.0.1", server.lobby_port)
        await alice.register_player("alice", "secret-pw")
        await bob.register_player("bob", "secret-pw")
        assert await _code(alice.request("ADMIN_ROLES_LIST")) == Code.FORBIDDEN
        changed = asyncio.ensure_future(alice.wait_push("PERMISSIONS_CHANGED"))
        out = await asyncio.to_thread(admin, data, "grant", "alice", "admin")
        assert out.returncode == 0, out.stderr
        pushed = await asyncio.wait_for(changed, 10)  # the running server noticed and told the live session
        assert pushed["role"] == "admin" and "roles.manage" in pushed["permissions"]
        roles = await alice.request("ADMIN_ROLES_LIST")
        assert {r["name"] for r in roles["roles"]} >= {"player", "moderator", "admin"}

        closed = asyncio.ensure_future(bob.wait_push("SESSION_CLOSED"))
        out = await asyncio.to_thread(admin, data, "ban", "bob", "--reason", "spam")
        assert out.returncode == 0, out.stderr
        assert await asyncio.wait_for(closed, 10) == {"kind": "banned", "reason": "account disabled: spam"}
        await asyncio.wait_for(bob.wait_closed(), 5)
        again = await Client.connect("127.0.0.1", server.lobby_port)
        assert await _code(again.login_player("bob", "secret-pw")) == Code.FORBIDDEN

        listing = (await asyncio.to_thread(admin, data, "users")).stdout
        assert "alice" in listing and "admin" in listing and "disabled" in listing and "spam" in listing
        assert (await asyncio.to_thread(admin, data, "ban", "bob")).returncode == 1  # banned already
        assert (await asyncio.to_thread(admin, data, "unban", "bob")).returncode == 0
        await asyncio.sleep(0.1)
        await again.login_player("bob", "secret-pw")

        steps = [
            ("role-create", "helper", "audit.read"),
            ("role-permissions", "helper", "audit.read", "chat.moderate"),
            ("grant", "bob", "helper"),
            ("role-delete", "helper", "player"),
        ]
        for step in steps:
            out = await asyncio.to_thread(admin, data, *step)
            assert out.returncode == 0, (step, out.stderr)
        for bad in (
            ("role-create", "x", "no.such.key"),
            ("role-delete", "admin", "player"),
            ("role-permissions", "admin"),
            ("grant", "ghost", "admin"),
            ("grant", "bob", "ghost"),
            ("unban", "ghost"),
        ):
            out = await asyncio.to_thread(admin, data, *bad)
            assert out.returncode == 1 and out.stderr.startswith("error:"), bad
        assert "moderator" in (await asyncio.to_thread(admin, data, "roles")).stdout
        audit = (await asyncio.to_thread(admin, data, "audit")).stdout
        for action in ("user_set_role", "user_ban", "user_unban", "role_create", "role_delete"):
            assert action in audit
        assert "console:" in audit
        # The console's actions are in the log the admin reads over the wire too.
        entries = (await alice.request("ADMIN_AUDIT"))["entries"]
        assert entries[0]["action"] == "role_delete" and entries[0]["actor"].startswith("console")
        for c in (alice, bob, again):
            await c.close()
    finally:
        server.stop()


async def test_the_first_admin_is_made_offline(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = ServerProcess(data).start()
    c = await Client.connect("127.0.0.1", server.lobby_port)
    await c.register_player("root", "secret-pw")
    await c.close()
    server.stop()
    out = admin(data, "grant", "root", "admin")
    assert out.returncode == 0, out.stderr
    server = ServerProcess(data).start()
    try:
        c = await Client.connect("127.0.0.1", server.lobby_port)
        await c.login_player("root", "secret-pw")
        assert (await c.request("MY_PERMISSIONS"))["role"] == "admin"
        await c.close()
    finally:
        server.stop()

"""Sessions that survive restarts, and revocation that survives them too; presence deltas in batches."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from playhub.client import Client
from playhub.protocol.errors import BadState, Unauthorized
from playhub.server.app import PlayHubApp
from playhub.services.sessions import Role, token_digest
from tests.helpers import Harness, ServerProcess, settings_for_tests


async def _start(data: Path, **overrides: object) -> Harness:
    app = PlayHubApp(settings_for_tests(data, **overrides))
    await app.start()
    return Harness(app)


async def _code(h: Harness, token: str | None, command: str = "WHOAMI") -> int:
    c = await h.lobby()
    return int((await c.request_raw(command, token=token))["code"])


async def test_tokens_survive_restart_and_revocation_holds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    h = await _start(data)
    first = await h.player("hank")
    replaced = first.token
    second = await h.lobby()
    await second.login_player("hank", "secret-pw")  # replaces the first token
    live = second.token
    ivy = await h.player("ivy")
    logged_out = ivy.token
    await ivy.logout()
    banned = (await h.player("mallory")).token
    await h.close()

    h = await _start(data)
    try:
        c = await h.lobby()
        c.token = live
        who = await c.request("WHOAMI")
        assert (who["username"], who["role"]) == ("hank", "player")
        assert await _code(h, replaced) == 105
        assert await _code(h, logged_out) == 101
        assert await _code(h, banned) == 0
        mallory = h.app.sessions.by_username(Role.PLAYER, "mallory")
        assert mallory is not None
        assert await h.app.accounts.revoke_account(Role.PLAYER, mallory.account_id) == 1
        assert await _code(h, banned) == 101
        await c.logout()  # a restored session logs out like any other
        assert await _code(h, live) == 101
    finally:
        await h.close()

    h = await _start(data)
    try:
        for token in (live, logged_out, banned):
            assert await _code(h, token) == 101
        assert await _code(h, replaced) == 105
        assert await _code(h, replaced, "LOGOUT") == 105
    finally:
        await h.close()


async def test_only_a_digest_of_each_token_is_stored(hub: Harness) -> None:
    c = await hub.player("quinn")
    # Read the files as someone holding a copy of them would (WAL included).
    raw = b"".join(p.read_bytes() for p in hub.app.data_dir.glob("playhub.sqlite3*"))
    assert c.token is not None and c.token.encode() not in raw
    conn = sqlite3.connect(hub.app.data_dir / "playhub.sqlite3")
    rows = conn.execute("SELECT token_sha256, role, expires_at FROM sessions").fetchall()
    conn.close()
    assert rows == [(token_digest(c.token), "player", pytest.approx(time.time() + hub.app.settings.session_ttl_s, abs=60))]


async def test_resuming_after_restart_costs_no_password_hash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    h = await _start(data)
    tokens = [(await h.player(f"pl{i}")).token for i in range(30)]
    await h.close()
    h = await _start(data)
    try:
        calls = 0
        real = h.app.accounts.passwords._run

        async def counting(*args):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            return await real(*args)

        h.app.accounts.passwords._run = counting  # type: ignore[method-assign]
        clients = [await h.lobby() for _ in tokens]
        answers = await asyncio.gather(*(c.request("WHOAMI", token=t) for c, t in zip(clients, tokens, strict=True)))
        assert [a["username"] for a in answers] == [f"pl{i}" for i in range(30)]
        assert calls == 0
        # Resumed players are online again: LIST_PLAYERS shows them.
        clients[0].token = tokens[0]
        online = (await clients[0].request("LIST_PLAYERS"))["online_players"]
        assert set(online) == {f"pl{i}" for i in range(30)}
    finally:
        await h.close()


async def test_session_expiry_slides_with_use(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(session_ttl_s=1.0, session_touch_interval_s=0.2)
    c = await hub.player("slider")
    token = c.token
    for _ in range(6):  # 1.8 s of regular use: longer than the TTL, still valid
        await asyncio.sleep(0.3)
        await c.request("WHOAMI")
    await c.close()
    assert await _code(hub, token) == 0  # usable from another connection
    await asyncio.sleep(1.3)  # unused longer than the TTL
    assert await _code(hub, token) == 101


async def test_dropped_session_is_announced_gone_but_token_stays_usable(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(session_resume_grace_s=0.0)
    first = await hub.player("wanderer")
    token = first.token
    watcher = await hub.player("watcher")
    offline = asyncio.ensure_future(watcher.wait_push("PLAYER_PRESENCE", lambda p: p["offline"] == ["wanderer"]))
    await first.close()
    await asyncio.wait_for(offline, 5)
    principal = hub.app.sessions.by_username(Role.PLAYER, "wanderer")
    for _ in range(200):
        if principal is not None and principal.disconnected_at is not None:
            break
        await asyncio.sleep(0.01)
    assert hub.app.sessions.expire() == 1
    back = await hub.lobby()
    back.token = token
    online = asyncio.ensure_future(watcher.wait_push("PLAYER_PRESENCE", lambda p: p["online"] == ["wanderer"]))
    assert (await back.request("WHOAMI"))["username"] == "wanderer"
    await asyncio.wait_for(online, 5)


def test_token_survives_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = ServerProcess(data).start()

    async def login() -> str:
        async with await Client.connect("127.0.0.1", server.lobby_port) as c:
            await c.register_player("sturdy", "secret-pw")
            assert c.token is not None
            return c.token

    async def whoami(token: str) -> dict:  # type: ignore[type-arg]
        async with await Client.connect("127.0.0.1", server.lobby_port) as c:
            return await c.request("WHOAMI", token=token)

    try:
        token = asyncio.run(login())
        server.kill()  # no clean shutdown: the session must already be on disk when the token was handed out
        server.start()
        who = asyncio.run(whoami(token))
        assert (who["username"], who["role"]) == ("sturdy", "player")
    finally:
        server.kill()


async def test_presence_changes_are_batched_in_one_delta(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(presence_batch_s=0.2)
    watcher = await hub.player("watcher")
    pushes = watcher.subscribe("PLAYER_PRESENCE")
    await asyncio.sleep(0.3)
    while not pushes.empty():
        pushes.get_nowait()
    players = [await hub.lobby() for _ in range(20)]
    await asyncio.gather(*(c.register_player(f"crowd{i}", "secret-pw") for i, c in enumerate(players)))
    seen: set[str] = set()
    count = 0
    while len(seen) < 20:
        msg = await asyncio.wait_for(pushes.get(), 5)
        assert set(msg["payload"]) == {"online", "offline"}  # the push format is unchanged
        assert msg["payload"]["offline"] == []
        seen.update(msg["payload"]["online"])
        count += 1
    assert seen == {f"crowd{i}" for i in range(20)}
    assert count <= 3, count  # 20 logins, a handful of pushes
    with pytest.raises(BadState):  # the crowd's tokens are ordinary sessions: a newer login replaces them
        first = players[0].token
        await players[1].login_player("crowd0", "secret-pw")
        await players[2].request("WHOAMI", token=first)
    with pytest.raises(Unauthorized):
        await players[2].request("WHOAMI", token="not-a-token")


async def test_listeners_use_the_configured_backlog(make_hub) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("ss") is None:
        pytest.skip("needs ss (iproute2) to read a listening socket's backlog")
    hub = await make_hub(listen_backlog=777)
    for port in (hub.app.lobby_port, hub.app.dev_port):
        proc = await asyncio.create_subprocess_exec(
            "ss", "-ltnH", f"sport = :{port}", stdout=asyncio.subprocess.PIPE
        )
        out = (await proc.communicate())[0].decode().split()
        assert out[0] == "LISTEN" and out[2] == "777", out  # Send-Q of a listening socket is its backlog

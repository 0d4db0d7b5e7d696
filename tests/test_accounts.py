"""Registration, login, namespaces, rules and throttling over real sockets."""

from __future__ import annotations

import asyncio
import time

import pytest

from playhub.protocol.errors import BadState, Conflict, InvalidRequest, RateLimited, Unauthorized
from playhub.server.app import PlayHubApp
from tests.helpers import Harness, settings_for_tests


async def test_register_and_login_both_roles_separate_namespaces(hub: Harness) -> None:
    dev = await hub.dev()
    out = await dev.register_dev("sam", "secret-pw")
    assert len(out["session_token"]) >= 22  # >= 128 bits of randomness, url-safe
    player = await hub.lobby()
    await player.register_player("sam", "other-pw")  # same name, other namespace
    again = await hub.dev()
    await again.login_dev("sam", "secret-pw")
    with pytest.raises(Unauthorized):
        await (await hub.lobby()).login_player("sam", "secret-pw")  # the player's password is other-pw


async def test_duplicate_username_is_104(hub: Harness) -> None:
    await hub.player("dora")
    with pytest.raises(Conflict):
        await (await hub.lobby()).register_player("dora", "secret-pw")


@pytest.mark.parametrize(
    ("username", "password", "fragment"),
    [
        ("ab", "secret-pw", "3-32"),
        ("x" * 33, "secret-pw", "3-32"),
        ("bad name", "secret-pw", "letters"),
        ("../etc", "secret-pw", "letters"),
        ("okname", "123", "password"),
    ],
)
async def test_credential_rules_say_what_is_wrong(
    hub: Harness, username: str, password: str, fragment: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        await (await hub.lobby()).register_player(username, password)
    assert fragment in info.value.message


async def test_wrong_password_and_unknown_user_are_101(hub: Harness) -> None:
    await hub.player("erin")
    c = await hub.lobby()
    with pytest.raises(Unauthorized):
        await c.login_player("erin", "wrong-pw")
    with pytest.raises(Unauthorized):
        await c.login_player("nobody", "wrong-pw")


async def test_failed_logins_are_rate_limited_per_ip_and_account(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(login_fail_max_per_ip_account=3, login_fail_max_per_ip=6)
    await hub.player("frank")
    c = await hub.lobby()
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await c.login_player("frank", "wrong-pw")
    with pytest.raises(RateLimited) as info:
        await c.login_player("frank", "secret-pw")  # even the right password waits now
    assert 1 <= info.value.payload["retry_after_s"] <= 60
    # Another account from the same IP still works until the per-IP limit.
    await hub.player("gina")
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await c.login_player("gina", "wrong-pw")
    with pytest.raises(RateLimited):
        await c.login_player("someone-else", "secret-pw")


async def test_accounts_and_tokens_survive_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for_tests(tmp_path / "data")
    app = PlayHubApp(settings)
    await app.start()
    h = Harness(app)
    c = await h.player("hank")
    token = c.token
    await h.close()
    app2 = PlayHubApp(settings)
    await app2.start()
    h2 = Harness(app2)
    try:
        c2 = await h2.lobby()
        assert (await c2.request("WHOAMI", token=token))["username"] == "hank"  # the session came back
        await c2.login_player("hank", "secret-pw")  # and the account logs in as before
        with pytest.raises(BadState):
            await c2.request("WHOAMI", token=token)  # replaced by that newer login
    finally:
        await h2.close()


async def test_login_storm_does_not_stall_cheap_commands(make_hub) -> None:  # type: ignore[no-untyped-def]
    # Production argon2 cost here (libsodium, m=7 MiB, t=5): the point is that hashing runs off the event loop.
    hub = await make_hub(argon2_time_cost=5, argon2_memory_kib=7_168)
    await hub.player("ivan")
    probe = await hub.lobby()
    await probe.login_player("ivan", "secret-pw")
    stormers = [await hub.lobby() for _ in range(10)]

    async def storm() -> None:
        # All at once: the hashes queue behind the bounded hashing pool while the loop keeps serving.
        await asyncio.gather(
            *(c.register_player(f"storm{i}", "secret-pw") for i, c in enumerate(stormers)),
            return_exceptions=True,
        )

    task = asyncio.create_task(storm())
    latencies = []
    while not task.done():
        t0 = time.perf_counter()
        await probe.request("WHOAMI")
        latencies.append(time.perf_counter() - t0)
        await asyncio.sleep(0.002)
    await task
    latencies.sort()
    assert len(latencies) > 20
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert p99 < 0.05, f"p99 {p99 * 1000:.1f} ms"


@pytest.mark.parametrize("command", ["LOGOUT", "WHOAMI"])
@pytest.mark.parametrize("side", ["dev", "lobby"])
async def test_session_commands_error_codes(hub: Harness, command: str, side: str) -> None:
    own, other = (hub.developer, hub.player) if side == "dev" else (hub.player, hub.developer)
    connect = hub.dev if side == "dev" else hub.lobby
    anon = await connect()
    assert (await anon.request_raw(command))["code"] == 101  # no token
    assert (await anon.request_raw(command, token="nope"))["code"] == 101  # unknown token
    stranger = await other("stranger")
    assert (await anon.request_raw(command, token=stranger.token))["code"] == 102  # other role's token
    me = await own("me-" + side)
    old = me.token
    again = await connect()
    login = again.login_dev if side == "dev" else again.login_player
    await login("me-" + side, "secret-pw")
    assert (await anon.request_raw(command, token=old))["code"] == 105  # replaced by a newer login
    logged_out = again.token
    await again.logout()
    assert (await anon.request_raw(command, token=logged_out))["code"] == 101  # logged out


async def test_developer_logins_are_rate_limited_too(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(login_fail_max_per_ip_account=2)
    await hub.developer("devlimit")
    c = await hub.dev()
    for _ in range(2):
        with pytest.raises(Unauthorized):
            await c.login_dev("devlimit", "wrong-pw")
    resp = await c.request_raw("LOGIN_DEV", {"username": "devlimit", "password": "secret-pw"})
    assert resp["code"] == 106 and resp["payload"]["retry_after_s"] >= 1

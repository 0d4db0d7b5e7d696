"""Quotas per account, per client IP and per connection: one client cannot pin every download slot, open every room
by registering many accounts, or register accounts without end."""

from __future__ import annotations

import pytest

from playhub.protocol.errors import BadState, RateLimited
from playhub.services.quotas import ip_key
from tests.helpers import Harness
from tests.lobby_helpers import make_game
from tests.store_helpers import publish


def test_ip_keys_fold_ipv6_to_the_64_prefix() -> None:
    assert ip_key("203.0.113.7") == "203.0.113.7"
    assert ip_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert ip_key("2001:db8:1:2:aaaa::1") == ip_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert ip_key("2001:db8:1:3::1") != ip_key("2001:db8:1:2::1")
    assert ip_key("x" * 1000) == "x" * 64


# --- registrations per IP ---------------------------------------------------------------------------------------------
async def test_registrations_per_ip_are_throttled_with_106(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub: Harness = await make_hub(register_max_per_ip=3, register_window_s=600)
    for i in range(2):
        await hub.player(f"reg{i}")
    await hub.developer("regdev")  # both roles count against the same address
    late = await hub.lobby()
    with pytest.raises(RateLimited) as err:
        await late.register_player("reg9", "secret-pw")
    assert err.value.code == 106
    assert 590 <= err.value.payload["retry_after_s"] <= 600
    dev = await hub.dev()
    with pytest.raises(RateLimited):
        await dev.register_dev("regdev2", "secret-pw")
    # Logging in is not registering: existing accounts still get in.
    await late.login_player("reg0", "secret-pw")


# --- sessions per connection ------------------------------------------------------------------------------------------
async def test_sessions_per_connection_are_limited_with_105(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub: Harness = await make_hub(max_sessions_per_connection=2)
    other = await hub.player("spare")
    c = await hub.lobby()
    await c.register_player("one", "secret-pw")
    await c.register_player("two", "secret-pw")
    with pytest.raises(BadState) as err:
        await c.register_player("three", "secret-pw")
    assert err.value.code == 105 and "sessions" in err.value.message
    with pytest.raises(BadState):
        await c.login_player("spare", "secret-pw")
    # The refused registration created no account; another connection may use the name.
    fresh = await hub.lobby()
    await fresh.register_player("three", "secret-pw")
    assert (await other.request("WHOAMI"))["username"] == "spare"


async def test_default_sessions_per_connection_is_four(hub: Harness) -> None:
    c = await hub.lobby()
    for i in range(4):
        await c.register_player(f"multi{i}", "secret-pw")
    with pytest.raises(BadState):
        await c.register_player("multi4", "secret-pw")


# --- rooms ------------------------------------------------------------------------------------------------------------
async def test_open_rooms_per_account_are_limited_with_105(hub: Harness) -> None:
    """A room whose creator left stays open (someone else is in it) and still counts against its creator."""
    game = await make_game(hub.app, "duo", max_players=2)
    maker = await hub.player("maker")
    for i in range(3):
        room = (await maker.request("CREATE_ROOM", {"game_id": game}))["room_id"]
        keeper = await hub.player(f"keeper{i}")
        await keeper.request("JOIN_ROOM", {"room_id": room})
        await maker.request("LEAVE_ROOM", {"room_id": room})
    with pytest.raises(BadState) as err:
        await maker.request("CREATE_ROOM", {"game_id": game})
    assert err.value.code == 105 and "open rooms" in err.value.message
    # When one of those rooms closes, the creator may open another.
    await (hub.clients[-1]).request("LEAVE_ROOM", {"room_id": room})
    await maker.request("CREATE_ROOM", {"game_id": game})


async def test_open_rooms_per_ip_are_limited_with_105(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub: Harness = await make_hub(max_rooms_per_ip=2)
    game = await make_game(hub.app, "duo", max_players=2)
    for i in range(2):
        p = await hub.player(f"host{i}")
        await p.request("CREATE_ROOM", {"game_id": game})
    third = await hub.player("host2")
    with pytest.raises(BadState) as err:
        await third.request("CREATE_ROOM", {"game_id": game})
    assert err.value.code == 105 and "address" in err.value.message


# --- downloads --------------------------------------------------------------------------------------------------------
async def test_concurrent_downloads_per_account_are_limited_with_106(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub: Harness = await make_hub(download_chunk_size=4096, max_downloads_per_account=2)
    game = await publish(hub.app, "big", "1.0.0", payload_bytes=6 << 20)
    first = await hub.player("hoarder")
    await first.request("DOWNLOAD_BEGIN", {"game_id": game})
    # The same account from two more connections (the token works on any of them).
    second = await hub.lobby()
    second.token = first.token
    await second.request("DOWNLOAD_BEGIN", {"game_id": game})
    third = await hub.lobby()
    third.token = first.token
    with pytest.raises(RateLimited) as err:
        await third.request("DOWNLOAD_BEGIN", {"game_id": game})
    assert err.value.code == 106 and "per account" in err.value.message
    assert err.value.payload["retry_after_s"] >= 1
    # Another account is not affected.
    other = await hub.player("other")
    await other.request("DOWNLOAD_BEGIN", {"game_id": game})


async def test_concurrent_downloads_per_ip_are_limited_with_106(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub: Harness = await make_hub(download_chunk_size=4096, max_downloads_per_ip=2)
    game = await publish(hub.app, "big", "1.0.0", payload_bytes=6 << 20)
    for name in ("ip1", "ip2"):
        c = await hub.player(name)
        await c.request("DOWNLOAD_BEGIN", {"game_id": game})
    third = await hub.player("ip3")
    with pytest.raises(RateLimited) as err:
        await third.request("DOWNLOAD_BEGIN", {"game_id": game})
    assert err.value.code == 106 and "per address" in err.value.message
    assert len(hub.app.downloads.active) == 2


def test_serve_set_overrides_numeric_settings() -> None:
    from playhub.cli.serve import parse_overrides

    assert parse_overrides(["max_rooms_per_ip=0", "send_stall_timeout_s=2.5"]) == {
        "max_rooms_per_ip": 0,
        "send_stall_timeout_s": 2.5,
    }
    for bad in ("no_such_setting=1", "max_rooms_per_ip", "max_rooms_per_ip=lots", "host=0.0.0.0"):
        with pytest.raises(SystemExit):
            parse_overrides([bad])


async def test_resuming_sessions_counts_against_the_connection_limit(make_hub) -> None:  # type: ignore[no-untyped-def]
    """Sessions left by dropped connections cannot all be gathered onto one connection."""
    hub: Harness = await make_hub(max_sessions_per_connection=2)
    tokens = []
    for name in ("drop1", "drop2"):
        c = await hub.player(name)
        tokens.append(c.token)
        await c.close()
    gatherer = await hub.player("gatherer")  # one session of its own
    assert (await gatherer.request("WHOAMI", token=tokens[0]))["username"] == "drop1"  # resumed here: two now
    with pytest.raises(BadState) as err:
        await gatherer.request("WHOAMI", token=tokens[1])
    assert err.value.code == 105
    fresh = await hub.lobby()
    assert (await fresh.request("WHOAMI", token=tokens[1]))["username"] == "drop2"

"""Presence, logout, dropped connections and the disconnect grace period."""

from __future__ import annotations

import asyncio

from playhub.client import Client
from tests.helpers import Harness
from tests.lobby_helpers import make_game


async def test_list_players_and_presence_deltas(hub: Harness) -> None:
    a = await hub.player("alice")
    assert (await a.request("LIST_PLAYERS")) == {"online_players": ["alice"]}
    presence = a.subscribe("PLAYER_PRESENCE")
    b = await hub.player("bob")
    assert (await asyncio.wait_for(presence.get(), 5))["payload"] == {"online": ["bob"], "offline": []}
    assert (await a.request("LIST_PLAYERS"))["online_players"] == ["alice", "bob"]
    await b.logout()
    assert (await asyncio.wait_for(presence.get(), 5))["payload"] == {"online": [], "offline": ["bob"]}
    c = await hub.lobby()
    await c.login_player("bob", "secret-pw")
    assert (await asyncio.wait_for(presence.get(), 5))["payload"] == {"online": ["bob"], "offline": []}
    await c.close()
    assert (await asyncio.wait_for(presence.get(), 5))["payload"] == {"online": [], "offline": ["bob"]}
    assert (await a.request("LIST_PLAYERS"))["online_players"] == ["alice"]
    # Developers are not lobby players.
    await hub.developer("devvy")
    await a.request("LIST_ROOMS")
    assert presence.empty()


async def _pair(hub: Harness, name: str) -> tuple[Client, Client, str]:
    game_id = await make_game(hub.app, name)
    a, b = await hub.player("alice"), await hub.player("bob")
    room_id = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await b.request("JOIN_ROOM", {"room_id": room_id})
    return a, b, room_id


async def test_logout_leaves_the_room_at_once(hub: Harness) -> None:
    a, b, room_id = await _pair(hub, "quick")
    upd = asyncio.ensure_future(a.wait_push("ROOM_UPDATED", lambda p: p["room"]["players"] == ["alice"]))
    await b.logout()
    await upd


async def test_reconnect_with_the_same_token_keeps_the_seat(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(disconnect_grace_s=0.6)
    a, b, room_id = await _pair(hub, "sticky")
    offline = asyncio.ensure_future(a.wait_push("PLAYER_PRESENCE", lambda p: p["offline"] == ["bob"]))
    token = b.token
    await b.close()
    await offline
    back = await hub.lobby()
    back.token = token
    room = (await back.request("LIST_ROOMS"))["rooms"][0]  # resumes the session on this connection
    assert room["players"] == ["alice", "bob"]
    await asyncio.sleep(hub.app.settings.disconnect_grace_s + 0.3)
    assert (await a.request("LIST_ROOMS"))["rooms"][0]["players"] == ["alice", "bob"]
    await back.request("READY", {"room_id": room_id})  # still a member


async def test_logging_in_again_keeps_the_seat(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(disconnect_grace_s=0.6)
    a, b, room_id = await _pair(hub, "relog")
    offline = asyncio.ensure_future(a.wait_push("PLAYER_PRESENCE", lambda p: p["offline"] == ["bob"]))
    await b.close()
    await offline
    again = await hub.lobby()
    snapshot = asyncio.ensure_future(again.wait_push("ROOM_UPDATED"))
    await again.login_player("bob", "secret-pw")
    assert (await snapshot)["room"]["players"] == ["alice", "bob"]  # told where it sits
    await asyncio.sleep(0.9)
    assert (await a.request("LIST_ROOMS"))["rooms"][0]["players"] == ["alice", "bob"]


async def test_seat_lost_after_the_grace_period(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(disconnect_grace_s=0.4)
    a, b, room_id = await _pair(hub, "gone")
    token = b.token
    upd = asyncio.ensure_future(a.wait_push("ROOM_UPDATED", lambda p: p["room"]["players"] == ["alice"]))
    await a.request("LIST_ROOMS")
    await b.close()
    await upd
    # The session itself is still resumable (session_resume_grace_s), but the seat is gone.
    back = await hub.lobby()
    back.token = token
    assert (await back.request("LIST_ROOMS"))["rooms"][0]["players"] == ["alice"]
    await back.request("JOIN_ROOM", {"room_id": room_id})


async def test_host_disconnect_after_grace_passes_the_host(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(disconnect_grace_s=0.3)
    a, b, room_id = await _pair(hub, "hosted")
    upd = asyncio.ensure_future(b.wait_push("ROOM_UPDATED", lambda p: p["room"]["host"] == "bob"))
    await a.close()
    assert (await upd)["room"]["players"] == ["bob"]

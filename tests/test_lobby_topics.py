"""Room subscribers and lobby watchers are push-bus topics: they end with the room or the connection."""

from __future__ import annotations

import asyncio

from playhub.services.room_seats import LOBBY_TOPIC, room_topic
from tests.helpers import Harness
from tests.lobby_helpers import make_game


async def _until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_closed_room_drops_its_subscribers(hub: Harness) -> None:
    game_id = await make_game(hub.app, "topics")
    host, watcher = await hub.player("alice"), await hub.player("wally")
    room_id = (await host.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await watcher.request("SUBSCRIBE_ROOM", {"room_id": room_id})
    assert len(hub.app.bus.subscribers(room_topic(room_id))) == 1
    closed = asyncio.ensure_future(watcher.wait_push("ROOM_UPDATED"))
    await host.request("LEAVE_ROOM", {"room_id": room_id})
    assert (await asyncio.wait_for(closed, 5))["room"]["status"] == "CLOSED"  # told once, then forgotten
    assert hub.app.bus.subscribers(room_topic(room_id)) == []


async def test_a_closed_connection_leaves_the_lobby_and_its_rooms(hub: Harness) -> None:
    game_id = await make_game(hub.app, "topics")
    host, watcher = await hub.player("alice"), await hub.player("wally")
    room_id = (await host.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await watcher.request("SUBSCRIBE_ROOM", {"room_id": room_id})
    await watcher.request("WATCH_LOBBY")
    assert len(hub.app.bus.subscribers(LOBBY_TOPIC)) == 1
    await watcher.close()
    await _until(lambda: not hub.app.bus.subscribers(LOBBY_TOPIC), "the lobby topic to empty")
    assert hub.app.bus.subscribers(room_topic(room_id)) == []
    await host.request("READY", {"room_id": room_id})  # publishing to an emptied topic is fine

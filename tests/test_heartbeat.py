"""PING/PONG, the idle timeout, SERVER_INFO and instance ids, LOGOUT that closes, the client's heartbeat."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playhub import __version__
from playhub.client import Client
from playhub.server.app import PlayHubApp
from playhub.services.sessions import Role
from tests.helpers import Harness, settings_for_tests
from tests.lobby_helpers import make_game


async def test_ping_is_answered_on_both_listeners_without_a_token(hub: Harness) -> None:
    for port in (hub.app.dev_port, hub.app.lobby_port):
        c = await Client.connect("127.0.0.1", port)
        hub.clients.append(c)
        assert await c.request("PING", {"client_sent_at": 1_733_000_000_123}) == {
            "client_sent_at": 1_733_000_000_123
        }
        assert await c.request("PING") == {"client_sent_at": 0}
        raw = await c.request_raw("PING", {"client_sent_at": "soon"})
        assert raw["code"] == 100


async def test_server_info_and_whoami_carry_the_instance_and_the_auth_policy(tmp_path: Path) -> None:
    ids = []
    for run in range(2):
        app = PlayHubApp(settings_for_tests(tmp_path / "data"))
        await app.start()
        h = Harness(app)
        try:
            info = await (await h.lobby()).request("SERVER_INFO")
            s = app.settings
            assert info["version"] == __version__
            assert info["auth_policy"] == {
                "username_min_length": s.username_min,
                "username_max_length": s.username_max,
                "password_min_length": s.password_min,
                "password_max_length": s.password_max,
            }
            assert info["heartbeat"] == {"idle_timeout_s": s.idle_timeout_s, "ping_interval_s": 15.0}
            dev_info = await (await h.dev()).request("SERVER_INFO")
            assert dev_info["instance_id"] == info["instance_id"]
            player = await h.player(f"player{run}")
            who = await player.request("WHOAMI")
            assert who["instance_id"] == info["instance_id"] and who["version"] == __version__
            assert who["user_role"] == "player" and "rooms.create" in who["permissions"]
            ids.append(info["instance_id"])
        finally:
            await h.close()
    assert ids[0] != ids[1]  # a new instance at every start


async def test_logout_can_close_the_connection(hub: Harness) -> None:
    a = await hub.player("alice")
    await a.request("LOGOUT", {"close": True})
    await asyncio.wait_for(a.wait_closed(), 5)
    b = await hub.player("bob")
    await b.request("LOGOUT")
    assert await b.request("PING") == {"client_sent_at": 0}  # still open


async def test_a_silent_client_is_closed_and_its_seat_handled_as_a_disconnect(make_hub: object) -> None:
    hub: Harness = await make_hub(idle_timeout_s=1.0, disconnect_grace_s=1.0)  # type: ignore[operator]
    game_id = await make_game(hub.app, "duel")
    port = hub.app.lobby_port
    host = await Client.connect("127.0.0.1", port, heartbeat_s=0.3)  # keeps pinging
    silent = await Client.connect("127.0.0.1", port, heartbeat_s=0)
    hub.clients += [host, silent]
    await host.register_player("alice", "secret-pw")
    await silent.register_player("bob", "secret-pw")
    room_id = (await host.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    await silent.request("JOIN_ROOM", {"room_id": room_id})
    gone = asyncio.ensure_future(host.wait_push("ROOM_UPDATED", lambda p: p["room"]["players"] == ["alice"]))
    await asyncio.wait_for(silent.wait_closed(), 5)
    bob = hub.app.sessions.by_username(Role.PLAYER, "bob")
    assert (
        bob is not None and not bob.online
    )  # a disconnect: the token stays valid, the seat waits out the grace
    room = (await asyncio.wait_for(gone, 5))["room"]
    assert room["host"] == "alice"
    # The pinging client outlived several timeouts.
    assert not host.closed and await host.request("PING") == {"client_sent_at": 0}


async def test_the_client_closes_when_a_ping_goes_unanswered() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)  # takes the PING and never answers
        await asyncio.sleep(30)

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        c = await Client.connect("127.0.0.1", port, heartbeat_s=0.2)
        await asyncio.wait_for(c.wait_closed(), 5)
        assert c.missed_pong
        await c.close()
    finally:
        server.close()

"""Losing the connection: a banner, automatic reconnection with backoff, the session restored (resumed with its token,
also after a server restart since sessions are stored; or logged in again with the remembered credentials when the
server no longer knows the token)."""

from __future__ import annotations

import socket
from pathlib import Path

from textual.widgets import Input, Static

from playhub.client.library import download_game
from playhub.server.app import PlayHubApp
from playhub.tui.screens.room import RoomScreen
from playhub.tui.screens.store import StoreScreen
from playhub.tui.session import ConnState
from playhub.tui.widgets import ConnectionBanner, NumberedTable
from tests.helpers import Harness, settings_for_tests
from tests.tui_helpers import login, make_app, publish_duel, screen_name, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_server_restart_shows_banner_then_resumes_the_session(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    server = PlayHubApp(settings_for_tests(data, lobby_port=port))
    await server.start()
    hub = Harness(server)
    try:
        await publish_duel(hub, tmp_path)
        app = make_app(hub, tmp_path / "downloads")
        async with app.run_test(size=(100, 30)) as pilot:
            await login(pilot, "carol", register=True)
            await pilot.press("1")
            store = await wait_for(pilot, lambda: isinstance(app.screen, StoreScreen) and app.screen)
            await wait_for(pilot, lambda: store.query_one(NumberedTable).row_count == 1)
            old_token = app.session.client.token

            await hub.close()  # the server goes away; its sessions are stored and come back with it
            banner = await wait_for(pilot, lambda: app.screen.query_one(ConnectionBanner))
            await wait_for(pilot, lambda: banner.has_class("-shown"), what="banner")
            assert "Connection lost" in str(banner.render())
            assert app.session.state is ConnState.RECONNECTING

            server = PlayHubApp(settings_for_tests(data, lobby_port=port))
            await server.start()
            hub = Harness(server)
            await wait_for(pilot, lambda: app.session.online, timeout=20, what="reconnected")
            await wait_for(pilot, lambda: not banner.has_class("-shown"), what="banner gone")
            assert app.session.client.token == old_token  # resumed: no new login, no password hash
            assert app.session.server_restarted  # another instance_id: the player is told "server restarted"
            assert app.screen is store  # the player stays where they were
            # The screen reloaded by itself and requests work again.
            await wait_for(pilot, lambda: store.query_one(NumberedTable).row_count == 1)
            assert (await app.session.request("WHOAMI"))["username"] == "carol"
    finally:
        await hub.close()


async def test_dropped_connection_resumes_the_session_and_keeps_the_room_seat(
    hub: Harness, tmp_path: Path
) -> None:
    game_id = await publish_duel(hub, tmp_path)
    app = make_app(hub, tmp_path / "downloads")
    async with app.run_test(size=(100, 30)) as pilot:
        await login(pilot, "dave", register=True)
        await download_game(app.session.client, app.library, game_id)
        app.create_room_flow({"game_id": game_id, "name": "duel", "display_name": "Duel"})
        room = await wait_for(pilot, lambda: isinstance(app.screen, RoomScreen) and app.screen)
        token = app.session.client.token

        states: list[ConnState] = []
        report = app.session.on_state
        assert report is not None
        app.session.on_state = lambda change: (states.append(change.state), report(change))
        dropped = app.session.client
        dropped.writer.transport.abort()  # the network drops
        await wait_for(
            pilot, lambda: app.session.online and app.session.client is not dropped, what="reconnected"
        )
        assert states[0] is ConnState.RECONNECTING and states[-1] is ConnState.ONLINE
        assert app.session.client.token == token  # resumed, not a new login
        await wait_for(pilot, lambda: room.room.get("players") == ["dave"])
        assert not room.gone
        # The seat is really ours: readiness still works on the resumed session.
        await pilot.press("r")
        await wait_for(pilot, lambda: "dave" in room.room.get("ready", []), what="ready after resume")


async def test_refused_credentials_after_reconnect_bring_back_the_login_form(tmp_path: Path) -> None:
    port = free_port()
    server = PlayHubApp(settings_for_tests(tmp_path / "data-a", lobby_port=port))
    await server.start()
    hub = Harness(server)
    try:
        app = make_app(hub, tmp_path / "downloads")
        async with app.run_test(size=(100, 30)) as pilot:
            await login(pilot, "kim", register=True)
            await hub.close()
            # A different server (fresh data) comes up on the same address: it has never heard of kim.
            server = PlayHubApp(settings_for_tests(tmp_path / "data-b", lobby_port=port))
            await server.start()
            hub = Harness(server)
            error = await wait_for(
                pilot,
                lambda: screen_name(app) == "LoginScreen" and app.screen.query_one("#error", Static),
                timeout=20,
                what="login form",
            )
            assert "log in again" in str(error.render())
            assert not app.screen.query_one(ConnectionBanner).has_class("-shown")
            # Registering on the new server works on the same connection, and the session is online again.
            app.screen.query_one("#username", Input).value = "kim"
            app.screen.query_one("#password", Input).value = "secret-pw"
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: screen_name(app) == "HomeScreen", what="home")
            assert app.session.online
    finally:
        await hub.close()

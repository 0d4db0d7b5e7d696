"""Regenerate docs/img/store.svg and docs/img/room.svg: the player app driven headless against a real server.

    PYTHONPATH=src python docs/make_screenshots.py

Starts an in-process server in a temporary folder, publishes every sample game under ``games/`` through the developer
port (``rps`` twice, so the store shows an update), has a few players review them, then opens the player app,
visits the store and a room with a second player in it, and saves SVG screenshots.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from playhub.client import Client, ServerAddress  # noqa: E402
from playhub.client.library import download_game  # noqa: E402
from playhub.client.publishing import publish_folder  # noqa: E402
from playhub.server.app import PlayHubApp  # noqa: E402
from playhub.settings import Settings  # noqa: E402
from playhub.store import accounts, plays  # noqa: E402
from playhub.tui.app import PlayerApp  # noqa: E402
from playhub.tui.screens.room import RoomScreen  # noqa: E402
from playhub.tui.screens.store import StoreScreen  # noqa: E402
from playhub.tui.widgets import NumberedTable  # noqa: E402

OUT = ROOT / "docs" / "img"
SIZE = (118, 32)
REVIEWS = [
    ("bob", 5, "Quick and fun, perfect between meetings."),
    ("carol", 4, "Simple rules, surprisingly tense in the last round."),
]


async def wait(pilot, condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await pilot.pause(0.05)


async def seed(server: PlayHubApp, work: Path) -> dict[str, str]:
    """Publish the sample games for real; record stand-in matches so reviews are allowed."""
    dev = await Client.connect("127.0.0.1", server.dev_port)
    await dev.register_dev("studio", "secret-pw")
    ids: dict[str, str] = {}
    for folder in sorted((ROOT / "games").iterdir()):
        if (folder / "manifest.json").is_file():
            out = await publish_folder(dev, folder, "1.0.0")
            ids[json.loads((folder / "manifest.json").read_text())["name"]] = out["game_id"]
    await dev.close()
    for name, score, comment in REVIEWS:
        c = await Client.connect("127.0.0.1", server.lobby_port)
        await c.register_player(name, "secret-pw")
        for game_id in ids.values():
            account = await server.db.run(accounts.find, "player", name)
            await server.db.run(
                plays.record_start, game_id, [account.id], secrets.token_hex(4), "1.0.0", time.time()
            )
            await c.request("ADD_REVIEW", {"game_id": game_id, "score": score, "comment": comment})
        await c.close()
    return ids


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="playhub-shots-"))
    settings = dataclasses.replace(
        Settings(),
        data_dir=work / "data",
        dev_port=0,
        lobby_port=0,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    server = PlayHubApp(settings)
    await server.start()
    try:
        ids = await seed(server, work)
        app = PlayerApp(ServerAddress("127.0.0.1", server.lobby_port, "flags"), work / "downloads")
        async with app.run_test(size=SIZE) as pilot:
            await wait(pilot, lambda: type(app.screen).__name__ == "LoginScreen")
            await app.session.open()
            await app.session.register("alice", "secret-pw")
            app.after_login()
            await wait(pilot, lambda: type(app.screen).__name__ == "HomeScreen")
            if "rps" in ids:
                await download_game(app.session.client, app.library, ids["rps"])
                dev = await Client.connect("127.0.0.1", server.dev_port)
                await dev.login_dev("studio", "secret-pw")
                await publish_folder(dev, ROOT / "games" / "rps", "1.1.0")
                await dev.close()
            await pilot.press("1")
            await wait(pilot, lambda: isinstance(app.screen, StoreScreen))
            await wait(pilot, lambda: app.screen.query_one(NumberedTable).row_count == len(ids))
            await pilot.pause(0.3)
            OUT.mkdir(parents=True, exist_ok=True)
            app.save_screenshot(str(OUT / "store.svg"))

            first = next(iter(ids.items()))
            await download_game(app.session.client, app.library, first[1])
            app.create_room_flow({"game_id": first[1], "name": first[0]})
            await wait(pilot, lambda: isinstance(app.screen, RoomScreen))
            room: RoomScreen = app.screen  # type: ignore[assignment]
            bob = await Client.connect("127.0.0.1", server.lobby_port)
            await bob.login_player("bob", "secret-pw")
            await bob.request("JOIN_ROOM", {"room_id": room.room_id})
            await bob.request("READY", {"room_id": room.room_id})
            await wait(pilot, lambda: "bob" in room.room.get("ready", []))
            await pilot.press("r")
            await wait(pilot, lambda: "alice" in room.room.get("ready", []))
            await pilot.pause(0.3)
            app.save_screenshot(str(OUT / "room.svg"))
            await bob.close()
    finally:
        await server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {OUT / 'store.svg'} and {OUT / 'room.svg'}")


if __name__ == "__main__":
    asyncio.run(main())

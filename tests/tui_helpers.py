"""Helpers for the player app tests: a small real game published through the developer port, and pilot waits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from playhub.client import Client, ServerAddress
from playhub.client.publishing import publish_folder
from playhub.tui.app import PlayerApp

# The game server: waits for the first player's hello (a JSON line; bare connects are readiness probes), checks its
# ticket with the SDK, reports the match to the lobby with results, and exits.
DUEL_SERVER = r"""
import json, os, socket
from playhub.sdk import RoomContext

room = RoomContext.from_env()
srv = socket.create_server((os.environ["GAME_HOST"], int(os.environ["GAME_PORT"])))
srv.settimeout(60)
while True:
    conn, _ = srv.accept()
    with conn:
        line = conn.makefile("r").readline()
        if not line.strip():
            continue
        hello = json.loads(line)
        ok = room.verify_ticket(hello["player"], hello["ticket"])
        conn.sendall(b"welcome\n" if ok else b"bad ticket\n")
    if ok:
        break
room.report_finished({"winner": hello["player"], "summary": "ticket verified"})
"""

# The game client: records its environment and working folder next to itself, says hello, and exits.
DUEL_CLIENT = r"""
import json, os, socket, sys
keys = ["GAME_HOST", "GAME_PORT", "ROOM_ID", "GAME_NAME", "GAME_VERSION", "PLAYER_USERNAME", "PLAYER_NAME",
        "PLAYHUB_TICKET"]
record = {k: os.environ.get(k) for k in keys}
record["cwd"] = os.getcwd()
import playhub.sdk  # the launcher's PYTHONPATH makes the SDK importable
record["sdk"] = True
with open(f"env-{os.environ['PLAYER_USERNAME']}.json", "w") as fh:
    json.dump(record, fh)
with socket.create_connection((os.environ["GAME_HOST"], int(os.environ["GAME_PORT"])), 10) as s:
    s.sendall((json.dumps({"player": os.environ["PLAYER_USERNAME"], "ticket": os.environ["PLAYHUB_TICKET"]}) + "\n").encode())
    answer = s.makefile("r").readline().strip()
print("server said", answer)
sys.exit(0 if answer == "welcome" else 4)
"""


def make_duel(root: Path, name: str = "duel", *, client_code: str = DUEL_CLIENT, **manifest: Any) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "name": name,
        "display_name": name.title(),
        "type": "cli",
        "min_players": 2,
        "max_players": 2,
        "entry_server": "server.py",
        "entry_client": "client.py",
        "description": f"{name.title()}: a two-player test game.",
        **manifest,
    }
    (folder / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "server.py").write_text(DUEL_SERVER, encoding="utf-8")
    (folder / "client.py").write_text(client_code, encoding="utf-8")
    return folder


async def publish_duel(
    hub: Any, tmp: Path, name: str = "duel", version: str = "1.0.0", **manifest: Any
) -> str:
    """Publish through the real developer port; returns the game id."""
    dev = await hub.developer("devA")
    out = await publish_folder(dev, make_duel(tmp / "src", name, **manifest), version)
    return str(out["game_id"])


def make_app(hub: Any, downloads: Path, **kwargs: Any) -> PlayerApp:
    address = ServerAddress("127.0.0.1", hub.app.lobby_port, "flags")
    return PlayerApp(
        address, downloads, backoff_initial_s=0.05, backoff_max_s=0.5, lobby_poll_s=60.0, **kwargs
    )


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], Any], timeout: float = 15.0, what: str = ""
) -> Any:
    """Let the app run until ``condition()`` is truthy (pilot.pause() lets messages and workers progress)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    value = condition()
                except Exception:  # a widget not mounted yet
                    value = None
                if value:
                    return value
                await pilot.pause(0.02)
    except TimeoutError:
        screen = type(pilot.app.screen).__name__
        raise AssertionError(f"timed out waiting for {what or 'a condition'} (on {screen})") from None


def row_text(table: Any, index: int) -> list[str]:
    """A table row's cells as plain strings."""
    return [str(cell) for cell in table.get_row_at(index)]


def screen_name(app: PlayerApp) -> str:
    return type(app.screen).__name__


async def login(
    pilot: Pilot[Any], username: str, password: str = "secret-pw", *, register: bool = False
) -> None:
    """Fill the login form and submit it (typing key by key is covered once, in the login test)."""
    app: PlayerApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: screen_name(app) == "LoginScreen" and app.screen.query_one("#password"))
    app.screen.query_one("#username", Input).value = username
    field = app.screen.query_one("#password", Input)
    field.value = password
    field.focus()
    await pilot.press("ctrl+r" if register else "enter")
    await wait_for(
        pilot,
        lambda: screen_name(app) == "HomeScreen" and app.screen.query_one("#menu"),
        what="home screen after login",
    )


async def player_client(hub: Any, name: str) -> Client:
    return await hub.player(name)

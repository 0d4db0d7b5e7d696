"""The store with the real publishing commands: a developer publishes and delists, a player sees and downloads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from playhub.client.library import LocalLibrary, download_game
from playhub.client.publishing import publish_folder
from playhub.protocol.errors import BadState
from tests.publishing_helpers import make_game_folder


async def test_published_versions_reach_the_player(hub, tmp_path: Path) -> None:
    dev = await hub.developer("devA")
    alice = await hub.player("alice")
    assert (await alice.request("LIST_GAMES"))["games"] == []  # cached empty listing...

    folder = make_game_folder(tmp_path / "src", "rps", extra_bytes=200_000)
    out = await publish_folder(dev, folder, "1.0.0")
    game_id = out["game_id"]
    games = (await alice.request("LIST_GAMES"))["games"]  # ...dropped by publishing's catalog_changed
    assert [(g["name"], g["latest_version"], g["author"]) for g in games] == [("rps", "1.0.0", "devA")]

    library = LocalLibrary(tmp_path / "downloads", "alice")
    got = await download_game(alice, library, game_id)
    assert got.version == "1.0.0"
    assert (got.path / "assets.bin").read_bytes() == (folder / "assets.bin").read_bytes()
    latest = await alice.request("LATEST_VERSION", {"game_id": game_id})
    stored = hub.app.blobs.archive(game_id, "1.0.0").read_bytes()
    assert latest["checksum"] == hashlib.sha256(stored).hexdigest()

    (folder / "client.py").write_text("print('client 1.1.0')\n")
    await publish_folder(dev, folder, "1.1.0")
    listing = (await alice.request("LIST_GAMES"))["games"]
    assert library.updates(listing) == {"rps": "1.1.0"}
    newer = await download_game(alice, library, game_id)
    assert (newer.path / "client.py").read_text() == "print('client 1.1.0')\n"
    detail = await alice.request("GET_GAME_DETAIL", {"game_id": game_id})
    assert [v["version"] for v in detail["versions"]] == ["1.0.0", "1.1.0"]

    await dev.request("SET_GAME_STATUS", {"game_id": game_id, "status": "OFFLINE"})
    assert (await alice.request("LIST_GAMES"))["games"] == []
    assert (await alice.request("GET_GAME_DETAIL", {"game_id": game_id}))["status"] == "OFFLINE"
    with pytest.raises(BadState):
        await alice.request("DOWNLOAD_BEGIN", {"game_id": game_id})
    # Already downloaded copies stay playable (seed 003: delisting does not reach into players' machines).
    assert library.installed_version("rps") == "1.1.0"

"""Games from the developer's side: create, list, describe, delist, versions, hints (D1-D3) over real sockets."""

from __future__ import annotations

import pytest

from playhub.protocol.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthorized
from tests.helpers import Harness
from tests.publishing_helpers import create_game, good_package, upload


async def test_create_and_list_my_games(hub: Harness) -> None:
    changed: list[str] = []
    hub.app.events.on("catalog_changed", changed.append)
    dev = await hub.developer("ann")
    game_id = await create_game(dev, "tetris")
    other = await create_game(dev, "chess", display_name="Chess!", min_players=1, game_type="GUI")
    assert changed == [game_id, other]
    games = (await dev.request("LIST_MY_GAMES", {}))["games"]
    assert [g["name"] for g in games] == ["tetris", "chess"]
    tetris, chess = games
    for key in (
        "game_id",
        "name",
        "description",
        "status",
        "latest_version",
        "avg_score",
        "review_count",
        "display_name",
        "game_type",
        "max_players",
    ):
        assert key in tetris
    assert tetris["status"] == "ONLINE" and tetris["latest_version"] is None
    assert tetris["avg_score"] is None and tetris["review_count"] == 0
    assert tetris["display_name"] == "tetris" and tetris["min_players"] == 2
    assert chess["display_name"] == "Chess!" and chess["game_type"] == "gui" and chess["min_players"] == 1
    # Another developer sees only their own games.
    assert (await (await hub.developer("bob")).request("LIST_MY_GAMES", {}))["games"] == []


async def test_game_names_are_unique_across_developers(hub: Harness) -> None:
    await create_game(await hub.developer("ann"), "tetris")
    bob = await hub.developer("bob")
    with pytest.raises(Conflict):
        await create_game(bob, "tetris")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("name", "Bad Name", "lowercase"),
        ("name", "../etc", "lowercase"),
        ("name", "a", "lowercase"),
        ("name", "x" * 65, "lowercase"),
        ("game_type", "vr", "game_type"),
        ("max_players", 0, "max_players"),
        ("max_players", 65, "max_players"),
        ("min_players", 3, "min_players"),
        ("description", "d" * 2001, "description"),
        ("display_name", "   ", "display_name"),
    ],
)
async def test_create_game_rules_are_100(hub: Harness, field: str, value: object, fragment: str) -> None:
    dev = await hub.developer()
    payload = {"name": "okgame", "description": "fine", "game_type": "cli", "max_players": 2, field: value}
    with pytest.raises(InvalidRequest) as info:
        await dev.request("CREATE_GAME", payload)
    assert fragment in info.value.message


async def test_create_game_schema_and_auth_errors(hub: Harness) -> None:
    dev = await hub.developer()
    with pytest.raises(InvalidRequest):  # missing field
        await dev.request("CREATE_GAME", {"name": "x1", "description": "d", "game_type": "cli"})
    with pytest.raises(InvalidRequest):  # unknown field
        await dev.request(
            "CREATE_GAME",
            {"name": "x1", "description": "d", "game_type": "cli", "max_players": 2, "colour": "red"},
        )
    anonymous = await hub.dev()
    with pytest.raises(Unauthorized):
        await create_game(anonymous, "x2")
    player = await hub.player("pat")
    resp = await (await hub.dev()).request_raw("LIST_MY_GAMES", {}, token=player.token)
    assert resp["code"] == 102  # a player's token on a developer command


async def test_ownership_102_and_unknown_103_on_every_game_command(hub: Harness) -> None:
    ann = await hub.developer("ann")
    bob = await hub.developer("bob")
    game_id = await create_game(ann, "tetris")
    commands = [
        ("UPDATE_GAME_META", {"description": "mine now"}),
        ("SET_GAME_STATUS", {"status": "OFFLINE"}),
        ("LIST_VERSIONS", {}),
        ("VERSION_HINT", {}),
        ("UPLOAD_BEGIN", {"version": "1.0.0", "size_bytes": 10}),
    ]
    for name, extra in commands:
        with pytest.raises(Forbidden):
            await bob.request(name, {"game_id": game_id, **extra})
        with pytest.raises(NotFound):
            await ann.request(name, {"game_id": "no-such-game", **extra})


async def test_update_game_meta(hub: Harness) -> None:
    changed: list[str] = []
    hub.app.events.on("catalog_changed", changed.append)
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris", max_players=4, min_players=2)
    out = await dev.request(
        "UPDATE_GAME_META",
        {
            "game_id": game_id,
            "description": "Falling blocks.",
            "max_players": 6,
            "game_type": "Multi",
            "display_name": "Tetris",
        },
    )
    assert out["description"] == "Falling blocks." and out["max_players"] == 6 and out["game_type"] == "multi"
    assert out["display_name"] == "Tetris" and out["min_players"] == 2 and out["name"] == "tetris"
    assert changed[-1] == game_id
    # Lowering max_players below the stored min_players pulls min_players down with it.
    out = await dev.request("UPDATE_GAME_META", {"game_id": game_id, "max_players": 1})
    assert out["max_players"] == 1 and out["min_players"] == 1
    with pytest.raises(InvalidRequest):
        await dev.request("UPDATE_GAME_META", {"game_id": game_id, "min_players": 5})
    with pytest.raises(InvalidRequest):
        await dev.request("UPDATE_GAME_META", {"game_id": game_id, "game_type": "vr"})
    with pytest.raises(InvalidRequest):  # the name is the package's identity: not updatable
        await dev.request("UPDATE_GAME_META", {"game_id": game_id, "name": "other"})


async def test_delist_keeps_versions_and_relist(hub: Harness) -> None:
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    await upload(dev, game_id, "1.0.0", good_package("tetris"))
    changed: list[str] = []
    hub.app.events.on("catalog_changed", changed.append)
    assert await dev.request("SET_GAME_STATUS", {"game_id": game_id, "status": "OFFLINE"}) == {
        "game_id": game_id,
        "status": "OFFLINE",
    }
    assert changed == [game_id]
    game = (await dev.request("LIST_MY_GAMES", {}))["games"][0]
    assert game["status"] == "OFFLINE" and game["latest_version"] == "1.0.0"
    versions = (await dev.request("LIST_VERSIONS", {"game_id": game_id}))["versions"]
    assert [v["version"] for v in versions] == ["1.0.0"]
    assert (hub.app.blobs.version_dir(game_id, "1.0.0") / "manifest.json").is_file()
    assert hub.app.blobs.archive(game_id, "1.0.0").is_file()
    # A delisted game still accepts new versions (the developer can fix it before relisting).
    await upload(dev, game_id, "1.0.1", good_package("tetris"))
    await dev.request("SET_GAME_STATUS", {"game_id": game_id, "status": "online"})
    assert (await dev.request("LIST_MY_GAMES", {}))["games"][0]["status"] == "ONLINE"
    with pytest.raises(InvalidRequest):
        await dev.request("SET_GAME_STATUS", {"game_id": game_id, "status": "REMOVED"})


async def test_versions_and_hint(hub: Harness) -> None:
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    assert await dev.request("VERSION_HINT", {"game_id": game_id}) == {
        "latest_version": None,
        "suggested_version": "1.0.0",
    }
    assert (await dev.request("LIST_VERSIONS", {"game_id": game_id}))["versions"] == []
    for v in ("1.0.0", "1.2.0", "1.10.0"):
        out = await upload(dev, game_id, v, good_package("tetris"))
        assert out["version"] == v and out["is_latest"] is True
    versions = (await dev.request("LIST_VERSIONS", {"game_id": game_id}))["versions"]
    assert [(v["version"], v["is_latest"]) for v in versions] == [
        ("1.0.0", False),
        ("1.2.0", False),
        ("1.10.0", True),
    ]
    assert all(v["uploaded_at"] > 0 and v["size_bytes"] > 0 and len(v["checksum"]) == 64 for v in versions)
    assert await dev.request("VERSION_HINT", {"game_id": game_id}) == {
        "latest_version": "1.10.0",
        "suggested_version": "1.10.1",
    }
    game = (await dev.request("LIST_MY_GAMES", {}))["games"][0]
    assert game["latest_version"] == "1.10.0" and game["version_count"] == 3


async def test_reviews_show_in_my_games(hub: Harness) -> None:
    """avg_score and review_count come from the reviews table (written by the store area)."""
    dev = await hub.developer()
    game_id = await create_game(dev, "tetris")
    await hub.player("pat")
    await hub.player("quinn")

    def add_reviews(conn):  # type: ignore[no-untyped-def]
        rows = conn.execute("SELECT id FROM accounts WHERE role = 'player' ORDER BY id").fetchall()
        for (pid,), score in zip(rows, (4, 5), strict=True):
            conn.execute("INSERT INTO reviews VALUES (?, ?, ?, ?, ?)", (game_id, pid, score, "fun", 1.0))

    await hub.app.db.run(add_reviews)
    game = (await dev.request("LIST_MY_GAMES", {}))["games"][0]
    assert game["avg_score"] == 4.5 and game["review_count"] == 2

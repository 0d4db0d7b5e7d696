"""P1: browsing the store (LIST_GAMES, GET_GAME_DETAIL, LATEST_VERSION) over real sockets."""

from __future__ import annotations

import hashlib

import pytest

from playhub.protocol.errors import BadState, Forbidden, InvalidRequest, NotFound, Unauthorized
from tests.store_helpers import create_game_without_version, publish, record_play, set_status


async def test_empty_store_lists_nothing(hub) -> None:
    alice = await hub.player("alice")
    assert await alice.request("LIST_GAMES") == {"games": []}


async def test_listing_shows_online_games_with_a_version(hub) -> None:
    app = hub.app
    rps = await publish(app, "rps", "1.0.0", display_name="Rock Paper Scissors", max_players=2)
    await publish(app, "rps", "1.2.0")
    tetris = await publish(app, "tetris", "0.1.0", type="gui", developer="devB", max_players=4, min_players=2)
    await create_game_without_version(app, "draft")
    gone = await publish(app, "gone", "1.0.0")
    await set_status(app, gone, "OFFLINE")
    alice = await hub.player("alice")
    games = (await alice.request("LIST_GAMES"))["games"]
    assert [g["name"] for g in games] == ["rps", "tetris"]
    first = games[0]
    assert first == {
        "game_id": rps,
        "name": "rps",
        "display_name": "Rock Paper Scissors",
        "status": "ONLINE",
        "latest_version": "1.2.0",
        "game_type": "cli",
        "max_players": 2,
        "min_players": 2,
        "author": "devA",
        "avg_score": None,
        "review_count": 0,
        "description": "rps for testing",
    }
    assert games[1]["game_id"] == tetris
    assert (games[1]["author"], games[1]["min_players"], games[1]["max_players"]) == ("devB", 2, 4)


async def test_detail_fields_and_errors(hub) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0", description="Rock, paper, scissors")
    await publish(app, "rps", "1.1.0")
    draft = await create_game_without_version(app, "draft")
    alice = await hub.player("alice")
    await record_play(app, game, "alice")
    await alice.request("ADD_REVIEW", {"game_id": game, "score": 4, "comment": "fun"})
    d = await alice.request("GET_GAME_DETAIL", {"game_id": game})
    for key in (
        "game_id",
        "name",
        "description",
        "game_type",
        "max_players",
        "status",
        "latest_version",
        "avg_score",
        "reviews_sample",
        "display_name",
        "author",
        "min_players",
        "versions",
        "review_count",
    ):
        assert key in d, key
    assert d["latest_version"] == "1.1.0" and d["status"] == "ONLINE" and d["author"] == "devA"
    assert [v["version"] for v in d["versions"]] == ["1.0.0", "1.1.0"]
    assert all(v["size_bytes"] > 0 and v["uploaded_at"] > 0 for v in d["versions"])
    assert d["avg_score"] == 4.0 and d["review_count"] == 1
    assert d["reviews_sample"][0]["player"] == "alice" and d["reviews_sample"][0]["comment"] == "fun"
    with pytest.raises(NotFound):
        await alice.request("GET_GAME_DETAIL", {"game_id": "nope"})
    with pytest.raises(NotFound):
        await alice.request("GET_GAME_DETAIL", {"game_id": draft})
    with pytest.raises(InvalidRequest):
        await alice.request("GET_GAME_DETAIL", {})
    with pytest.raises(InvalidRequest):
        await alice.request("GET_GAME_DETAIL", {"game_id": game, "extra": 1})


async def test_delisted_game_detail_says_offline(hub) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    alice = await hub.player("alice")
    assert (await alice.request("GET_GAME_DETAIL", {"game_id": game}))["status"] == "ONLINE"
    await set_status(app, game, "OFFLINE")
    assert (await alice.request("LIST_GAMES"))["games"] == []
    assert (await alice.request("GET_GAME_DETAIL", {"game_id": game}))["status"] == "OFFLINE"
    with pytest.raises(BadState):
        await alice.request("LATEST_VERSION", {"game_id": game})


async def test_latest_version(hub) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    await publish(app, "rps", "2.0.0")
    draft = await create_game_without_version(app, "draft")
    alice = await hub.player("alice")
    out = await alice.request("LATEST_VERSION", {"game_id": game})
    archive = app.blobs.archive(game, "2.0.0")
    assert out == {
        "version": "2.0.0",
        "size_bytes": archive.stat().st_size,
        "checksum": hashlib.sha256(archive.read_bytes()).hexdigest(),
    }
    with pytest.raises(NotFound):
        await alice.request("LATEST_VERSION", {"game_id": "nope"})
    with pytest.raises(NotFound):
        await alice.request("LATEST_VERSION", {"game_id": draft})


async def test_store_needs_a_player_session(hub) -> None:
    await publish(hub.app, "rps", "1.0.0")
    anon = await hub.lobby()
    with pytest.raises(Unauthorized):
        await anon.request("LIST_GAMES")
    dev = await hub.developer("devX")
    with pytest.raises(Forbidden):
        await anon.request("LIST_GAMES", token=dev.token)
    with pytest.raises(InvalidRequest):  # store commands are not served on the developer port
        await dev.request("LIST_GAMES")


async def test_cache_is_invalidated_by_catalogue_and_review_writes(hub) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    alice = await hub.player("alice")
    assert (await alice.request("LIST_GAMES"))["games"][0]["latest_version"] == "1.0.0"
    assert (await alice.request("GET_GAME_DETAIL", {"game_id": game}))["latest_version"] == "1.0.0"
    assert app.store.cached_entries == 2
    # A second read is served from the cache: same bytes, no new entries.
    assert (await alice.request("LIST_GAMES"))["games"][0]["latest_version"] == "1.0.0"
    assert app.store.cached_entries == 2

    await publish(app, "rps", "1.0.1")  # emits catalog_changed, as publishing does
    assert (await alice.request("LIST_GAMES"))["games"][0]["latest_version"] == "1.0.1"
    assert (await alice.request("GET_GAME_DETAIL", {"game_id": game}))["latest_version"] == "1.0.1"

    await record_play(app, game, "alice")
    await alice.request("ADD_REVIEW", {"game_id": game, "score": 5, "comment": ""})
    assert (await alice.request("LIST_GAMES"))["games"][0]["avg_score"] == 5.0
    detail = await alice.request("GET_GAME_DETAIL", {"game_id": game})
    assert detail["review_count"] == 1 and detail["reviews_sample"][0]["score"] == 5

    await set_status(app, game, "OFFLINE")
    assert (await alice.request("LIST_GAMES"))["games"] == []

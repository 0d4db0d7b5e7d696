"""Developers read every review of their games, score and text, newest first: MY_GAME_REVIEWS and `playhub dev reviews`."""

from __future__ import annotations

import json

import pytest

from playhub.protocol.errors import Forbidden, InvalidRequest, NotFound, Unauthorized
from tests.helpers import Harness
from tests.store_helpers import publish, record_play
from tests.test_publishing_cli import run_dev


async def test_my_game_reviews_newest_first_and_owner_only(hub: Harness) -> None:
    dev = await hub.developer("devA")
    other = await hub.developer("devB")
    game = await publish(hub.app, "rps", "1.0.0", developer="devA")
    empty = await dev.request("MY_GAME_REVIEWS", {"game_id": game})
    assert empty == {
        "game_id": game,
        "reviews": [],
        "total": 0,
        "offset": 0,
        "avg_score": None,
        "review_count": 0,
    }
    for name, score, text in (("alice", 2, "too short"), ("bob", 5, "great fun"), ("carol", 4, "")):
        player = await hub.player(name)
        await record_play(hub.app, game, name)
        await player.request("ADD_REVIEW", {"game_id": game, "score": score, "comment": text})
    answer = await dev.request("MY_GAME_REVIEWS", {"game_id": game})
    assert [(r["player"], r["score"], r["comment"]) for r in answer["reviews"]] == [
        ("carol", 4, ""),
        ("bob", 5, "great fun"),
        ("alice", 2, "too short"),
    ]
    assert answer["avg_score"] == 3.67 and answer["review_count"] == 3 and answer["total"] == 3
    page = await dev.request("MY_GAME_REVIEWS", {"game_id": game, "limit": 1, "offset": 1})
    assert [r["player"] for r in page["reviews"]] == ["bob"]
    with pytest.raises(Forbidden):
        await other.request("MY_GAME_REVIEWS", {"game_id": game})
    with pytest.raises(NotFound):
        await dev.request("MY_GAME_REVIEWS", {"game_id": "nope"})
    with pytest.raises(InvalidRequest):
        await dev.request("MY_GAME_REVIEWS", {"game_id": game, "limit": 0})
    with pytest.raises(InvalidRequest):
        await dev.request("MY_GAME_REVIEWS", {"game_id": game, "offset": -1})
    anonymous = await hub.dev()
    with pytest.raises(Unauthorized):
        await anonymous.request("MY_GAME_REVIEWS", {"game_id": game})
    player = await hub.player("dave")
    with pytest.raises(InvalidRequest):  # a developer-port command is unknown on the lobby port
        await player.request("MY_GAME_REVIEWS", {"game_id": game})


async def test_dev_reviews_command(hub: Harness) -> None:
    await hub.developer("ann")
    game = await publish(hub.app, "snake", "1.0.0", developer="ann")
    player = await hub.player("alice")
    await record_play(hub.app, game, "alice")
    await player.request("ADD_REVIEW", {"game_id": game, "score": 4, "comment": "nice [b]snake[/b]"})
    data = ["--data-dir", str(hub.app.data_dir)]
    creds = {"PLAYHUB_DEV_USER": "ann", "PLAYHUB_DEV_PASSWORD": "secret-pw"}
    code, out, err = await run_dev("reviews", "snake", *data, env=creds)
    assert code == 0, err
    assert "Reviews of snake: 4.00/5 from 1" in out
    assert "alice" in out and "★★★★☆" in out and "nice [b]snake[/b]" in out
    code, out, _ = await run_dev("reviews", "snake", "--json", *data, env=creds)
    assert code == 0 and json.loads(out)["reviews"][0]["comment"] == "nice [b]snake[/b]"

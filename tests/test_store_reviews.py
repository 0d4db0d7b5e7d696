"""P4: reviews only after playing, score and comment rules, one review per player per game, played games."""

from __future__ import annotations

import pytest

from playhub.protocol.errors import Forbidden, InvalidRequest, NotFound
from tests.store_helpers import publish, record_play, set_status


async def test_review_before_playing_is_forbidden(hub) -> None:
    game = await publish(hub.app, "rps", "1.0.0")
    alice = await hub.player("alice")
    with pytest.raises(Forbidden):
        await alice.request("ADD_REVIEW", {"game_id": game, "score": 5, "comment": "never played"})
    assert (await alice.request("LIST_REVIEWS", {"game_id": game}))["reviews"] == []


async def test_review_validation(hub) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    alice = await hub.player("alice")
    await record_play(app, game, "alice")
    for score in (0, 6, -1):
        with pytest.raises(InvalidRequest):
            await alice.request("ADD_REVIEW", {"game_id": game, "score": score, "comment": ""})
    for bad in ("5", 4.5, True, None):
        with pytest.raises(InvalidRequest):
            await alice.request("ADD_REVIEW", {"game_id": game, "score": bad, "comment": ""})
    limit = app.settings.comment_max
    with pytest.raises(InvalidRequest) as err:
        await alice.request("ADD_REVIEW", {"game_id": game, "score": 3, "comment": "x" * (limit + 1)})
    assert err.value.code == 100
    with pytest.raises(InvalidRequest):
        await alice.request("ADD_REVIEW", {"game_id": game, "score": 3, "comment": "bell\x07"})
    with pytest.raises(NotFound):
        await alice.request("ADD_REVIEW", {"game_id": "nope", "score": 3, "comment": ""})
    with pytest.raises(InvalidRequest):
        await alice.request("ADD_REVIEW", {"game_id": game, "comment": "no score"})
    # Exactly at the limit is fine; the comment may be left out.
    out = await alice.request("ADD_REVIEW", {"game_id": game, "score": 3, "comment": "y" * limit})
    assert out["review_count"] == 1
    out = await alice.request("ADD_REVIEW", {"game_id": game, "score": 2})
    assert out["comment"] == ""


async def test_second_review_replaces_the_first(hub) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    alice = await hub.player("alice")
    bob = await hub.player("bob")
    await record_play(app, game, "alice")
    await record_play(app, game, "bob")
    first = await alice.request("ADD_REVIEW", {"game_id": game, "score": 2, "comment": "meh"})
    assert first["replaced"] is False and first["avg_score"] == 2.0 and first["review_count"] == 1
    await bob.request("ADD_REVIEW", {"game_id": game, "score": 5, "comment": "great"})
    again = await alice.request("ADD_REVIEW", {"game_id": game, "score": 4, "comment": "better now"})
    assert again["replaced"] is True and again["review_count"] == 2 and again["avg_score"] == 4.5
    listed = await alice.request("LIST_REVIEWS", {"game_id": game})
    assert listed["total"] == 2
    mine = [r for r in listed["reviews"] if r["player"] == "alice"]
    assert len(mine) == 1 and mine[0]["score"] == 4 and mine[0]["comment"] == "better now"
    assert set(listed["reviews"][0]) == {"player", "score", "comment", "created_at"}
    assert listed["reviews"][0]["player"] == "alice"  # newest first
    page = await alice.request("LIST_REVIEWS", {"game_id": game, "limit": 1, "offset": 1})
    assert [r["player"] for r in page["reviews"]] == ["bob"]
    with pytest.raises(InvalidRequest):
        await alice.request("LIST_REVIEWS", {"game_id": game, "limit": 0})
    with pytest.raises(NotFound):
        await alice.request("LIST_REVIEWS", {"game_id": "nope"})


async def test_delisted_game_can_still_be_reviewed_by_its_players(hub) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    alice = await hub.player("alice")
    await record_play(app, game, "alice")
    await set_status(app, game, "OFFLINE")
    out = await alice.request("ADD_REVIEW", {"game_id": game, "score": 3, "comment": "ok"})
    assert out["review_count"] == 1


async def test_my_played_games(hub) -> None:
    app = hub.app
    rps = await publish(app, "rps", "1.0.0", display_name="RPS")
    tetris = await publish(app, "tetris", "1.0.0")
    await publish(app, "chess", "1.0.0")
    alice = await hub.player("alice")
    await hub.player("bob")
    assert await alice.request("MY_PLAYED_GAMES") == {"games": []}
    await record_play(app, rps, "alice")
    await record_play(app, rps, "alice")
    await record_play(app, tetris, "alice")
    await record_play(app, tetris, "bob")
    await alice.request("ADD_REVIEW", {"game_id": rps, "score": 4, "comment": "nice"})
    games = (await alice.request("MY_PLAYED_GAMES"))["games"]
    assert [g["name"] for g in games] == ["tetris", "rps"]  # most recently played first
    by_name = {g["name"]: g for g in games}
    assert by_name["tetris"]["my_review"] is None
    assert by_name["rps"]["display_name"] == "RPS" and by_name["rps"]["rooms_played"] == 2
    review = by_name["rps"]["my_review"]
    assert (review["score"], review["comment"]) == (4, "nice") and review["created_at"] > 0
    assert by_name["rps"]["last_played_at"] > 0

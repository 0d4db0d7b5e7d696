"""Pig (3-6 players): rules, turn order through the real server, bots, and the terminal client."""

from __future__ import annotations

import asyncio
import random

import pytest

from playhub.sdk import PlayerContext, connect_to_game, jsonl
from tests.games_helpers import GAMES, ReportSink, Room, finish, load_game_module, play_match, reap, start

pytestmark = pytest.mark.usefixtures(reap.__name__)
FOLDER = GAMES / "pig"
rules = load_game_module(FOLDER, "rules")


def new_game(target: int = 20) -> object:
    return rules.PigGame(["ann", "bob", "cat"], target=target, rng=random.Random(1))


def test_needs_three_distinct_players() -> None:
    with pytest.raises(ValueError):
        rules.PigGame(["ann", "bob"])
    with pytest.raises(ValueError):
        rules.PigGame(["ann", "bob", "ann"])
    with pytest.raises(ValueError):
        rules.PigGame(["ann", "bob", "cat"], target=0)


def test_rolls_hold_and_turn_order() -> None:
    g = new_game()
    assert g.current == "ann"
    g.roll("ann", 4)
    g.roll("ann", 3)
    assert g.turn_total == 7 and g.rolls == [4, 3]
    with pytest.raises(rules.IllegalMove, match="ann's turn"):
        g.roll("bob")
    g.hold("ann")
    assert g.scores["ann"] == 7 and g.current == "bob" and g.turn_total == 0
    g.roll("bob", 6)
    g.roll("bob", 1)  # a 1 wipes the turn
    assert g.scores["bob"] == 0 and g.current == "cat" and "lost 6 points" in g.last_event
    g.hold("cat")  # holding with nothing is allowed
    assert g.current == "ann" and g.turns == 4
    with pytest.raises(ValueError):
        g.roll("ann", 7)


def test_reaching_the_target_wins_at_once() -> None:
    g = new_game(target=10)
    g.roll("ann", 6)
    g.roll("ann", 5)
    g.hold("ann")
    assert g.over and g.winner == "ann" and g.state()["current"] is None
    assert g.results() == {
        "winner": "ann",
        "scores": {"ann": 11, "bob": 0, "cat": 0},
        "summary": "ann wins after 1 turns (ann 11, bob 0, cat 0)",
    }
    with pytest.raises(rules.IllegalMove, match="over"):
        g.roll("bob")


def test_leavers_are_skipped_and_the_last_one_wins() -> None:
    g = new_game()
    g.roll("ann", 5)
    g.remove("ann")  # the current player leaves: the turn passes on
    assert g.current == "bob" and g.active == ["bob", "cat"] and g.turn_total == 0
    g.hold("bob")
    assert g.current == "cat"
    g.hold("cat")
    assert g.current == "bob"  # ann is skipped
    g.remove("eve")  # not a player: nothing happens
    g.remove("cat")
    assert g.over and g.winner == "bob" and "last player" in g.last_event


def test_random_games_always_end_with_a_valid_winner() -> None:
    for seed in range(30):
        g = rules.PigGame(["a", "b", "c", "d"], target=30, rng=random.Random(seed))
        for _ in range(10_000):
            if g.over:
                break
            if g.turn_total >= 10:
                g.hold(g.current)
            else:
                g.roll(g.current)
        assert g.over and g.scores[g.winner] >= 30
        assert sum(1 for s in g.scores.values() if s >= 30) == 1


async def test_turn_order_through_the_server() -> None:
    """Three raw SDK clients roll once and hold each turn; turns follow the member order, skipping cat once it left."""
    async with ReportSink() as sink:
        room = Room(["ann", "bob", "cat"], lobby_port=sink.port, game_name="pig")
        server = await start(FOLDER, "server.py", room.server_env(PIG_TARGET="25", PIG_SEED="3"))
        conns = {p: await connect_to_game(PlayerContext.from_env(room.client_env(p))) for p in room.players}
        new_turns: list[dict] = []  # as ann sees them
        errors: list[str] = []

        async def player(name: str, leave_after: int | None) -> None:
            reader, writer, _ = conns[name]
            my_turns = 0
            while (msg := await jsonl.recv(reader)) is not None:
                if msg["type"] == "STATE" and name == "ann" and not msg["rolls"] and msg["current"]:
                    new_turns.append(msg)
                if msg["type"] == "STATE" and msg["current"] == name:
                    if leave_after is not None and my_turns >= leave_after:
                        await jsonl.close(writer)
                        return
                    my_turns += not msg["rolls"]
                    await jsonl.send(writer, {"type": "HOLD" if msg["rolls"] else "ROLL"})
                elif msg["type"] == "STATE" and name == "cat" and msg["turn"] == 1 and not msg["rolls"]:
                    await jsonl.send(writer, {"type": "ROLL"})  # out of turn (cat plays third): refused
                elif msg["type"] == "ERROR":
                    errors.append(msg["reason"])
                elif msg["type"] == "GAME_OVER":
                    break
            await jsonl.close(writer)

        await asyncio.wait_for(asyncio.gather(player("ann", None), player("bob", None), player("cat", 1)), 20)
        assert (await finish(server))[0] == 0
    assert errors and all(e in ("it is ann's turn", "it is bob's turn") for e in errors)
    assert [t["current"] for t in new_turns[:3]] == ["ann", "bob", "cat"]
    for prev, cur in zip(new_turns, new_turns[1:], strict=False):
        order = prev["order"]
        i = order.index(prev["current"])
        following = [order[(i + k) % len(order)] for k in range(1, len(order) + 1)]
        assert cur["current"] == next(p for p in following if p in cur["active"])
    left_at = next(i for i, t in enumerate(new_turns) if "cat" not in t["active"])
    assert all(t["current"] != "cat" for t in new_turns[left_at:])
    results = sink.results()
    assert results["winner"] in ("ann", "bob") and results["scores"][results["winner"]] >= 15


@pytest.mark.parametrize("count", [3, 5])
async def test_bots_play_a_match(count: int) -> None:
    players = ["ann", "bob", "cat", "dan", "eve"][:count]
    sink, _, outs = await play_match(FOLDER, players, server_env={"PIG_TARGET": "40"})
    results = sink.results()
    assert set(results["scores"]) == set(players)
    assert results["scores"][results["winner"]] >= 40
    assert all(results["summary"] in o for o in outs)


async def test_terminal_client_with_two_bots() -> None:
    async with ReportSink() as sink:
        room = Room(["ann", "bob", "cat"], lobby_port=sink.port, game_name="pig")
        server = await start(FOLDER, "server.py", room.server_env(PIG_TARGET="12", PIG_SEED="5"))
        client = await start(FOLDER, "client.py", room.client_env("ann"), stdin=True)
        bots = [await start(FOLDER, "bot.py", room.client_env(p)) for p in ("bob", "cat")]
        assert client.stdin is not None
        client.stdin.write(b"x\n" + b"r\nr\nh\n" * 40)  # one invalid answer, then roll twice and hold
        await client.stdin.drain()
        client.stdin.close()
        rc, out = await finish(client)
        assert "type r to roll, h to hold" in out and "Your turn!" in out
        assert "Turn order: ann → bob → cat" in out
        for b in bots:
            assert (await finish(b))[0] == 0
        assert (await finish(server))[0] == 0
    results = sink.results()
    assert results["summary"] in out
    assert rc == 0 or results["winner"] != "ann"  # ann's stdin may run out after the others won

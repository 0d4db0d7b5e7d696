"""Rock-paper-scissors: rules, and the real server with bots and the terminal client as subprocesses."""

from __future__ import annotations

import signal

import pytest

from tests.games_helpers import (
    GAMES,
    ReportSink,
    Room,
    finish,
    load_game_module,
    play_match,
    reap,
    start,
    wait_output,
)

pytestmark = pytest.mark.usefixtures(reap.__name__)
FOLDER = GAMES / "rps"
rules = load_game_module(FOLDER, "rules")


def test_parse_move() -> None:
    assert rules.parse_move(" R ") == "rock"
    assert rules.parse_move("Paper") == "paper"
    assert rules.parse_move("s") == "scissors"
    assert rules.parse_move("lizard") is None


@pytest.mark.parametrize(
    ("a", "b", "winner"),
    [
        ("rock", "scissors", "ann"),
        ("scissors", "rock", "bob"),
        ("paper", "rock", "ann"),
        ("paper", "scissors", "bob"),
        ("rock", "rock", None),
    ],
)
def test_round_winner(a: str, b: str, winner: str | None) -> None:
    assert rules.round_winner({"ann": a, "bob": b}) == winner


def test_best_of_three_ties_do_not_count() -> None:
    m = rules.Match(["ann", "bob"], best_of=3)
    assert m.play({"ann": "rock", "bob": "rock"}) is None
    assert m.play({"ann": "rock", "bob": "paper"}) == "bob"
    assert not m.over and m.round == 3
    assert m.play({"bob": "rock", "ann": "paper"}) == "ann"
    assert m.play({"ann": "scissors", "bob": "paper"}) == "ann"
    assert m.over and m.winner == "ann"
    assert m.results() == {
        "winner": "ann",
        "scores": {"ann": 2, "bob": 1},
        "summary": "ann wins ann 2-1 bob in 4 rounds",
    }
    with pytest.raises(ValueError, match="over"):
        m.play({"ann": "rock", "bob": "rock"})


def test_match_validation_and_limits() -> None:
    with pytest.raises(ValueError):
        rules.Match(["ann"], 3)
    with pytest.raises(ValueError):
        rules.Match(["ann", "bob"], 2)
    m = rules.Match(["ann", "bob"], best_of=1, max_rounds=2)
    with pytest.raises(ValueError):
        m.play({"ann": "rock"})
    with pytest.raises(ValueError):
        m.play({"ann": "rock", "bob": "spock"})
    m.play({"ann": "rock", "bob": "rock"})
    m.play({"ann": "paper", "bob": "paper"})
    assert m.over and m.winner is None and m.results()["summary"].startswith("draw at 0-0")


def test_forfeit() -> None:
    m = rules.Match(["ann", "bob"], best_of=5)
    m.play({"ann": "rock", "bob": "paper"})
    m.forfeit("bob")
    assert m.over and m.winner == "ann"
    assert "forfeit" in m.summary()
    with pytest.raises(ValueError):
        m.forfeit("eve")


async def test_bots_play_a_match() -> None:
    sink, _, outs = await play_match(
        FOLDER, ["ann", "bob"], bot_env={"RPS_BOT_MOVES": ""}, server_env={"RPS_BEST_OF": "5"}
    )
    results = sink.results()
    assert set(results["scores"]) == {"ann", "bob"}
    if results["winner"] is not None:
        assert results["scores"][results["winner"]] == 3
    assert all(results["summary"] in o for o in outs)


async def test_terminal_client_against_bot() -> None:
    async with ReportSink() as sink:
        room = Room(["ann", "bob"], lobby_port=sink.port, game_name="rps")
        server = await start(FOLDER, "server.py", room.server_env())
        client = await start(FOLDER, "client.py", room.client_env("ann"), stdin=True)
        bot = await start(FOLDER, "bot.py", room.client_env("bob", RPS_BOT_MOVES="scissors"))
        assert client.stdin is not None
        client.stdin.write(b"lizard\nr\nrock\n")  # one invalid answer, then two rocks beating two scissors
        await client.stdin.drain()
        rc, out = await finish(client)
        assert rc == 0, out
        assert "please type r, p or s" in out
        assert "you win the round" in out and "You win the match!" in out
        assert (await finish(bot))[0] == 0
        assert (await finish(server))[0] == 0
    assert sink.results() == {
        "winner": "ann",
        "scores": {"ann": 2, "bob": 0},
        "summary": "ann wins ann 2-0 bob in 2 rounds",
    }


async def test_wrong_ticket_is_rejected_and_leaver_forfeits() -> None:
    async with ReportSink() as sink:
        room = Room(["ann", "bob"], lobby_port=sink.port, game_name="rps")
        server = await start(FOLDER, "server.py", room.server_env())
        intruder = await start(FOLDER, "client.py", room.client_env("bob", ticket="bad"))
        rc, out = await finish(intruder)
        assert rc == 1 and "refused you: invalid ticket" in out
        bot = await start(FOLDER, "bot.py", room.client_env("bob", RPS_BOT_MOVES="rock"))
        client = await start(FOLDER, "client.py", room.client_env("ann"), stdin=True)
        assert client.stdin is not None
        client.stdin.close()  # ann quits at the first prompt
        assert (await finish(client))[0] == 1
        assert (await finish(bot))[0] == 0
        assert (await finish(server))[0] == 0
    results = sink.results()
    assert results["winner"] == "bob" and "forfeit" in results["summary"]


async def test_ctrl_c_leaves_cleanly() -> None:
    async with ReportSink() as sink:
        room = Room(["ann", "bob"], lobby_port=sink.port, game_name="rps")
        server = await start(FOLDER, "server.py", room.server_env())
        client = await start(FOLDER, "client.py", room.client_env("ann"), stdin=True)
        bot = await start(FOLDER, "bot.py", room.client_env("bob"))
        await wait_output(client, "Round 1")
        client.send_signal(signal.SIGINT)
        rc, out = await finish(client)
        assert rc == 130 and "You left the game." in out and "Traceback" not in out
        assert (await finish(bot))[0] == 0
        assert (await finish(server))[0] == 0
    assert sink.results()["winner"] == "bob"

"""Connect Four: rules, server with bots, and the pygame client driven headless (SDL dummy drivers)."""

from __future__ import annotations

import asyncio
import os

import pytest

from playhub.sdk import PlayerContext, connect_to_game, connect_to_game_sync, jsonl
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
FOLDER = GAMES / "connect4"
rules = load_game_module(FOLDER, "rules")


def test_drop_stacks_from_the_bottom() -> None:
    g = rules.new_grid()
    assert rules.drop(g, 3, 1) == 5
    assert rules.drop(g, 3, 2) == 4
    assert g[5][3] == 1 and g[4][3] == 2
    for _ in range(4):
        rules.drop(g, 3, 1)
    assert 3 not in rules.legal_columns(g)
    with pytest.raises(rules.IllegalMove, match="full"):
        rules.drop(g, 3, 2)
    for bad in (-1, 7, "3", 2.0, None):
        with pytest.raises(rules.IllegalMove):
            rules.drop(g, bad, 1)


@pytest.mark.parametrize(
    "cells",
    [
        [(5, 0), (5, 1), (5, 2), (5, 3)],  # row
        [(2, 6), (3, 6), (4, 6), (5, 6)],  # column
        [(2, 0), (3, 1), (4, 2), (5, 3)],  # diagonal down-right
        [(0, 6), (1, 5), (2, 4), (3, 3)],  # diagonal down-left
    ],
)
def test_winning_lines(cells: list[tuple[int, int]]) -> None:
    g = rules.new_grid()
    for r, c in cells[:3]:
        g[r][c] = 2
    assert rules.winning_line(g) == []
    g[cells[3][0]][cells[3][1]] = 2
    assert sorted(rules.winning_line(g)) == sorted(cells)


def test_game_turns_win_and_results() -> None:
    game = rules.Game(["ann", "bob"])
    with pytest.raises(rules.IllegalMove, match="ann's turn"):
        game.play("bob", 0)
    for col in (0, 1, 0, 1, 0, 1):
        game.play(game.current, col)
    assert game.current == "ann" and not game.over
    game.play("ann", 0)
    assert game.over and game.winner == "ann"
    assert game.state()["turn"] is None and len(game.state()["line"]) == 4
    assert game.results() == {
        "winner": "ann",
        "scores": {"ann": 1, "bob": 0},
        "summary": "ann connects four in 7 moves",
    }
    with pytest.raises(rules.IllegalMove, match="over"):
        game.play("bob", 2)


def test_draw_and_forfeit() -> None:
    game = rules.Game(["ann", "bob"])
    # Fill the grid column pairs in an order that never lines up four.
    order = [
        0,
        1,
        0,
        1,
        0,
        1,
        1,
        0,
        1,
        0,
        1,
        0,
        2,
        3,
        2,
        3,
        2,
        3,
        3,
        2,
        3,
        2,
        3,
        2,
        4,
        5,
        4,
        5,
        4,
        5,
        5,
        4,
        5,
        4,
        5,
        4,
    ]
    order += [6] * 6
    for col in order:
        game.play(game.current, col)
    assert game.over and game.winner is None
    assert game.results()["scores"] == {"ann": 0.5, "bob": 0.5}
    other = rules.Game(["ann", "bob"])
    other.play("ann", 3)
    other.forfeit("ann")
    assert other.winner == "bob" and "left" in other.summary()
    with pytest.raises(ValueError):
        rules.Game(["ann", "ann"])


async def test_bots_play_a_match() -> None:
    sink, _, _ = await play_match(FOLDER, ["ann", "bob"], bot_env={"CONNECT4_BOT_SEED": "7"})
    results = sink.results()
    assert set(results["scores"]) == {"ann", "bob"}
    assert results["winner"] in ("ann", "bob", None)


async def test_pygame_client_headless(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real client App draws into a dummy display and is played with posted mouse and key events."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    client = load_game_module(FOLDER, "client")
    pygame = client.pygame
    async with ReportSink() as sink:
        room = Room(["ann", "bob"], lobby_port=sink.port, game_name="connect4")
        server = await start(FOLDER, "server.py", room.server_env())
        bot = await start(FOLDER, "bot.py", room.client_env("bob", CONNECT4_BOT_SEED="1"))
        pctx = PlayerContext.from_env(room.client_env("ann"))
        conn, welcome = await asyncio.to_thread(connect_to_game_sync, pctx)
        pygame.init()
        try:
            screen = pygame.display.set_mode((client.WIDTH, client.HEIGHT))
            app = client.App(conn, "ann", welcome, screen)
            moves = 0
            for _ in range(2000):
                if not app.step():
                    break
                if app.result is not None:
                    break
                if app.my_turn:
                    legal = [c for c in (0, 6, 1, 5, 2, 4, 3) if app.grid[0][c] == rules.EMPTY]
                    col = legal[0]
                    if moves == 0:  # the first move by keyboard, the others by mouse clicks
                        pygame.event.post(
                            pygame.event.Event(pygame.KEYDOWN, key=pygame.K_1 + col, mod=0, unicode="")
                        )
                    else:
                        x, y = client.View.cell_center(0, col)
                        pygame.event.post(
                            pygame.event.Event(pygame.MOUSEMOTION, pos=(x, y), rel=(0, 0), buttons=(0, 0, 0))
                        )
                        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(x, y), button=1))
                    moves += 1
                # What is on screen matches the state: every disc drawn in its player's colour, holes empty.
                for r in range(rules.ROWS):
                    for c in range(rules.COLS):
                        x, y = client.View.cell_center(r, c)
                        expected = client.DISC_COLORS.get(app.grid[r][c], client.HOLE)
                        assert tuple(screen.get_at((x + 15, y)))[:3] == expected
                await asyncio.sleep(0.01)
            assert app.result is not None, "the game did not finish"
            assert app.result["grid"] == app.grid and moves >= 4
            assert app.status.startswith(("You win!", "bob wins.", "Draw!"))
            app.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, mod=0, unicode=""))
            assert app.step() is False
        finally:
            conn.close()
            pygame.quit()
        assert (await finish(bot))[0] == 0
        assert (await finish(server))[0] == 0
    assert sink.results()["summary"] == app.result["summary"]


async def test_pygame_client_process_rejected_and_forfeit() -> None:
    """client.py as a process: a wrong ticket ends it cleanly; a window closed early forfeits the game."""
    async with ReportSink() as sink:
        room = Room(["ann", "bob"], lobby_port=sink.port, game_name="connect4")
        server = await start(FOLDER, "server.py", room.server_env())
        rc, out = await finish(await start(FOLDER, "client.py", room.client_env("ann", ticket="x" * 64)))
        assert rc == 1 and "invalid ticket" in out
        # The GUI client cannot be clicked here: give it a 0 s grace so it closes as soon as the game ends.
        gui = await start(FOLDER, "client.py", room.client_env("ann", CONNECT4_CLOSE_AFTER="0"))
        bot = await start(FOLDER, "bot.py", room.client_env("bob"))
        await wait_output(server, "ann joined", "bob joined")
        assert gui.returncode is None  # the window is up, waiting for ann's click
        gui.terminate()
        await finish(gui)
        assert (await finish(bot))[0] == 0
        assert (await finish(server))[0] == 0
    assert sink.results()["winner"] == "bob"
    assert os.environ.get("SDL_VIDEODRIVER") in (None, "dummy")


async def test_server_refuses_bad_moves_and_keeps_playing() -> None:
    """Raw SDK clients: out-of-turn, off-board, malformed and non-JSON messages get ERROR; the game goes on."""
    async with ReportSink() as sink:
        room = Room(["ann", "bob"], lobby_port=sink.port, game_name="connect4")
        server = await start(FOLDER, "server.py", room.server_env())
        ann_r, ann_w, _ = await connect_to_game(PlayerContext.from_env(room.client_env("ann")))
        bob_r, bob_w, _ = await connect_to_game(PlayerContext.from_env(room.client_env("bob")))

        async def next_of(reader: asyncio.StreamReader, kind: str) -> dict:
            while True:
                msg = await asyncio.wait_for(jsonl.recv(reader), 10)
                assert msg is not None
                if msg["type"] == kind:
                    return msg

        assert (await next_of(ann_r, "START"))["discs"] == {"ann": 1, "bob": 2}
        await jsonl.send(bob_w, {"type": "MOVE", "column": 0})
        assert (await next_of(bob_r, "ERROR"))["reason"] == "it is ann's turn"
        for bad in ({"type": "MOVE", "column": 7}, {"type": "MOVE", "column": "3"}, {"type": "DANCE"}):
            await jsonl.send(ann_w, bad)
            assert (await next_of(ann_r, "ERROR"))["reason"]
        ann_w.write(b"this is not json\n")
        assert (await next_of(ann_r, "ERROR"))["reason"] == "send MOVE {column}"
        for i in range(6):  # fill column 0: the seventh disc does not fit
            mover_w = ann_w if i % 2 == 0 else bob_w
            await jsonl.send(mover_w, {"type": "MOVE", "column": 0})
            state = await next_of(ann_r, "STATE")
        assert [row[0] for row in state["grid"]] == [2, 1, 2, 1, 2, 1]
        await jsonl.send(ann_w, {"type": "MOVE", "column": 0})
        assert (await next_of(ann_r, "ERROR"))["reason"] == "column 1 is full"
        await jsonl.close(ann_w)  # ann leaves: bob wins
        over = await next_of(bob_r, "GAME_OVER")
        assert over["winner"] == "bob"
        await jsonl.close(bob_w)
        assert (await finish(server))[0] == 0
    assert sink.results()["winner"] == "bob"

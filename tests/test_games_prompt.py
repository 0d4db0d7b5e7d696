"""The terminal sample games notice the end of a match while the player is being asked for a move."""

from __future__ import annotations

import asyncio

import pytest

from playhub.sdk import PlayerContext, connect_to_game, jsonl
from tests.games_helpers import GAMES, ReportSink, Room, finish, reap, start, wait_output

pytestmark = pytest.mark.usefixtures(reap.__name__)


async def test_rps_client_sees_the_opponent_leave_without_typing() -> None:
    async with ReportSink() as sink:
        room = Room(["ann", "bob"], lobby_port=sink.port, game_name="rps")
        server = await start(GAMES / "rps", "server.py", room.server_env())
        client = await start(GAMES / "rps", "client.py", room.client_env("ann"), stdin=True)  # never types
        _reader, writer, _ = await connect_to_game(PlayerContext.from_env(room.client_env("bob")))
        await wait_output(client, "Round 1")
        await jsonl.close(writer)  # bob leaves while ann sits at the move prompt
        rc, out = await finish(client, timeout=15)
        assert rc == 0 and "You win the match!" in out, out
        assert (await finish(server))[0] == 0
    assert sink.results()["winner"] == "ann"


async def test_pig_client_sees_the_match_end_without_typing() -> None:
    async with ReportSink() as sink:
        room = Room(["ann", "bob", "cid"], lobby_port=sink.port, game_name="pig")
        server = await start(GAMES / "pig", "server.py", room.server_env())
        client = await start(GAMES / "pig", "client.py", room.client_env("ann"), stdin=True)  # never types
        others = [await connect_to_game(PlayerContext.from_env(room.client_env(p))) for p in ("bob", "cid")]
        await wait_output(client, "Pig: first to")
        await asyncio.sleep(0.3)  # ann (first in turn order) is at her prompt now
        for _reader, writer, _ in others:
            await jsonl.close(writer)  # everyone else leaves: ann wins without typing anything
        rc, out = await finish(client, timeout=15)
        assert rc == 0 and "You win!" in out, out
        assert (await finish(server))[0] == 0

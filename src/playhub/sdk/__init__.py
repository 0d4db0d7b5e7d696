"""Helpers for game authors. See ``docs/games.md``.

Server side: ``RoomContext.from_env()``, ``accept_players``, ``Inbox``, ``broadcast``, ``RoomContext.report_finished``.
Client side: ``PlayerContext.from_env()``, ``connect_to_game`` / ``connect_to_game_sync``, ``prompt.ask`` (a terminal
prompt that gives way when the server speaks).
Messages: ``playhub.sdk.jsonl``. Only the standard library is imported here.
"""

from playhub.sdk import jsonl
from playhub.sdk.context import PlayerContext, RoomContext, room_secret
from playhub.sdk.net import (
    GameRejected,
    Inbox,
    accept_players,
    broadcast,
    close_all,
    connect_to_game,
    connect_to_game_sync,
)
from playhub.sdk.prompt import ServerSpoke, ask
from playhub.sdk.tickets import player_ticket, verify_ticket

__all__ = [
    "GameRejected",
    "Inbox",
    "PlayerContext",
    "RoomContext",
    "ServerSpoke",
    "accept_players",
    "ask",
    "broadcast",
    "close_all",
    "connect_to_game",
    "connect_to_game_sync",
    "jsonl",
    "player_ticket",
    "room_secret",
    "verify_ticket",
]

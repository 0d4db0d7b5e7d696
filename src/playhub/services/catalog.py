"""Games and versions from the developer's side: create, describe, list, delist (use cases D1-D3).

Every write emits ``catalog_changed`` (game_id) so store caches and lobby views refresh.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from playhub import packages
from playhub.names import find_unsafe
from playhub.protocol.errors import Conflict, Forbidden, InvalidRequest, NotFound
from playhub.services.events import EventBus
from playhub.settings import Settings
from playhub.store import catalog as sql
from playhub.store import reviews as review_sql
from playhub.store.catalog import GameRow
from playhub.store.db import Database

STATUSES = ("ONLINE", "OFFLINE")


def game_view(game: GameRow) -> dict[str, Any]:
    return {
        "game_id": game.id,
        "name": game.name,
        "display_name": game.display_name,
        "description": game.description,
        "game_type": game.game_type,
        "max_players": game.max_players,
        "min_players": game.min_players if game.min_players is not None else game.max_players,
        "status": game.status,
        "latest_version": game.latest_version,
    }


class CatalogService:
    def __init__(self, settings: Settings, db: Database, events: EventBus) -> None:
        self.settings = settings
        self.db = db
        self.events = events

    # --- validation --------------------------------------------------------------------------------------------
    def _check_name(self, name: str) -> str:
        if len(name) > self.settings.name_max or not packages.NAME_RE.fullmatch(name):
            raise InvalidRequest(
                f"game name '{name[:80]}' must be 2-{min(64, self.settings.name_max)} characters of lowercase "
                "letters, digits, '_' or '-', starting with a letter or digit"
            )
        return name

    def _check_text(self, value: str, key: str, limit: int, *, allow_empty: bool) -> str:
        # Refused at input, not only escaped at output: every client that shows these strings stays safe.
        bad = find_unsafe(value, multiline=key == "description")
        if bad is not None:
            raise InvalidRequest(f"'{key}' contains the control character U+{ord(bad):04X}, which is not allowed")
        value = value.strip()
        if not value and not allow_empty:
            raise InvalidRequest(f"'{key}' must not be empty")
        if len(value) > limit:
            raise InvalidRequest(f"'{key}' is {len(value)} characters long; the limit is {limit}")
        return value

    def _check_type(self, value: str) -> str:
        lowered = value.strip().lower()
        if lowered not in packages.GAME_TYPES:
            raise InvalidRequest(
                f"game_type must be one of {', '.join(packages.GAME_TYPES)}, not '{value[:40]}'"
            )
        return lowered

    def _check_players(self, max_players: int, min_players: int | None) -> None:
        limit = self.settings.max_players_limit
        if not 1 <= max_players <= limit:
            raise InvalidRequest(f"max_players must be from 1 to {limit}")
        if min_players is not None and not 1 <= min_players <= max_players:
            raise InvalidRequest("min_players must be from 1 to max_players")

    async def owned_game(self, developer_id: int, game_id: str) -> GameRow:
        """The game if this developer owns it: 103 when unknown, 102 when it belongs to someone else."""
        game = await self.db.run(sql.get_game, game_id)
        if game is None:
            raise NotFound(f"no game with id '{game_id[:80]}'")
        if game.developer_id != developer_id:
            raise Forbidden("this game belongs to another developer")
        return game

    async def find_by_name(self, name: str) -> dict[str, Any] | None:
        """The game named ``name`` (any status), with its owner's account id; None when there is none. For doors
        whose clients name games rather than give their ids (seed 003)."""
        game = await self.db.run(sql.get_game_by_name, name)
        if game is None:
            return None
        view = game_view(game)
        view["developer_id"] = game.developer_id
        return view

    async def game_reviews(
        self, developer_id: int, game_id: str, limit: int | None, offset: int
    ) -> dict[str, Any]:
        """Every review of one of this developer's games, newest first (seed 003's my_games with its reviews)."""
        page_max = self.settings.reviews_page_max
        limit = page_max if limit is None else limit
        if limit < 1 or offset < 0:
            raise InvalidRequest("'limit' must be at least 1 and 'offset' at least 0")
        await self.owned_game(developer_id, game_id)

        def read(conn: Any) -> tuple[list[dict[str, Any]], int, float | None]:
            reviews, total = review_sql.page(conn, game_id, min(limit, page_max), offset)
            avg, _count = review_sql.stats(conn, game_id)
            return reviews, total, avg

        reviews, total, avg = await self.db.run(read)
        return {
            "game_id": game_id,
            "reviews": reviews,
            "total": total,
            "offset": offset,
            "avg_score": avg,
            "review_count": total,
        }

    # --- commands ----------------------------------------------------------------------------------------------
    async def create_game(
        self,
        developer_id: int,
        name: str,
        description: str,
        game_type: str,
        max_players: int,
        display_name: str | None = None,
        min_players: int | None = None,
    ) -> str:
        name = self._check_name(name)
        s = self.settings
        description = self._check_text(description, "description", s.description_max, allow_empty=True)
        shown = self._check_text(
            display_name if display_name is not None else name,
            "display_name",
            s.display_name_max,
            allow_empty=False,
        )
        gtype = self._check_type(game_type)
        self._check_players(max_players, min_players)
        game_id = uuid.uuid4().hex
        created = await self.db.run(
            sql.create_game,
            game_id,
            developer_id,
            name,
            shown,
            description,
            gtype,
            max_players,
            min_players,
            time.time(),
        )
        if not created:
            raise Conflict(f"a game named '{name}' already exists")
        self.events.emit("catalog_changed", game_id)
        return game_id

    async def list_my_games(self, developer_id: int) -> list[dict[str, Any]]:
        rows = await self.db.run(sql.list_developer_games, developer_id)
        out = []
        for row in rows:
            view = game_view(row.game)
            view.update(
                avg_score=row.avg_score, review_count=row.review_count, version_count=row.version_count
            )
            out.append(view)
        return out

    async def update_meta(self, developer_id: int, game_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        game = await self.owned_game(developer_id, game_id)
        s = self.settings
        clean: dict[str, Any] = {}
        if changes.get("description") is not None:
            clean["description"] = self._check_text(
                changes["description"], "description", s.description_max, allow_empty=True
            )
        if changes.get("display_name") is not None:
            clean["display_name"] = self._check_text(
                changes["display_name"], "display_name", s.display_name_max, allow_empty=False
            )
        if changes.get("game_type") is not None:
            clean["game_type"] = self._check_type(changes["game_type"])
        max_players = changes.get("max_players")
        min_players = changes.get("min_players")
        if max_players is not None or min_players is not None:
            new_max = max_players if max_players is not None else game.max_players
            new_min = min_players if min_players is not None else game.min_players
            if new_min is not None and min_players is None and new_min > new_max:
                new_min = new_max  # lowering max_players alone pulls a stored min_players down with it
            self._check_players(new_max, new_min)
            clean["max_players"] = new_max
            clean["min_players"] = new_min
        if clean:
            await self.db.run(sql.update_game_meta, game_id, clean, time.time())
            self.events.emit("catalog_changed", game_id)
        updated = await self.db.run(sql.get_game, game_id)
        assert updated is not None
        return game_view(updated)

    async def set_status(self, developer_id: int, game_id: str, status: str) -> dict[str, Any]:
        status = status.strip().upper()
        if status not in STATUSES:
            raise InvalidRequest("status must be ONLINE or OFFLINE")
        game = await self.owned_game(developer_id, game_id)
        if game.status != status:
            await self.db.run(sql.set_game_status, game_id, status, time.time())
            self.events.emit("catalog_changed", game_id)
        return {"game_id": game_id, "status": status}

    async def delist(self, game_id: str) -> None:
        """Take any game off the store (moderation, ``games.moderate``): like its developer setting it OFFLINE."""
        game = await self.db.run(sql.get_game, game_id)
        if game is None:
            raise NotFound(f"no game '{game_id}'")
        if game.status != "OFFLINE":
            await self.db.run(sql.set_game_status, game_id, "OFFLINE", time.time())
            self.events.emit("catalog_changed", game_id)

    async def list_versions(self, developer_id: int, game_id: str) -> list[dict[str, Any]]:
        game = await self.owned_game(developer_id, game_id)
        rows = await self.db.run(sql.list_versions, game_id)
        return [
            {
                "version": v.version,
                "uploaded_at": v.uploaded_at,
                "is_latest": v.version == game.latest_version,
                "size_bytes": v.size_bytes,
                "checksum": v.checksum,
            }
            for v in rows
        ]

    async def version_hint(self, developer_id: int, game_id: str) -> dict[str, Any]:
        game = await self.owned_game(developer_id, game_id)
        return {
            "latest_version": game.latest_version,
            "suggested_version": packages.next_version(game.latest_version),
        }

"""The store as players see it: listing, details, latest versions, reviews and played games.

``LIST_GAMES`` and ``GET_GAME_DETAIL`` are what every player repeats, so their answers are cached already encoded
(``msgspec.Raw``) and dropped whenever the catalogue (``catalog_changed``) or a review (``review_changed``) changes.
A generation counter keeps a read that was in flight during a write from putting a stale answer back into the cache.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import msgspec

from playhub.protocol.checksums import normalize_checksum
from playhub.protocol.errors import BadState, Forbidden, InvalidRequest, NotFound
from playhub.services.events import EventBus
from playhub.settings import Settings
from playhub.store import plays, storefront
from playhub.store import reviews as review_sql
from playhub.store.db import Database

_encode = msgspec.json.Encoder().encode


class LatestVersion(msgspec.Struct):
    """The version a download without ``version`` gets."""

    version: str
    size_bytes: int
    checksum: str


class ReviewPage(msgspec.Struct):
    """One page of a game's reviews, newest first."""

    game_id: str
    reviews: list[dict[str, Any]]
    total: int
    offset: int


class StoreService:
    def __init__(self, settings: Settings, db: Database, events: EventBus) -> None:
        self.settings = settings
        self.db = db
        self.events = events
        self._generation = 0
        self._listing: msgspec.Raw | None = None
        self._details: OrderedDict[str, msgspec.Raw] = OrderedDict()
        events.on("catalog_changed", self._invalidate)
        events.on("review_changed", self._invalidate)

    # --- cache ---------------------------------------------------------------------------------------------------
    def _invalidate(self, game_id: str | None = None, *_: Any) -> None:
        self._generation += 1
        self._listing = None
        if game_id is None:
            self._details.clear()
        else:
            self._details.pop(game_id, None)

    @property
    def cached_entries(self) -> int:
        return (self._listing is not None) + len(self._details)

    # --- reads ---------------------------------------------------------------------------------------------------
    async def list_games(self) -> msgspec.Raw:
        cached = self._listing
        if cached is not None:
            return cached
        generation = self._generation
        games = await self.db.run(storefront.listing)
        raw = msgspec.Raw(_encode({"games": games}))
        if generation == self._generation:
            self._listing = raw
        return raw

    async def game_detail(self, game_id: str) -> msgspec.Raw:
        cached = self._details.get(game_id)
        if cached is not None:
            return cached
        generation = self._generation
        detail = await self.db.run(storefront.detail, game_id, self.settings.reviews_sample_size)
        if detail is None:
            raise NotFound(f"no game with id '{game_id}' in the store")
        raw = msgspec.Raw(_encode(detail))
        if generation == self._generation:
            self._details[game_id] = raw
            while len(self._details) > self.settings.store_detail_cache_max:
                self._details.popitem(last=False)
        return raw

    async def latest_version(self, game_id: str) -> LatestVersion:
        target = await self.db.run(storefront.download_target, game_id, None)
        if target is None:
            raise NotFound(f"no game with id '{game_id}' in the store")
        status, row = target
        if status != "ONLINE":
            raise BadState("this game has been delisted: it cannot be downloaded")
        if row is None:
            raise NotFound("this game has no published version yet")
        return LatestVersion(row.version, row.size_bytes, normalize_checksum(row.checksum))

    async def list_reviews(self, game_id: str, limit: int | None, offset: int) -> ReviewPage:
        page_max = self.settings.reviews_page_max
        if limit is None:
            limit = page_max
        if limit < 1 or offset < 0:
            raise InvalidRequest("'limit' must be at least 1 and 'offset' at least 0")
        limit = min(limit, page_max)

        def read(conn: Any) -> tuple[list[dict[str, Any]], int] | None:
            if not review_sql.game_exists(conn, game_id):
                return None
            return review_sql.page(conn, game_id, limit, offset)

        found = await self.db.run(read)
        if found is None:
            raise NotFound(f"no game with id '{game_id}' in the store")
        reviews, total = found
        return ReviewPage(game_id, reviews, total, offset)

    async def played_games(self, player_id: int) -> list[dict[str, Any]]:
        return await self.db.run(storefront.played_games, player_id)  # type: ignore[no-any-return]

    # --- writes --------------------------------------------------------------------------------------------------
    async def add_review(self, player_id: int, game_id: str, score: int, comment: str) -> dict[str, Any]:
        if not 1 <= score <= 5:
            raise InvalidRequest("'score' must be an integer from 1 to 5")
        if len(comment) > self.settings.comment_max:
            raise InvalidRequest(
                f"'comment' is {len(comment)} characters, more than the limit of {self.settings.comment_max}"
            )
        if any(ch < " " and ch not in "\n\t" for ch in comment):
            raise InvalidRequest("'comment' may not contain control characters")

        def write(conn: Any) -> dict[str, Any]:
            if not review_sql.game_exists(conn, game_id):
                raise NotFound(f"no game with id '{game_id}' in the store")
            if not plays.has_played(conn, game_id, player_id):
                raise Forbidden("only players who took part in a started game of this title can review it")
            return review_sql.upsert(conn, game_id, player_id, score, comment)

        result = await self.db.run(write)
        self.events.emit("review_changed", game_id)
        return result

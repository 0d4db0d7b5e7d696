"""Payload schemas of the store commands (lobby port): listing, details, downloads, reviews."""

from __future__ import annotations

from playhub.protocol.publishing import Encoding
from playhub.protocol.pushes import DownloadChunk, DownloadChunkPush
from playhub.protocol.schemas import Int64, Payload


class ListReviews(Payload):
    game_id: str
    limit: Int64 | None = None  # (ext) newest first; default and cap are settings.reviews_page_max
    offset: Int64 = 0  # (ext)


class AddReview(Payload):
    game_id: str
    score: Int64
    comment: str = ""


class DownloadBegin(Payload):
    game_id: str
    version: str | None = None
    start_seq: Int64 = 0  # (ext) resume: the first chunk the client still needs
    encoding: Encoding = (
        "base64"  # (ext) "binary": chunks come as binary frames (length-prefixed connections)
    )


class DownloadRef(Payload):
    download_id: str


__all__ = [
    "AddReview",
    "DownloadBegin",
    "DownloadChunk",
    "DownloadChunkPush",
    "DownloadRef",
    "ListReviews",
]

"""Payload schemas of the publishing area (developer port)."""

from __future__ import annotations

from typing import Literal

from playhub.protocol.schemas import Int64, Payload

# How chunk bytes travel: base64 text in JSON (the default) or binary chunk frames on a length-prefixed connection.
Encoding = Literal["base64", "binary"]


class CreateGame(Payload):
    name: str
    description: str
    game_type: str
    max_players: Int64
    display_name: str | None = None  # (ext) defaults to ``name``
    min_players: Int64 | None = None  # (ext) defaults to ``max_players``


class MyGameReviews(Payload):
    game_id: str
    limit: Int64 | None = None  # newest first; default and cap are settings.reviews_page_max
    offset: Int64 = 0


class UpdateGameMeta(Payload):
    game_id: str
    description: str | None = None
    max_players: Int64 | None = None
    game_type: str | None = None
    display_name: str | None = None  # (ext)
    min_players: Int64 | None = None  # (ext)


class SetGameStatus(Payload):
    game_id: str
    status: str


class UploadBegin(Payload):
    game_id: str
    version: str
    size_bytes: Int64
    checksum: str | None = None
    resume: bool = False  # (ext) continue an open upload of this version instead of answering 104
    encoding: Encoding = (
        "base64"  # (ext) "binary": chunks come as binary frames (length-prefixed connections)
    )


class UploadChunk(Payload):
    upload_id: str
    seq: Int64
    # Declared as bytes: msgspec decodes the base64 text in C while parsing the frame (invalid base64 → 100),
    # several times faster than binascii on the decoded string.
    data_b64: bytes


class UploadRef(Payload):
    upload_id: str

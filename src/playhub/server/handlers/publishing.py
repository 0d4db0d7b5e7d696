"""Handlers of the publishing area (developer port): games, versions, chunked uploads. Use cases D1-D3."""

from __future__ import annotations

from typing import Any

from playhub.protocol.errors import BadState, InvalidRequest
from playhub.protocol.publishing import (
    CreateGame,
    MyGameReviews,
    SetGameStatus,
    UpdateGameMeta,
    UploadBegin,
    UploadChunk,
    UploadRef,
)
from playhub.protocol.schemas import Empty, GameRef
from playhub.server.connection import Connection
from playhub.server.router import Context, Listener, Routes
from playhub.services.sessions import Role
from playhub.wire.framing import BINARY_UPLOAD_CHUNK, BinaryChunk, Framing

routes = Routes()
DEV = Role.DEVELOPER
PORT = Listener.DEV


def _dev_id(ctx: Context) -> int:
    assert ctx.user is not None  # the router resolved a developer token before calling us
    return ctx.user.account_id


@routes.command("CREATE_GAME", CreateGame, role=DEV, listeners=PORT)
async def create_game(ctx: Context, p: CreateGame) -> dict:
    game_id = await ctx.app.catalog.create_game(
        _dev_id(ctx), p.name, p.description, p.game_type, p.max_players, p.display_name, p.min_players
    )
    return {"game_id": game_id}


@routes.command("LIST_MY_GAMES", Empty, role=DEV, listeners=PORT)
async def list_my_games(ctx: Context, p: Empty) -> dict:
    return {"games": await ctx.app.catalog.list_my_games(_dev_id(ctx))}


@routes.command("MY_GAME_REVIEWS", MyGameReviews, role=DEV, listeners=PORT)
async def my_game_reviews(ctx: Context, p: MyGameReviews) -> dict:
    return await ctx.app.catalog.game_reviews(_dev_id(ctx), p.game_id, p.limit, p.offset)


@routes.command("UPDATE_GAME_META", UpdateGameMeta, role=DEV, listeners=PORT)
async def update_game_meta(ctx: Context, p: UpdateGameMeta) -> dict:
    changes = {
        "description": p.description,
        "max_players": p.max_players,
        "game_type": p.game_type,
        "display_name": p.display_name,
        "min_players": p.min_players,
    }
    return await ctx.app.catalog.update_meta(_dev_id(ctx), p.game_id, changes)


@routes.command("SET_GAME_STATUS", SetGameStatus, role=DEV, listeners=PORT)
async def set_game_status(ctx: Context, p: SetGameStatus) -> dict:
    return await ctx.app.catalog.set_status(_dev_id(ctx), p.game_id, p.status)


@routes.command("LIST_VERSIONS", GameRef, role=DEV, listeners=PORT)
async def list_versions(ctx: Context, p: GameRef) -> dict:
    return {"versions": await ctx.app.catalog.list_versions(_dev_id(ctx), p.game_id)}


@routes.command("VERSION_HINT", GameRef, role=DEV, listeners=PORT)
async def version_hint(ctx: Context, p: GameRef) -> dict:
    return await ctx.app.catalog.version_hint(_dev_id(ctx), p.game_id)


def _binary_uploads(conn: Connection) -> dict[str, str]:
    """upload_id → token, for the uploads this connection began in binary mode: a binary frame carries no token, so
    it is authorised by the connection that negotiated it (and the session must still be valid)."""
    return conn.data.setdefault("binary_uploads", {})  # type: ignore[no-any-return]


@routes.command("UPLOAD_BEGIN", UploadBegin, role=DEV, listeners=PORT)
async def upload_begin(ctx: Context, p: UploadBegin) -> dict:
    binary = p.encoding == "binary"
    if binary and ctx.conn.framing is not Framing.LENGTH_PREFIXED:
        raise InvalidRequest(
            '"encoding": "binary" needs a length-prefixed connection (binary frames cannot be lines)'
        )
    out = await ctx.app.uploads.begin(_dev_id(ctx), p.game_id, p.version, p.size_bytes, p.checksum, p.resume)
    if binary:
        grants = _binary_uploads(ctx.conn)
        grants.pop(out["upload_id"], None)
        grants[out["upload_id"]] = ctx.token or ""
        while len(grants) > ctx.app.settings.max_open_uploads_per_developer:
            grants.pop(
                next(iter(grants))
            )  # the oldest grant; that upload can still be resumed with a new BEGIN
        out["encoding"] = "binary"
    return out


@routes.command("UPLOAD_CHUNK", UploadChunk, role=DEV, listeners=PORT)
async def upload_chunk(ctx: Context, p: UploadChunk) -> dict:
    return await ctx.app.uploads.chunk(_dev_id(ctx), p.upload_id, p.seq, p.data_b64)


@routes.binary_kind(BINARY_UPLOAD_CHUNK, listeners=PORT)
async def upload_chunk_binary(ctx: Context, chunk: BinaryChunk) -> dict[str, Any]:
    token = _binary_uploads(ctx.conn).get(chunk.transfer_id)
    if token is None:
        raise BadState(
            'no upload begun with "encoding": "binary" on this connection has this upload_id: send UPLOAD_BEGIN first'
        )
    user = ctx.app.sessions.resolve(token, DEV, ctx.conn)  # a logged-out or replaced session stops the upload
    return await ctx.app.uploads.chunk(user.account_id, chunk.transfer_id, chunk.seq, chunk.data)


@routes.command("UPLOAD_END", UploadRef, role=DEV, listeners=PORT)
async def upload_end(ctx: Context, p: UploadRef) -> dict:
    out = await ctx.app.uploads.end(_dev_id(ctx), p.upload_id)
    _binary_uploads(ctx.conn).pop(p.upload_id, None)
    return out


@routes.command("CANCEL_UPLOAD", UploadRef, role=DEV, listeners=PORT)
async def cancel_upload(ctx: Context, p: UploadRef) -> dict:
    out = await ctx.app.uploads.cancel(_dev_id(ctx), p.upload_id)
    _binary_uploads(ctx.conn).pop(p.upload_id, None)
    return out

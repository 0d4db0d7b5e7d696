"""Handlers of the store area (lobby port): listing, details, downloads, reviews, played games."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec

from playhub.protocol.codes import Code
from playhub.protocol.envelope import encode_push
from playhub.protocol.errors import InvalidRequest, NotFound, PlayHubError
from playhub.protocol.pushes import DownloadChunk, DownloadEnd, DownloadError
from playhub.protocol.schemas import Empty, GameRef
from playhub.protocol.store import AddReview, DownloadBegin, DownloadRef, ListReviews
from playhub.server.connection import Connection
from playhub.server.router import Context, Listener, Routes
from playhub.services.bus import Audience
from playhub.services.downloads import Download, DownloadService
from playhub.services.sessions import Role
from playhub.services.store import LatestVersion, ReviewPage
from playhub.wire.framing import BINARY_DOWNLOAD_CHUNK, Framing, binary_frame_prefix, encode_binary_frame

log = logging.getLogger("playhub.store")
routes = Routes()
_LOBBY = Listener.LOBBY


# --- listing and details ----------------------------------------------------------------------------------------------
@routes.command("LIST_GAMES", Empty, role=Role.PLAYER, listeners=_LOBBY)
async def list_games(ctx: Context, p: Empty) -> msgspec.Raw:
    return await ctx.app.store.list_games()


@routes.command("GET_GAME_DETAIL", GameRef, role=Role.PLAYER, listeners=_LOBBY)
async def game_detail(ctx: Context, p: GameRef) -> msgspec.Raw:
    return await ctx.app.store.game_detail(p.game_id)


@routes.command("LATEST_VERSION", GameRef, role=Role.PLAYER, listeners=_LOBBY)
async def latest_version(ctx: Context, p: GameRef) -> LatestVersion:
    return await ctx.app.store.latest_version(p.game_id)


# --- reviews ------------------------------------------------------------------------------------------------------
@routes.command("LIST_REVIEWS", ListReviews, role=Role.PLAYER, listeners=_LOBBY)
async def list_reviews(ctx: Context, p: ListReviews) -> ReviewPage:
    return await ctx.app.store.list_reviews(p.game_id, p.limit, p.offset)


@routes.command("ADD_REVIEW", AddReview, role=Role.PLAYER, listeners=_LOBBY, permission="store.review")
async def add_review(ctx: Context, p: AddReview) -> dict[str, Any]:
    assert ctx.user is not None
    return await ctx.app.store.add_review(ctx.user.account_id, p.game_id, p.score, p.comment)


@routes.command("MY_PLAYED_GAMES", Empty, role=Role.PLAYER, listeners=_LOBBY)
async def my_played_games(ctx: Context, p: Empty) -> dict[str, Any]:
    assert ctx.user is not None
    return {"games": await ctx.app.store.played_games(ctx.user.account_id)}


# --- downloads ----------------------------------------------------------------------------------------------------
def _downloads_of(conn: Connection) -> dict[str, asyncio.Task[None]]:
    return conn.data.setdefault("downloads", {})  # type: ignore[no-any-return]


@routes.command("DOWNLOAD_BEGIN", DownloadBegin, role=Role.PLAYER, listeners=_LOBBY)
async def download_begin(ctx: Context, p: DownloadBegin) -> dict[str, Any]:
    assert ctx.user is not None
    service: DownloadService = ctx.app.downloads
    binary = p.encoding == "binary"
    if binary and ctx.conn.framing is not Framing.LENGTH_PREFIXED:
        raise InvalidRequest(
            '"encoding": "binary" needs a length-prefixed connection (binary frames cannot be lines)'
        )
    mine = _downloads_of(ctx.conn)
    dl = await service.begin(
        ctx.user.account_id, p.game_id, p.version, p.start_seq, len(mine), binary, ip=ctx.conn.remote_ip
    )
    # The task first runs after this handler returns, and the router writes the answer without yielding in between:
    # the client always sees the ok answer before the first DOWNLOAD_CHUNK.
    if binary and ctx.app.settings.download_sendfile:
        mine[dl.id] = ctx.conn.spawn(_stream_sendfile(ctx.conn, service, dl))
    else:
        mine[dl.id] = ctx.conn.spawn(_stream(ctx.conn, service, dl))
    out = {
        "download_id": dl.id,
        "version": dl.version,
        "size_bytes": dl.size_bytes,
        "chunk_size": dl.chunk_size,
        "checksum": dl.checksum,
        "start_seq": dl.start_seq,
    }
    if binary:
        out["encoding"] = "binary"
    return out


@routes.command("CANCEL_DOWNLOAD", DownloadRef, role=Role.PLAYER, listeners=_LOBBY)
async def cancel_download(ctx: Context, p: DownloadRef) -> dict[str, Any]:
    task = _downloads_of(ctx.conn).get(p.download_id)
    if task is None:
        raise NotFound(f"no download '{p.download_id}' in progress on this connection")
    task.cancel()
    # Wait for the stream to stop so no chunk of it follows this answer.
    await asyncio.wait({task})
    return {"download_id": p.download_id}


async def _stream(conn: Connection, service: DownloadService, dl: Download) -> None:
    # The whole push is encoded in the worker thread that read the chunk; msgspec writes the bytes field as base64 in
    # the same pass. One encoder per stream: a stream has at most one chunk being encoded at a time. In binary mode
    # the thread builds the whole binary frame instead.
    encoder = msgspec.json.Encoder()

    def encode(seq: int, data: bytes) -> bytes:
        if dl.binary:
            return encode_binary_frame(BINARY_DOWNLOAD_CHUNK, dl.id, seq, data)
        return encode_push(DownloadChunk(dl.id, seq, data), encoder)

    send = conn.send_flow_framed if dl.binary else conn.send_flow

    async def body() -> None:
        async with contextlib.aclosing(service.chunks(dl, encode)) as chunks:
            async for frame in chunks:
                await send(frame)

    await _run_stream(conn, service, dl, body)




async def _stream_sendfile(conn: Connection, service: DownloadService, dl: Download) -> None:
    async def body() -> None:
        conn.file_sender(True)
        try:
            async with service.open_file(dl) as fd:
                since_yield = 0
                for seq, offset, length in service.ranges(dl):
                    head = binary_frame_prefix(BINARY_DOWNLOAD_CHUNK, dl.id, seq, length)
                    await conn.send_file(head, fd, offset, length)
                    dl.sent_bytes += length
                    since_yield += length
                    if since_yield >= conn.settings.sendfile_slice_bytes:
                        since_yield = 0
                        await asyncio.sleep(0)
        finally:
            conn.file_sender(False)

    await _run_stream(conn, service, dl, body)


async def _run_stream(conn: Connection, service: DownloadService, dl: Download, body: Any) -> None:
    """Run a stream's ``body`` and end it with DOWNLOAD_END or DOWNLOAD_ERROR; always frees its slot."""
    to_conn = Audience.peers([conn])
    bus = conn.router.app.bus
    try:
        await body()
        bus.publish(to_conn, DownloadEnd(dl.id, dl.version, dl.checksum))
    except PlayHubError as exc:
        bus.publish(to_conn, DownloadError(dl.id, int(exc.code), exc.message))
    except ConnectionError:
        log.info("%s: download %s of %s/%s stopped: client gone", conn.remote, dl.id, dl.game_id, dl.version)
    except Exception:
        log.exception("download %s of %s/%s failed", dl.id, dl.game_id, dl.version)
        bus.publish(to_conn, DownloadError(dl.id, int(Code.SERVER_ERROR), "internal server error"))
    finally:
        service.finish(dl)
        _downloads_of(conn).pop(dl.id, None)

"""Handlers of the chat area on the lobby listener (the native door onto the chat service).

Every command needs a player token and attaches the connection to the chat first (idempotent): from a connection's
first chat command on, it receives the pushes of the player's channels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playhub.protocol.chat import (
    ChannelJoined,
    ChannelList,
    ChannelRef,
    ChannelReply,
    ChatFileBegin,
    ChatFileChunk,
    ChatFileGet,
    ChatHistory,
    ChatInvite,
    ChatOpened,
    ChatRead,
    ChatSend,
    ChatVisibility,
    FileList,
    FilePiece,
    FileShared,
    HistoryPage,
    MemberList,
    MessageReply,
    NicknameReply,
    ReadReply,
    SetNickname,
    UnreadCounts,
    UploadProgress,
    UploadRef,
    UploadStarted,
)
from playhub.protocol.errors import InvalidRequest
from playhub.protocol.schemas import Empty
from playhub.server.router import Context, Listener, Routes
from playhub.services.chat import ChatUser
from playhub.services.sessions import Role

if TYPE_CHECKING:
    from playhub.services.chat import ChatService

routes = Routes()

_PLAYER = Role.PLAYER
_LOBBY = Listener.LOBBY


def _enter(ctx: Context) -> tuple[ChatService, ChatUser]:
    assert ctx.user is not None  # the router resolved the token for role=PLAYER
    chat: ChatService = ctx.app.chat
    user = ChatUser.of(ctx.user)
    chat.attach(user, ctx.conn)
    return chat, user


@routes.command("CHAT_OPEN", Empty, role=_PLAYER, listeners=_LOBBY)
async def chat_open(ctx: Context, p: Empty) -> ChatOpened:
    chat, user = _enter(ctx)
    return ChatOpened(user.username, chat.nickname(user), await chat.my_channels(user))


@routes.command("CHAT_CHANNELS", Empty, role=_PLAYER, listeners=_LOBBY)
async def chat_channels(ctx: Context, p: Empty) -> ChannelList:
    chat, user = _enter(ctx)
    return ChannelList(chat.public_channels(), await chat.my_channels(user))


@routes.command("CHAT_JOIN", ChannelRef, role=_PLAYER, listeners=_LOBBY)
async def chat_join(ctx: Context, p: ChannelRef) -> ChannelJoined:
    chat, user = _enter(ctx)
    ch, created = await chat.join(user, p.channel)
    return ChannelJoined(chat.info(ch, user), created)


@routes.command("CHAT_LEAVE", ChannelRef, role=_PLAYER, listeners=_LOBBY)
async def chat_leave(ctx: Context, p: ChannelRef) -> dict:
    chat, user = _enter(ctx)
    await chat.leave(user, p.channel)
    return {}


@routes.command("CHAT_MEMBERS", ChannelRef, role=_PLAYER, listeners=_LOBBY)
async def chat_members(ctx: Context, p: ChannelRef) -> MemberList:
    chat, user = _enter(ctx)
    ch = chat.member_channel(user, p.channel)
    return MemberList(ch.name, chat.members(ch.name))


@routes.command("CHAT_SEND", ChatSend, role=_PLAYER, listeners=_LOBBY, permission="chat.send")
async def chat_send(ctx: Context, p: ChatSend) -> MessageReply:
    chat, user = _enter(ctx)
    if (p.channel is None) == (p.to is None):
        raise InvalidRequest("give exactly one of 'channel' and 'to'")
    if p.to is not None:
        return MessageReply(await chat.send_direct(user, p.to, p.text))
    assert p.channel is not None
    return MessageReply(await chat.send(user, p.channel, p.text))


@routes.command("CHAT_HISTORY", ChatHistory, role=_PLAYER, listeners=_LOBBY)
async def chat_history(ctx: Context, p: ChatHistory) -> HistoryPage:
    chat, user = _enter(ctx)
    messages, more = await chat.history(user, p.channel, p.before_id, p.limit)
    return HistoryPage(chat.channel(p.channel).name, messages, more)


@routes.command("CHAT_INVITE", ChatInvite, role=_PLAYER, listeners=_LOBBY)
async def chat_invite(ctx: Context, p: ChatInvite) -> dict:
    chat, user = _enter(ctx)
    return {"username": await chat.invite(user, p.channel, p.username)}


@routes.command("CHAT_SET_VISIBILITY", ChatVisibility, role=_PLAYER, listeners=_LOBBY)
async def chat_set_visibility(ctx: Context, p: ChatVisibility) -> ChannelReply:
    chat, user = _enter(ctx)
    return ChannelReply(chat.info(await chat.set_visibility(user, p.channel, p.visibility), user))


@routes.command("CHAT_READ", ChatRead, role=_PLAYER, listeners=_LOBBY)
async def chat_read(ctx: Context, p: ChatRead) -> ReadReply:
    chat, user = _enter(ctx)
    last, unread = await chat.mark_read(user, p.channel, p.up_to_id)
    return ReadReply(chat.channel(p.channel).name, last, unread)


@routes.command("CHAT_UNREAD", Empty, role=_PLAYER, listeners=_LOBBY)
async def chat_unread(ctx: Context, p: Empty) -> UnreadCounts:
    chat, user = _enter(ctx)
    return UnreadCounts(await chat.unread(user))


@routes.command("SET_NICKNAME", SetNickname, role=_PLAYER, listeners=_LOBBY)
async def set_nickname(ctx: Context, p: SetNickname) -> NicknameReply:
    chat, user = _enter(ctx)
    return NicknameReply(user.username, await chat.set_nickname(user, p.nickname))


# --- files ------------------------------------------------------------------------------------------------------------
@routes.command("CHAT_FILE_BEGIN", ChatFileBegin, role=_PLAYER, listeners=_LOBBY, permission="chat.send")
async def chat_file_begin(ctx: Context, p: ChatFileBegin) -> UploadStarted:
    chat, user = _enter(ctx)
    return await ctx.app.chat_files.begin(user, p.channel, p.filename, p.size_bytes, p.sha256)


@routes.command("CHAT_FILE_CHUNK", ChatFileChunk, role=_PLAYER, listeners=_LOBBY)
async def chat_file_chunk(ctx: Context, p: ChatFileChunk) -> UploadProgress:
    chat, user = _enter(ctx)
    return await ctx.app.chat_files.chunk(user, p.upload_id, p.seq, p.data_b64)


@routes.command("CHAT_FILE_END", UploadRef, role=_PLAYER, listeners=_LOBBY)
async def chat_file_end(ctx: Context, p: UploadRef) -> FileShared:
    chat, user = _enter(ctx)
    return await ctx.app.chat_files.end(user, p.upload_id)


@routes.command("CHAT_FILE_CANCEL", UploadRef, role=_PLAYER, listeners=_LOBBY)
async def chat_file_cancel(ctx: Context, p: UploadRef) -> dict:
    chat, user = _enter(ctx)
    await ctx.app.chat_files.cancel(user, p.upload_id)
    return {}


@routes.command("CHAT_FILES", ChannelRef, role=_PLAYER, listeners=_LOBBY)
async def chat_files(ctx: Context, p: ChannelRef) -> FileList:
    chat, user = _enter(ctx)
    return await ctx.app.chat_files.list(user, p.channel)


@routes.command("CHAT_FILE_GET", ChatFileGet, role=_PLAYER, listeners=_LOBBY)
async def chat_file_get(ctx: Context, p: ChatFileGet) -> FilePiece:
    chat, user = _enter(ctx)
    return await ctx.app.chat_files.piece(user, p.file_id, p.seq)

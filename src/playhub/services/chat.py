"""The chat: one service that every door (native lobby commands, ChatMaster 3000, seed-001 text chat, the browser) uses.

Who: a ``ChatUser`` is a registered player or a guest of another door, named by its username (unique once folded,
``playhub.names.name_key``). A door ``attach``es each connection of a user (``detach`` when it ends); from then on the
connection receives the pushes of every channel the user is in. Deliveries go only through the push bus, by topic:

- ``chat:<channel id>``: every attached connection of every member of that channel;
- ``chat-user:<user key>``: every attached connection of one user (invitations, renames).

A door that speaks another protocol attaches a peer whose ``send`` turns the native push into its own shape.

Channels: ``general`` (every attached user; joins and leaves are announced when a user's first connection attaches
and its last one detaches), public channels (listed; created by the first join, owned by their creator), private
channels (not listed; joined by invitation of a member; the owner switches public/private), one channel per lobby room
(``room:<room_id>``, its members, joined and left with the room, closed with it: ``room_joined``/``room_left``/
``room_closed``) and direct conversations (``dm:<a>:<b>``, created by the first message).

State: channels, members, invitations, nicknames and mutes are held in memory (loaded at start) and written through
one ordered queue (``store/serial.py``), so the database sees the changes in the order they happened; commands wait
for their write before answering. A message is answered only once its row is committed (messages arriving together
share one commit), so an acknowledged message survives a crash.
"""

from __future__ import annotations

import enum
import logging
import re
import time
from dataclasses import dataclass, field

from playhub.names import find_unsafe, name_key
from playhub.protocol.chat import ChannelInfo, ChatMessageInfo, MemberInfo
from playhub.protocol.errors import BadState, Conflict, Forbidden, InvalidRequest, NotFound, RateLimited
from playhub.protocol.pushes import (
    ChatChannelClosed,
    ChatChannelUpdated,
    ChatInvited,
    ChatMemberJoined,
    ChatMemberLeft,
    ChatMessage,
    ChatRenamed,
    Push,
)
from playhub.services.bus import Audience, PushBus
from playhub.services.ratelimit import TokenBuckets
from playhub.services.sessions import Peer, Principal, Role, SessionRegistry
from playhub.settings import Settings
from playhub.store import chat as repo
from playhub.store.db import Database
from playhub.store.serial import SerialWriter

log = logging.getLogger("playhub.chat")

GENERAL = repo.GENERAL
_CHANNEL_NAME = re.compile(r"[\w.-]+")
_USERNAME = re.compile(r"[A-Za-z0-9_.-]+")


class Kind(enum.StrEnum):
    GENERAL = "general"
    PUBLIC = "public"
    PRIVATE = "private"
    ROOM = "room"
    DIRECT = "direct"


_CHOSEN = (Kind.PUBLIC, Kind.PRIVATE)  # channels users create, join, leave, invite to and switch


@dataclass(frozen=True, slots=True)
class ChatUser:
    """A member of the chat: a registered player or a guest of another door."""

    username: str
    guest: bool = False
    key: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", name_key(self.username))

    @classmethod
    def of(cls, principal: Principal) -> ChatUser:
        return cls(principal.username)


def room_channel(room_id: str) -> str:
    return f"room:{room_id}"


def user_topic(key: str) -> str:
    return f"chat-user:{key}"


@dataclass(eq=False, slots=True)
class Channel:
    id: int
    name: str
    key: str
    kind: Kind
    owner: str | None = None
    members: dict[str, str] = field(default_factory=dict)  # user key -> username, in join order
    guests: set[str] = field(default_factory=set)
    invited: set[str] = field(default_factory=set)
    muted: dict[str, float | None] = field(default_factory=dict)  # user key -> until (wall clock), None = open

    @property
    def topic(self) -> str:
        return f"chat:{self.id}"


class ChatService:
    def __init__(self, settings: Settings, db: Database, bus: PushBus) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.writer = SerialWriter(db, settings.chat_write_batch_max)
        self._by_key: dict[str, Channel] = {}
        self._by_id: dict[int, Channel] = {}
        self._next_id = 1
        self.general = Channel(0, GENERAL, GENERAL, Kind.GENERAL)
        self._of_user: dict[str, dict[Channel, None]] = {}  # user key -> channels (general aside)
        self._online: dict[str, ChatUser] = {}  # attached users: the members of general
        self._peers: dict[str, dict[Peer, None]] = {}  # user key -> attached connections
        self._peer_user: dict[Peer, ChatUser] = {}
        self._nick: dict[str, str] = {}  # user key -> nickname
        self._nick_owner: dict[str, str] = {}  # folded nickname -> user key
        s = settings
        self._user_flood = TokenBuckets(s.chat_user_rate, s.chat_user_burst, s.chat_flood_max_keys)
        self._channel_flood = TokenBuckets(s.chat_channel_rate, s.chat_channel_burst, s.chat_flood_max_keys)
        self._last_retention = 0.0

    # --- start and stop ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the chat's state (rooms and guests of an earlier run are dropped first)."""
        snap = await self.db.run(repo.prepare, time.time())
        for row in snap.channels:
            ch = Channel(row.id, row.name, name_key(row.name), Kind(row.kind), row.owner)
            self._add_channel(ch)
            if ch.kind is Kind.GENERAL:
                self.general = ch
            self._next_id = max(self._next_id, row.id + 1)
        for m in snap.members:
            ch = self._by_id[m.channel_id]
            ch.members[m.user_key] = m.username
            self._of_user.setdefault(m.user_key, {})[ch] = None
        for channel_id, user_key in snap.invites:
            self._by_id[channel_id].invited.add(user_key)
        for user_key, nickname in snap.nicknames:
            self._nick[user_key] = nickname
            self._nick_owner[name_key(nickname)] = user_key
        for channel_id, user_key, until in snap.mutes:
            self._by_id[channel_id].muted[user_key] = until

    async def close(self) -> None:
        await self.writer.flush()

    def follow_sessions(self, sessions: SessionRegistry) -> None:
        """Native door: a player's connections leave the chat when the session ends or the connection drops."""

        def on_session(event: str, principal: Principal) -> None:
            if principal.role is not Role.PLAYER:
                return
            key = name_key(principal.username)
            peers = self._peers.get(key)
            if not peers:
                return
            for peer in list(peers):
                user = self._peer_user.get(peer)
                if user is None or user.guest:
                    continue
                if event in ("logout", "replaced", "expire") or (event == "disconnect" and peer.closed):
                    self.detach(peer, "logged out" if event == "logout" else "disconnected")

        sessions.subscribe(on_session)

    # --- connections ---------------------------------------------------------------------------------------------
    def attached(self, peer: Peer) -> ChatUser | None:
        return self._peer_user.get(peer)

    def attach(self, user: ChatUser, peer: Peer) -> bool:
        """From now on ``peer`` receives the pushes of ``user``'s channels. The user's first connection makes it a
        member of ``general`` (announced). Returns False when the connection was attached already."""
        current = self._peer_user.get(peer)
        if current is not None:
            if current.key == user.key:
                return False
            self.detach(peer, "switched user")
        if user.guest:
            _check_guest_name(user.username)
        self._peer_user[peer] = user
        peers = self._peers.setdefault(user.key, {})
        first = not peers
        peers[peer] = None
        self.bus.subscribe(user_topic(user.key), peer)
        self.bus.subscribe(self.general.topic, peer)
        for ch in self._of_user.get(user.key, ()):
            self.bus.subscribe(ch.topic, peer)
        if first:
            self._online[user.key] = user
            self.writer.submit_detached(
                repo.add_member, self.general.id, user.key, user.username, user.guest, time.time()
            )
            self._publish(
                self.general,
                ChatMemberJoined(GENERAL, user.username, self._nick.get(user.key), len(self._online), user.guest),
            )
        return True

    def detach(self, peer: Peer, reason: str = "disconnected") -> None:
        """``peer`` leaves the chat; the user's last connection takes it out of ``general`` (a guest out of every
        channel: guests are not remembered)."""
        user = self._peer_user.pop(peer, None)
        if user is None:
            return
        self.bus.unsubscribe(user_topic(user.key), peer)
        self.bus.unsubscribe(self.general.topic, peer)
        for ch in self._of_user.get(user.key, ()):
            self.bus.unsubscribe(ch.topic, peer)
        peers = self._peers.get(user.key)
        if peers is not None:
            peers.pop(peer, None)
            if peers:
                return
            del self._peers[user.key]
        self._online.pop(user.key, None)
        self._publish(
            self.general,
            ChatMemberLeft(GENERAL, user.username, self._nick.get(user.key), len(self._online), reason),
        )
        if user.guest:
            for ch in list(self._of_user.get(user.key, ())):
                if ch.kind is Kind.DIRECT:
                    self._close(ch, f"{user.username} left the chat")  # a later guest of that name must not read it
                else:
                    self._remove_member(ch, user.key, reason)
            self._drop_nickname(user.key)
            self.writer.submit_detached(repo.forget_guest, user.key)

    def sweep_closed(self) -> int:
        """Detach connections that closed without telling (housekeeping)."""
        gone = [peer for peer in self._peer_user if peer.closed]
        for peer in gone:
            self.detach(peer)
        return len(gone)

    def online(self, username: str) -> bool:
        return name_key(username) in self._online

    # --- reads ---------------------------------------------------------------------------------------------------
    def channel(self, name: str) -> Channel:
        ch = self._by_key.get(name_key(name))
        if ch is None:
            raise NotFound(f"no channel '{name}'")
        return ch

    def channel_by_id(self, channel_id: int) -> Channel | None:
        return self._by_id.get(channel_id)

    def is_member(self, ch: Channel, key: str) -> bool:
        return key in self._online if ch.kind is Kind.GENERAL else key in ch.members

    def member_channel(self, user: ChatUser, name: str) -> Channel:
        ch = self.channel(name)
        if not self.is_member(ch, user.key):
            raise Forbidden(f"you are not a member of '{ch.name}'")
        return ch

    def member_count(self, ch: Channel) -> int:
        return len(self._online) if ch.kind is Kind.GENERAL else len(ch.members)

    def info(self, ch: Channel, viewer: ChatUser | None = None, unread: int | None = None) -> ChannelInfo:
        peer = None
        if ch.kind is Kind.DIRECT and viewer is not None:
            peer = next((name for key, name in ch.members.items() if key != viewer.key), viewer.username)
        return ChannelInfo(ch.name, ch.kind.value, ch.owner, self.member_count(ch), unread, peer)

    def public_channels(self) -> list[ChannelInfo]:
        """The listed channels: ``general`` and every public one, by name."""
        listed = [self.general, *sorted((c for c in self._by_id.values() if c.kind is Kind.PUBLIC), key=_name)]
        return [self.info(c) for c in listed]

    def channels_of(self, user: ChatUser) -> list[Channel]:
        """The user's channels: ``general`` first, then in the order joined."""
        return [self.general, *self._of_user.get(user.key, ())]

    async def my_channels(self, user: ChatUser) -> list[ChannelInfo]:
        counts = await self.unread(user)
        return [self.info(c, user, counts.get(c.name, 0)) for c in self.channels_of(user)]

    def members(self, name: str) -> list[MemberInfo]:
        """Who is in a channel (doors show it: ChatMaster's ``current_users``)."""
        ch = self.channel(name)
        if ch.kind is Kind.GENERAL:
            return [MemberInfo(u.username, self._nick.get(k), True, u.guest) for k, u in self._online.items()]
        return [
            MemberInfo(username, self._nick.get(k), k in self._online, k in ch.guests)
            for k, username in ch.members.items()
        ]

    def nickname(self, user: ChatUser) -> str | None:
        return self._nick.get(user.key)

    # --- joining and leaving -------------------------------------------------------------------------------------
    async def join(self, user: ChatUser, name: str) -> tuple[Channel, bool]:
        """Join a channel; a public one is created by its first join (owned by its creator). Returns the channel and
        whether it was created. Joining a channel you are in is a no-op."""
        key = name_key(name)
        ch = self._by_key.get(key)
        if ch is None:
            self._check_channel_name(name)
            self._check_channel_quota(user)
            ch = self._new_channel(name, Kind.PUBLIC, owner=user.username)
            self._add_member(ch, user)
            await self.writer.call(repo.add_member, ch.id, user.key, user.username, user.guest, time.time())
            return ch, True
        if self.is_member(ch, user.key):
            return ch, False
        if ch.kind is Kind.ROOM:
            raise Forbidden(f"'{ch.name}' is a room's channel: join the room to be in it")
        if ch.kind is Kind.DIRECT:
            raise Forbidden(f"'{ch.name}' is a direct conversation of two other users")
        if ch.kind is Kind.GENERAL:
            raise Forbidden("log in to be in general")
        if ch.kind is Kind.PRIVATE and user.key not in ch.invited:
            raise Forbidden(f"'{ch.name}' is private: a member must invite you first")
        self._check_channel_quota(user)
        self._add_member(ch, user)
        await self.writer.call(repo.add_member, ch.id, user.key, user.username, user.guest, time.time())
        return ch, False

    async def leave(self, user: ChatUser, name: str) -> None:
        ch = self.channel(name)
        if ch.kind not in _CHOSEN:
            what = {Kind.GENERAL: "everyone logged in is in general", Kind.ROOM: "leave the room to leave its channel"}
            raise BadState(what.get(ch.kind, "a direct conversation cannot be left"))
        if user.key not in ch.members:
            raise Forbidden(f"you are not a member of '{ch.name}'")
        self._remove_member(ch, user.key, "left")
        await self.writer.call(_noop)  # answered once the change is stored

    async def invite(self, user: ChatUser, name: str, username: str) -> str:
        """A member invites a user into a public or private channel; the invitee gets ``CHAT_INVITED``. Returns the
        invitee's username."""
        ch = self.member_channel(user, name)
        if ch.kind not in _CHOSEN:
            raise BadState(f"nobody can be invited into '{ch.name}'")
        target = await self._find_user(username)
        if target.key in ch.members:
            return target.username
        ch.invited.add(target.key)
        await self.writer.call(repo.add_invite, ch.id, target.key, user.username, time.time())
        self.bus.publish(Audience.topic(user_topic(target.key)), ChatInvited(ch.name, user.username))
        return target.username

    async def set_visibility(self, user: ChatUser, name: str, visibility: str) -> Channel:
        """The owner switches a channel between public (listed, anyone joins) and private (invitation only)."""
        ch = self.member_channel(user, name)
        if ch.kind not in _CHOSEN:
            raise BadState(f"'{ch.name}' cannot be made public or private")
        if ch.owner is None or name_key(ch.owner) != user.key:
            raise Forbidden(f"only the owner of '{ch.name}' ({ch.owner}) may do that")
        kind = Kind(visibility)
        if kind is not ch.kind:
            ch.kind = kind
            await self.writer.call(repo.set_kind, ch.id, kind.value)
            self._publish(ch, ChatChannelUpdated(self.info(ch)))
        return ch

    # --- messages ------------------------------------------------------------------------------------------------
    def check_text(self, text: str) -> None:
        limit = self.settings.chat_message_max_chars
        if len(text) > limit:
            raise InvalidRequest(f"message too long: {len(text)} characters, at most {limit}")
        if not text.strip():
            raise InvalidRequest("empty message")
        bad = find_unsafe(text, multiline=True)
        if bad is not None:
            raise InvalidRequest(f"control character U+{ord(bad):04X} is not allowed in a message")

    async def send(self, user: ChatUser, name: str, text: str) -> ChatMessageInfo:
        """Post a message to a channel you are in; answered once stored; every member's connections get
        ``CHAT_MESSAGE`` (the sender's too)."""
        self.check_text(text)
        ch = self.member_channel(user, name)
        return await self._post(user, ch, text)

    async def send_direct(self, user: ChatUser, to: str, text: str) -> ChatMessageInfo:
        """A message to one user, in your direct conversation with them (created by the first message)."""
        self.check_text(text)
        target = await self._find_user(to)
        if target.key == user.key:
            raise InvalidRequest("a direct message needs another user")
        a, b = sorted([(user.key, user), (target.key, target)], key=lambda kv: kv[0])
        key = f"dm:{a[0]}:{b[0]}"
        ch = self._by_key.get(key)
        if ch is None:
            ch = self._new_channel(f"dm:{a[1].username}:{b[1].username}", Kind.DIRECT, key=key)
            for member in (user, target):
                self._add_member(ch, member, announce=False)
                self.writer.submit_detached(
                    repo.add_member, ch.id, member.key, member.username, member.guest, time.time()
                )
        return await self._post(user, ch, text)

    async def system_message(self, name: str, text: str) -> ChatMessageInfo:
        """A message from the server itself (``system``: true), e.g. a moderator's notice."""
        ch = self.channel(name)
        return await self._store_and_publish(ch, repo.NewMessage(ch.id, "", "", None, text, time.time(), True))

    async def _post(self, user: ChatUser, ch: Channel, text: str) -> ChatMessageInfo:
        self.admit_post(user, ch)
        msg = repo.NewMessage(ch.id, user.key, user.username, self._nick.get(user.key), text, time.time())
        return await self._store_and_publish(ch, msg)

    def admit_post(self, user: ChatUser, ch: Channel) -> None:
        """May ``user`` post in ``ch`` now? Mutes (102) and flood control (106); counts the post."""
        now_wall = time.time()
        until = ch.muted.get(user.key, 0.0)
        if until is None or until > now_wall:
            when = "until lifted" if until is None else f"for {max(1, round(until - now_wall))} s more"
            raise Forbidden(f"you are muted in '{ch.name}' {when}")
        if user.key in ch.muted:
            del ch.muted[user.key]  # expired
        now = time.monotonic()
        wait = max(self._user_flood.wait_for(user.key, now), self._channel_flood.wait_for(ch.id, now))
        if wait > 0:
            raise RateLimited(wait, f"slow down: too many messages, try again in {wait:.1f} s")
        self._user_flood.take(user.key, now)
        self._channel_flood.take(ch.id, now)

    async def _store_and_publish(self, ch: Channel, msg: repo.NewMessage) -> ChatMessageInfo:
        (message_id,) = await self.writer.call(repo.insert_messages, [msg])
        return self.published(ch, message_id, msg)

    def published(self, ch: Channel, message_id: int, msg: repo.NewMessage) -> ChatMessageInfo:
        """Announce a stored message to the channel; returns it as answers show it."""
        info = ChatMessageInfo(
            message_id, ch.name, msg.sender, msg.nickname, msg.text, msg.sent_at, msg.system, msg.file_id
        )
        self._publish(
            ch,
            ChatMessage(
                message_id, ch.name, msg.sender, msg.nickname, msg.text, msg.sent_at, msg.system, msg.file_id
            ),
        )
        return info

    async def history(
        self, user: ChatUser, name: str, before_id: int | None = None, limit: int = 50
    ) -> tuple[list[ChatMessageInfo], bool]:
        """Messages older than ``before_id`` (the newest when None), oldest first, and whether older ones exist."""
        page_max = self.settings.chat_history_page_max
        if not 1 <= limit <= page_max:
            raise InvalidRequest(f"limit must be 1 to {page_max}")
        if before_id is not None and before_id < 1:
            raise InvalidRequest("before_id must be a message id (1 or more)")
        ch = self.member_channel(user, name)
        rows = await self.writer.call(repo.history, ch.id, before_id, limit + 1)
        more = len(rows) > limit
        return [_message_info(ch.name, r) for r in reversed(rows[:limit])], more

    async def mark_read(self, user: ChatUser, name: str, up_to: int | None = None) -> tuple[int, int]:
        """Move the read marker to ``up_to`` (the newest message when None); returns the marker and the unread
        count left."""
        ch = self.member_channel(user, name)
        if up_to is None:
            up_to = await self.writer.call(repo.latest_id, ch.id)
        elif up_to < 0:
            raise InvalidRequest("up_to_id must be 0 or more")
        await self.writer.call(repo.mark_read, ch.id, user.key, up_to)
        counts = await self.unread(user)
        return up_to, counts.get(ch.name, 0)

    async def unread(self, user: ChatUser) -> dict[str, int]:
        """Unread messages per channel of the user (messages of others after its read marker)."""
        by_id = await self.writer.call(repo.unread_counts, user.key, self.settings.chat_unread_cap)
        out = {}
        for ch in self.channels_of(user):
            out[ch.name] = by_id.get(ch.id, 0)
        return out

    async def apply_retention(self, now: float | None = None) -> int:
        """Drop messages (and their files) past the count and age limits; returns how many went."""
        s = self.settings
        now = time.time() if now is None else now
        older = now - s.chat_retention_s if s.chat_retention_s > 0 else None
        return await self.writer.call(repo.apply_retention, s.chat_retention_messages, older)

    async def housekeeping(self) -> None:
        """Once a second from the app: closed connections; retention every ``chat_retention_sweep_s``."""
        self.sweep_closed()
        now = time.monotonic()
        if now - self._last_retention >= self.settings.chat_retention_sweep_s:
            self._last_retention = now
            dropped = await self.apply_retention()
            if dropped:
                log.info("chat retention dropped %d message(s)", dropped)

    # --- nicknames -----------------------------------------------------------------------------------------------
    async def set_nickname(self, user: ChatUser, nickname: str | None) -> str | None:
        """Set (or clear, with None or "") the user's display nickname: unique among users once folded, and never
        another user's username. Every channel of the user gets ``CHAT_RENAMED``."""
        if nickname == "":
            nickname = None
        nick_key = ""
        if nickname is not None:
            limit = self.settings.chat_nickname_max
            if len(nickname) > limit:
                raise InvalidRequest(f"nickname too long: at most {limit} characters")
            if nickname != nickname.strip():
                raise InvalidRequest("a nickname cannot start or end with spaces")
            bad = find_unsafe(nickname)
            if bad is not None:
                raise InvalidRequest(f"control character U+{ord(bad):04X} is not allowed in a nickname")
            nick_key = name_key(nickname)
            if nick_key != user.key:
                owner = self._nick_owner.get(nick_key)
                if owner is not None and owner != user.key:
                    raise Conflict(f"the nickname '{nickname}' is taken")
                if nick_key in self._online or await self.writer.call(repo.player_username, nick_key) is not None:
                    raise Conflict(f"'{nickname}' is another user's name")
                if self._nick_owner.get(nick_key, user.key) != user.key:  # taken while we asked the database
                    raise Conflict(f"the nickname '{nickname}' is taken")
        old = self._nick.get(user.key)
        if old == nickname:
            return nickname
        self._drop_nickname(user.key, announce=False)
        if nickname is not None:
            self._nick[user.key] = nickname
            self._nick_owner[nick_key] = user.key
        await self.writer.call(repo.set_nickname, user.key, nickname, nick_key, user.guest)
        self._announce_to_user_channels(user.key, ChatRenamed(user.username, old, nickname))
        return nickname

    def _drop_nickname(self, key: str, announce: bool = False) -> None:
        old = self._nick.pop(key, None)
        if old is not None:
            self._nick_owner.pop(name_key(old), None)

    # --- moderation hook -----------------------------------------------------------------------------------------
    async def mute(self, name: str, username: str, until: float | None) -> None:
        """Keep ``username`` from posting in channel ``name`` until ``until`` (wall clock; None = until ``unmute``).
        The permission check is the caller's (the roles of the admin area)."""
        ch = self.channel(name)
        key = name_key(username)
        ch.muted[key] = until
        await self.writer.call(repo.set_mute, ch.id, key, until)

    async def unmute(self, name: str, username: str) -> None:
        ch = self.channel(name)
        key = name_key(username)
        ch.muted.pop(key, None)
        await self.writer.call(repo.clear_mute, ch.id, key)

    # --- rooms ---------------------------------------------------------------------------------------------------
    def room_joined(self, room_id: str, username: str) -> None:
        """A player sat down in a lobby room: it joins the room's channel (created with the room's first member)."""
        name = room_channel(room_id)
        ch = self._by_key.get(name_key(name))
        if ch is None:
            ch = self._new_channel(name, Kind.ROOM)
        user = ChatUser(username)
        if user.key in ch.members:
            return
        self._add_member(ch, user)
        self.writer.submit_detached(repo.add_member, ch.id, user.key, user.username, False, time.time())

    def room_left(self, room_id: str, username: str, reason: str = "left the room") -> None:
        ch = self._by_key.get(name_key(room_channel(room_id)))
        if ch is not None and name_key(username) in ch.members:
            self._remove_member(ch, name_key(username), reason)

    def room_closed(self, room_id: str) -> None:
        ch = self._by_key.get(name_key(room_channel(room_id)))
        if ch is not None:
            self._close(ch, "the room closed")

    # --- internals -----------------------------------------------------------------------------------------------
    def publish_to(self, ch: Channel, push: Push) -> None:
        """A push to every attached connection of the channel's members (the bus topic ``chat:<id>``)."""
        self.bus.publish(Audience.topic(ch.topic), push)

    _publish = publish_to

    def _announce_to_user_channels(self, key: str, push: Push) -> None:
        topics = [user_topic(key), self.general.topic, *(c.topic for c in self._of_user.get(key, ()))]
        self.bus.publish(Audience.topic(*topics), push)

    def _add_channel(self, ch: Channel) -> None:
        self._by_key[ch.key] = ch
        self._by_id[ch.id] = ch

    def _new_channel(self, name: str, kind: Kind, owner: str | None = None, key: str | None = None) -> Channel:
        ch = Channel(self._next_id, name, key or name_key(name), kind, owner)
        self._next_id += 1
        self._add_channel(ch)
        self.writer.submit_detached(repo.create_channel, ch.id, ch.name, ch.key, ch.kind.value, owner, time.time())
        return ch

    def _add_member(self, ch: Channel, user: ChatUser, announce: bool = True) -> None:
        ch.members[user.key] = user.username
        if user.guest:
            ch.guests.add(user.key)
        ch.invited.discard(user.key)
        self._of_user.setdefault(user.key, {})[ch] = None
        for peer in self._peers.get(user.key, ()):
            self.bus.subscribe(ch.topic, peer)
        if announce:
            self._publish(
                ch, ChatMemberJoined(ch.name, user.username, self._nick.get(user.key), len(ch.members), user.guest)
            )

    def _remove_member(self, ch: Channel, key: str, reason: str) -> None:
        username = ch.members.pop(key, None)
        if username is None:
            return
        ch.guests.discard(key)
        channels = self._of_user.get(key)
        if channels is not None:
            channels.pop(ch, None)
            if not channels:
                del self._of_user[key]
        # The leaver hears of its own departure too, then its connections leave the topic.
        self._publish(ch, ChatMemberLeft(ch.name, username, self._nick.get(key), len(ch.members), reason))
        for peer in self._peers.get(key, ()):
            self.bus.unsubscribe(ch.topic, peer)
        if not ch.members and ch.kind is not Kind.GENERAL:
            self._close(ch, "its last member left")
            return
        self.writer.submit_detached(repo.remove_member, ch.id, key)
        if ch.owner is not None and name_key(ch.owner) == key and ch.kind in _CHOSEN:
            ch.owner = next(iter(ch.members.values()))  # the longest-standing member takes over
            self.writer.submit_detached(repo.set_owner, ch.id, ch.owner)
            self._publish(ch, ChatChannelUpdated(self.info(ch)))

    def _close(self, ch: Channel, reason: str) -> None:
        """The channel ends with its history and files (rooms that closed, channels nobody is in)."""
        self._publish(ch, ChatChannelClosed(ch.name, reason))
        self.bus.drop_topic(ch.topic)
        for key in ch.members:
            channels = self._of_user.get(key)
            if channels is not None:
                channels.pop(ch, None)
                if not channels:
                    del self._of_user[key]
        ch.members.clear()
        self._by_key.pop(ch.key, None)
        self._by_id.pop(ch.id, None)
        self.writer.submit_detached(repo.delete_channel, ch.id)

    def _check_channel_name(self, name: str) -> None:
        limit = self.settings.chat_channel_name_max
        if not name or len(name) > limit or not _CHANNEL_NAME.fullmatch(name):
            raise InvalidRequest(
                f"channel names are 1 to {limit} letters, digits, '_', '.' or '-' (got {name[:40]!r})"
            )

    def _check_channel_quota(self, user: ChatUser) -> None:
        limit = self.settings.chat_channels_per_user
        chosen = sum(1 for c in self._of_user.get(user.key, ()) if c.kind in _CHOSEN)
        if limit > 0 and chosen >= limit:
            raise BadState(f"you are in {chosen} channels already, the most allowed: leave one first")

    async def _find_user(self, username: str) -> ChatUser:
        """An online user (guests included) or a registered player, by name."""
        key = name_key(username)
        online = self._online.get(key)
        if online is not None:
            return online
        if len(username) <= self.settings.username_max:
            registered = await self.writer.call(repo.player_username, key)
            if registered is not None:
                return ChatUser(registered)
        raise NotFound(f"no user '{username[:40]}'")


def _name(ch: Channel) -> str:
    return ch.key


def _check_guest_name(username: str) -> None:
    if not _USERNAME.fullmatch(username):
        raise InvalidRequest("guest names are letters, digits, '_', '.' or '-'")


def _message_info(channel: str, r: repo.MessageRow) -> ChatMessageInfo:
    return ChatMessageInfo(r.id, channel, r.sender, r.nickname, r.text, r.sent_at, r.system, r.file_id)


def _noop(conn: object) -> None:
    """Queued behind earlier writes: awaiting it waits until they are stored."""



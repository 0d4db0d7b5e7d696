"""Chat over real sockets: channels, messages, history, unread counts, nicknames, invitations, every error code."""

from __future__ import annotations

import asyncio

import pytest

from playhub.client.chat import ChatClient
from playhub.protocol.errors import BadState, Conflict, Forbidden, InvalidRequest, NotFound, RateLimited
from playhub.protocol.pushes import (
    ChatChannelUpdated,
    ChatInvited,
    ChatMemberJoined,
    ChatMemberLeft,
    ChatMessage,
    ChatRenamed,
)
from tests.helpers import Harness


async def _chat(hub: Harness, name: str) -> ChatClient:
    chat = ChatClient(await hub.player(name))
    await chat.open()
    return chat


async def test_general_message_reaches_everyone_with_sender_and_time(hub: Harness) -> None:
    alice, bob = await _chat(hub, "alice"), await _chat(hub, "bob")
    got = asyncio.ensure_future(bob.wait(ChatMessage, lambda m: m.channel == "general"))
    # The sender's own connection hears it too (matched by id).
    mine = asyncio.ensure_future(alice.wait(ChatMessage))
    await asyncio.sleep(0)
    sent = await alice.send("general", "héllo wörld ✓ 🎲")
    msg = await got
    assert (msg.id, msg.sender, msg.text, msg.system) == (sent.id, "alice", "héllo wörld ✓ 🎲", False)
    assert abs(msg.sent_at - sent.sent_at) < 1e-6 and msg.sent_at > 1.7e9
    assert (await mine).id == sent.id


async def test_general_join_and_leave_are_announced(hub: Harness) -> None:
    alice = await _chat(hub, "alice")
    joined = asyncio.ensure_future(alice.wait(ChatMemberJoined, lambda p: p.username == "bob"))
    bob = await _chat(hub, "bob")
    j = await joined
    assert (j.channel, j.member_count, j.guest) == ("general", 2, False)
    left = asyncio.ensure_future(alice.wait(ChatMemberLeft, lambda p: p.username == "bob"))
    await bob.client.logout()
    gone = await left
    assert (gone.channel, gone.member_count, gone.reason) == ("general", 1, "logged out")
    members = await alice.members("general")
    assert [m.username for m in members.members] == ["alice"]


async def test_public_channel_created_by_first_join_listed_and_owned(hub: Harness) -> None:
    alice, bob = await _chat(hub, "alice"), await _chat(hub, "bob")
    first = await alice.join("Dice")
    assert first.created and first.channel.owner == "alice" and first.channel.kind == "public"
    seen = asyncio.ensure_future(alice.wait(ChatMemberJoined, lambda p: p.channel == "Dice"))
    again = await bob.join("dice")  # names compare folded
    assert not again.created and again.channel.channel == "Dice" and again.channel.member_count == 2
    assert (await seen).username == "bob"
    listing = await bob.channels()
    assert [(c.channel, c.member_count) for c in listing.channels] == [("general", 2), ("Dice", 2)]
    assert [c.channel for c in listing.joined] == ["general", "Dice"]
    # Joining again is a no-op.
    assert not (await bob.join("Dice")).created


async def test_history_pages_by_cursor(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chat_user_rate=0)  # 0: no flood limit
    alice = await _chat(hub, "alice")
    await alice.join("log")
    ids = []
    for i in range(25):
        ids.append((await alice.send("log", f"m{i}")).id)
    page = await alice.history("log", limit=10)
    assert [m.text for m in page.messages] == [f"m{i}" for i in range(15, 25)] and page.has_more
    older = await alice.history("log", before_id=page.messages[0].id, limit=10)
    assert [m.text for m in older.messages] == [f"m{i}" for i in range(5, 15)] and older.has_more
    last = await alice.history("log", before_id=older.messages[0].id, limit=10)
    assert [m.text for m in last.messages] == [f"m{i}" for i in range(5)] and not last.has_more
    assert [m.id for m in await alice.all_history("log", page=7)] == ids


async def test_unread_counts_for_a_returning_user(hub: Harness) -> None:
    alice, bob = await _chat(hub, "alice"), await _chat(hub, "bob")
    await alice.join("news")
    await bob.join("news")
    await bob.client.logout()
    for i in range(3):
        await alice.send("news", f"n{i}")
    await alice.send("general", "hi all")
    bob2 = ChatClient(await hub.lobby())
    await bob2.client.login_player("bob", "secret-pw")
    opened = await bob2.open()
    unread = {c.channel: c.unread for c in opened.channels}
    assert unread == {"general": 1, "news": 3}
    assert await alice.unread() == {"general": 0, "news": 0}  # own messages never count
    read = await bob2.read("news")
    assert read.unread == 0
    assert (await bob2.unread())["news"] == 0
    page = await bob2.history("news", limit=2)
    partial = await bob2.read("general", up_to_id=page.messages[0].id - 1)
    assert partial.unread == 1


async def test_private_channel_by_invitation_and_visibility(hub: Harness) -> None:
    alice, bob, carol = await _chat(hub, "alice"), await _chat(hub, "bob"), await _chat(hub, "carol")
    await alice.join("secret")
    info = await alice.set_visibility("secret", "private")
    assert info.kind == "private"
    assert "secret" not in [c.channel for c in (await bob.channels()).channels]  # unlisted
    with pytest.raises(Forbidden) as exc:
        await bob.join("secret")
    assert exc.value.code == 102
    invited = asyncio.ensure_future(bob.wait(ChatInvited))
    assert await alice.invite("secret", "BOB") == "bob"
    assert (await invited) == ChatInvited("secret", "alice")
    await bob.join("secret")
    # Only the owner switches it; a non-member cannot even ask.
    with pytest.raises(Forbidden) as exc:
        await bob.set_visibility("secret", "public")
    assert exc.value.code == 102
    with pytest.raises(Forbidden):
        await carol.set_visibility("secret", "public")
    with pytest.raises(Forbidden):
        await carol.invite("secret", "carol")
    updated = asyncio.ensure_future(bob.wait(ChatChannelUpdated))
    await alice.set_visibility("secret", "public")
    assert (await updated).channel.kind == "public"
    await carol.join("secret")
    with pytest.raises(NotFound) as exc:
        await alice.invite("secret", "nobody-here")
    assert exc.value.code == 103
    with pytest.raises(BadState):
        await alice.invite("general", "bob")


async def test_leave_and_owner_hand_over(hub: Harness) -> None:
    alice, bob = await _chat(hub, "alice"), await _chat(hub, "bob")
    await alice.join("club")
    await bob.join("club")
    left = asyncio.ensure_future(bob.wait(ChatMemberLeft, lambda p: p.channel == "club"))
    await alice.leave("club")
    assert (await left).username == "alice"
    assert (await bob.channels()).joined[1].owner == "bob"
    with pytest.raises(Forbidden) as exc:
        await alice.send("club", "still here?")
    assert exc.value.code == 102
    with pytest.raises(Forbidden):
        await alice.leave("club")
    await bob.leave("club")  # the last member: the channel goes
    with pytest.raises(NotFound):
        await bob.history("club")
    with pytest.raises(BadState) as exc2:
        await bob.leave("general")
    assert exc2.value.code == 105


async def test_direct_conversation(hub: Harness) -> None:
    alice, bob, carol = await _chat(hub, "alice"), await _chat(hub, "bob"), await _chat(hub, "carol")
    got = asyncio.ensure_future(bob.wait(ChatMessage, lambda m: m.channel.startswith("dm:")))
    sent = await alice.send_direct("Bob", "psst")
    msg = await got
    assert msg.channel == sent.channel == "dm:alice:bob" and msg.text == "psst"
    reply = await bob.send(msg.channel, "yes?")
    assert reply.channel == "dm:alice:bob"
    mine = {c.channel: c for c in (await bob.channels()).joined}
    assert mine["dm:alice:bob"].peer == "alice" and mine["dm:alice:bob"].kind == "direct"
    with pytest.raises(Forbidden) as exc:
        await carol.history("dm:alice:bob")
    assert exc.value.code == 102
    with pytest.raises(Forbidden):
        await carol.join("dm:alice:bob")
    with pytest.raises(NotFound) as exc2:
        await alice.send_direct("ghost", "hello?")
    assert exc2.value.code == 103
    with pytest.raises(InvalidRequest):
        await alice.send_direct("alice", "me")
    # A registered player who is offline still gets it (unread when back).
    await hub.player("dave")
    await alice.send_direct("dave", "when you are back")


async def test_nicknames_unique_folded_and_renames_announced(hub: Harness) -> None:
    alice, bob = await _chat(hub, "alice"), await _chat(hub, "bob")
    await hub.player("carol")
    renamed = asyncio.ensure_future(bob.wait(ChatRenamed))
    assert await alice.set_nickname("Ali ✨") == "Ali ✨"
    assert await renamed == ChatRenamed("alice", None, "Ali ✨")
    sent = await alice.send("general", "it is me")
    assert sent.nickname == "Ali ✨"
    with pytest.raises(Conflict) as exc:
        await bob.set_nickname("ali ✨")
    assert exc.value.code == 104
    with pytest.raises(Conflict):
        await bob.set_nickname("CAROL")  # another account's username, even offline
    with pytest.raises(Conflict):
        await bob.set_nickname("Alice")
    assert await alice.set_nickname("ALICE") == "ALICE"  # a spelling of one's own name is fine
    assert await bob.set_nickname("Ali ✨") == "Ali ✨"  # freed by alice
    for bad in ["x" * 33, " padded", "bell\x07", "rtl\u202e"]:
        with pytest.raises(InvalidRequest) as exc2:
            await bob.set_nickname(bad)
        assert exc2.value.code == 100
    assert await bob.set_nickname(None) is None


async def test_message_limits_and_errors(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chat_message_max_chars=20)
    alice, bob = await _chat(hub, "alice"), await _chat(hub, "bob")
    with pytest.raises(InvalidRequest) as exc:
        await alice.send("general", "x" * 21)
    assert exc.value.code == 100 and "too long" in exc.value.message
    assert (await alice.send("general", "é" * 20)).text == "é" * 20
    for bad in ["", "   ", "esc\x1b[2J", "nul\x00", "c1\x9b", "bidi\u202e"]:
        with pytest.raises(InvalidRequest):
            await alice.send("general", bad)
    assert (await alice.send("general", "two\nlines\tok")).text == "two\nlines\tok"
    with pytest.raises(NotFound) as exc2:
        await alice.send("nowhere", "hi")
    assert exc2.value.code == 103
    await bob.join("bobs")
    with pytest.raises(Forbidden) as exc3:
        await alice.send("bobs", "let me in")
    assert exc3.value.code == 102
    with pytest.raises(Forbidden):
        await alice.history("bobs")
    with pytest.raises(NotFound):
        await alice.history("nowhere")
    for limit in (0, 101):
        with pytest.raises(InvalidRequest):
            await alice.history("general", limit=limit)
    with pytest.raises(InvalidRequest):
        await alice.join("bad name!")
    with pytest.raises(InvalidRequest):
        await alice.join("x" * 33)
    raw = await alice.client.request_raw("CHAT_SEND", {"text": "hi"})
    assert raw["code"] == 100
    raw = await alice.client.request_raw("CHAT_SEND", {"text": "hi", "channel": "general", "to": "bob"})
    assert raw["code"] == 100
    raw = await alice.client.request_raw("CHAT_SEND", {"channel": "general", "text": "hi", "extra": 1})
    assert raw["code"] == 100
    # No token: 101; a developer token: 102.
    anon = await hub.lobby()
    assert (await anon.request_raw("CHAT_SEND", {"channel": "general", "text": "hi"}))["code"] == 101
    dev = await hub.developer()
    dev_on_lobby = await hub.lobby()
    raw = await dev_on_lobby.request_raw("CHAT_OPEN", {}, token=dev.token)
    assert raw["code"] == 102


async def test_flood_control_per_user_and_per_channel(make_hub) -> None:  # type: ignore[no-untyped-def]
    hub = await make_hub(chat_user_rate=1.0, chat_user_burst=3, chat_channel_rate=1.0, chat_channel_burst=5)
    alice, bob = await _chat(hub, "alice"), await _chat(hub, "bob")
    for i in range(3):
        await alice.send("general", f"a{i}")
    with pytest.raises(RateLimited) as exc:
        await alice.send("general", "too fast")
    assert exc.value.code == 106 and exc.value.payload["retry_after_s"] >= 1
    # Another user still has its own bucket, until the channel's is empty.
    await bob.send("general", "b0")
    await bob.send("general", "b1")
    with pytest.raises(RateLimited) as exc2:
        await bob.send("general", "b2")
    assert "retry_after_s" in exc2.value.payload
    raw = await bob.client.request_raw("CHAT_SEND", {"channel": "general", "text": "b3"})
    assert raw["code"] == 106 and raw["payload"]["retry_after_s"] >= 1


async def test_mute_hook(hub: Harness) -> None:
    import time

    alice, bob = await _chat(hub, "alice"), await _chat(hub, "bob")
    await hub.app.chat.mute("general", "bob", time.time() + 60)
    with pytest.raises(Forbidden) as exc:
        await bob.send("general", "can I speak?")
    assert exc.value.code == 102 and "muted" in exc.value.message
    await alice.send("general", "I can")
    await hub.app.chat.unmute("general", "bob")
    await bob.send("general", "now I can")
    await hub.app.chat.mute("general", "bob", time.time() - 1)  # already over
    await bob.send("general", "still can")


async def test_attach_needs_no_command_after_login_for_pushes_of_channels(hub: Harness) -> None:
    """A connection gets chat pushes from its first chat command on; before it, none."""
    alice = await _chat(hub, "alice")
    bob = await hub.player("bob")
    pushes = bob.subscribe("CHAT_MESSAGE")
    await alice.send("general", "before bob opened")
    await asyncio.sleep(0.05)
    assert pushes.empty()
    await ChatClient(bob).unread()
    await alice.send("general", "after")
    msg = await asyncio.wait_for(pushes.get(), 5)
    assert msg["payload"]["text"] == "after"


async def test_room_channel_follows_the_room(hub: Harness) -> None:
    from playhub.protocol.pushes import ChatChannelClosed
    from tests.lobby_helpers import make_game

    game_id = await make_game(hub.app, "talky", max_players=3)
    alice, bob, carol = await _chat(hub, "alice"), await _chat(hub, "bob"), await _chat(hub, "carol")
    room = await alice.client.request("CREATE_ROOM", {"game_id": game_id})
    channel = f"room:{room['room_id']}"
    joined = asyncio.ensure_future(alice.wait(ChatMemberJoined, lambda p: p.channel == channel))
    await bob.client.request("JOIN_ROOM", {"room_id": room["room_id"]})
    assert (await joined).username == "bob"
    mine = {c.channel: c for c in (await bob.channels()).joined}
    assert mine[channel].kind == "room" and mine[channel].member_count == 2
    got = asyncio.ensure_future(bob.wait(ChatMessage, lambda m: m.channel == channel))
    await alice.send(channel, "gl hf")
    assert (await got).text == "gl hf"
    with pytest.raises(Forbidden) as exc:
        await carol.send(channel, "me too")
    assert exc.value.code == 102
    with pytest.raises(Forbidden):
        await carol.join(channel)
    with pytest.raises(BadState):
        await bob.leave(channel)
    left = asyncio.ensure_future(alice.wait(ChatMemberLeft, lambda p: p.channel == channel))
    await bob.client.request("LEAVE_ROOM", {"room_id": room["room_id"]})
    assert (await left).username == "bob"
    with pytest.raises(Forbidden):
        await bob.send(channel, "am I still in?")
    # The last member out closes the room and its channel.
    await alice.client.request("LEAVE_ROOM", {"room_id": room["room_id"]})
    with pytest.raises(NotFound):
        await alice.history(channel)
    # A room closing with members in it (kick_all) closes the channel under them.
    room2 = await alice.client.request("CREATE_ROOM", {"game_id": game_id})
    await bob.client.request("JOIN_ROOM", {"room_id": room2["room_id"]})
    closed = asyncio.ensure_future(bob.wait(ChatChannelClosed))
    await asyncio.sleep(0)
    hub.app.chat.room_closed(room2["room_id"])
    assert (await closed).channel == f"room:{room2['room_id']}"


async def test_a_dropped_connection_leaves_general(hub: Harness) -> None:
    alice, bob = await _chat(hub, "alice"), await _chat(hub, "bob")
    left = asyncio.ensure_future(alice.wait(ChatMemberLeft, lambda p: p.username == "bob"))
    await asyncio.sleep(0)
    await bob.client.close()
    assert (await left).reason == "disconnected"
    assert not hub.app.chat.online("bob")


async def test_retention_by_age_and_count(make_hub) -> None:  # type: ignore[no-untyped-def]
    import time

    hub = await make_hub(chat_retention_messages=3, chat_retention_s=3600.0, chat_user_rate=0)
    alice = await _chat(hub, "alice")
    for i in range(5):
        await alice.send("general", f"m{i}")
    assert await hub.app.chat.apply_retention() == 2
    assert [m.text for m in (await alice.history("general")).messages] == ["m2", "m3", "m4"]
    # Two hours later everything is past the age limit.
    assert await hub.app.chat.apply_retention(now=time.time() + 7200) == 3
    assert (await alice.history("general")).messages == []
    # Ids never come back: the next message gets a larger id than any before.
    assert (await alice.send("general", "again")).id == 6

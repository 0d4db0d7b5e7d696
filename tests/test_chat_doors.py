"""The chat service as another door sees it: a guest attached through the service API (the way the ChatMaster and
seed-001 gateways will attach theirs) talks with a native player over a real socket."""

from __future__ import annotations

import asyncio
import json

import pytest

from playhub.client.chat import ChatClient
from playhub.protocol.errors import Conflict, InvalidRequest, NotFound
from playhub.protocol.pushes import ChatChannelClosed, ChatMemberJoined, ChatMemberLeft, ChatMessage
from playhub.services.chat import ChatUser
from tests.helpers import Harness


class DoorPeer:
    """A door's connection as the bus sees it: native pushes arrive encoded; a door re-renders them."""

    remote_ip = "127.0.0.1"

    def __init__(self) -> None:
        self.received: list[dict] = []  # type: ignore[type-arg]
        self._closed = False

    def send(self, encoded: bytes) -> None:
        self.received.append(json.loads(encoded))

    def push(self, type_: str, payload: object) -> None:
        raise AssertionError("services push through the bus only")

    @property
    def closed(self) -> bool:
        return self._closed

    def of(self, type_: str) -> list[dict]:  # type: ignore[type-arg]
        return [m["payload"] for m in self.received if m["type"] == type_]


async def test_guest_and_player_see_each_other(hub: Harness) -> None:
    chat = hub.app.chat
    alice = ChatClient(await hub.player("alice"))
    await alice.open()
    joined = asyncio.ensure_future(alice.wait(ChatMemberJoined, lambda p: p.username == "PythonMaster"))
    guest, door = ChatUser("PythonMaster", guest=True), DoorPeer()
    assert chat.attach(guest, door)
    assert not chat.attach(guest, door)  # once per connection
    assert (await joined).guest is True
    got = asyncio.ensure_future(alice.wait(ChatMessage, lambda m: m.sender == "PythonMaster"))
    await chat.send(guest, "general", "hello from port 9000")
    assert (await got).text == "hello from port 9000"
    sent = await alice.send("general", "hi guest")
    await asyncio.sleep(0.05)
    assert [m["id"] for m in door.of("CHAT_MESSAGE")][-1] == sent.id
    assert {m.username: m.guest for m in chat.members("general")} == {"alice": False, "PythonMaster": True}
    # The guest creates and joins a channel, takes a nickname, talks directly.
    ch, created = await chat.join(guest, "python")
    assert created and ch.owner == "PythonMaster"
    await alice.join("python")
    assert await chat.set_nickname(guest, "Pym") == "Pym"
    with pytest.raises(Conflict):
        await alice.set_nickname("pythonmaster")  # an online guest's name
    dm = await chat.send_direct(guest, "alice", "psst")
    assert dm.channel == "dm:alice:PythonMaster"
    closed = asyncio.ensure_future(alice.wait(ChatChannelClosed, lambda p: p.channel == dm.channel))
    left = asyncio.ensure_future(alice.wait(ChatMemberLeft, lambda p: p.channel == "python"))
    await asyncio.sleep(0)
    # The guest goes: out of every channel, its direct conversation closed, its nickname free again.
    chat.detach(door, "quit")
    assert (await left).reason == "quit"
    await closed
    assert not chat.online("PythonMaster")
    assert await alice.set_nickname("Pym") == "Pym"
    assert "dm:alice:PythonMaster" not in [c.channel for c in (await alice.channels()).joined]
    with pytest.raises(NotFound):
        await chat.send_direct(ChatUser("alice"), "PythonMaster", "gone?")


async def test_guest_names_are_checked(hub: Harness) -> None:
    with pytest.raises(InvalidRequest):
        hub.app.chat.attach(ChatUser("bad name", guest=True), DoorPeer())


async def test_closed_door_connections_are_swept(hub: Harness) -> None:
    chat = hub.app.chat
    door = DoorPeer()
    chat.attach(ChatUser("Ghosty", guest=True), door)
    door._closed = True
    assert chat.sweep_closed() == 1
    assert not chat.online("Ghosty")

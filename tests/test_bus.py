"""The push bus: audiences, topics, one encoding per publish, closed peers skipped; and end to end over TCP."""

from __future__ import annotations

import asyncio

import msgspec

from playhub.protocol.envelope import encode_push
from playhub.protocol.pushes import PUSHES, PlayerPresence, RoomUpdated
from playhub.services.bus import Audience, LocalBus
from playhub.services.sessions import Role, SessionRegistry
from tests.helpers import Harness


class FakePeer:
    """A connection as the bus sees it: it records what it is sent."""

    def __init__(self, remote_ip: str = "127.0.0.1") -> None:
        self.remote_ip = remote_ip
        self.sent: list[bytes] = []
        self.closed = False

    def push(self, type_: str, payload: object) -> None:  # pragma: no cover - part of the Peer protocol
        raise AssertionError("the bus sends encoded pushes")

    def send(self, encoded: bytes) -> None:
        self.sent.append(encoded)


def _bus() -> tuple[LocalBus, SessionRegistry]:
    sessions = SessionRegistry()
    return LocalBus(sessions), sessions


def test_push_encoding_is_the_wire_shape() -> None:
    assert (
        encode_push(PlayerPresence(["a"], []))
        == b'{"type":"PLAYER_PRESENCE","payload":{"online":["a"],"offline":[]}}'
    )
    # An unset optional field is left out; a set one follows the others.
    assert (
        encode_push(RoomUpdated({"room_id": "r"}))
        == b'{"type":"ROOM_UPDATED","payload":{"room":{"room_id":"r"}}}'
    )
    assert msgspec.json.decode(encode_push(RoomUpdated({}, reason="x")))["payload"] == {
        "room": {},
        "reason": "x",
    }
    assert PUSHES["ROOM_UPDATED"] is RoomUpdated


def test_users_topics_and_peers_each_get_one_copy() -> None:
    bus, sessions = _bus()
    alice, bob, watcher, closed = FakePeer(), FakePeer(), FakePeer(), FakePeer()
    sessions.login(Role.PLAYER, 1, "alice", alice)
    sessions.login(Role.PLAYER, 2, "bob", bob)
    sessions.login(Role.DEVELOPER, 3, "carol", watcher)  # a developer named like nobody: not a player
    bus.subscribe("room:r1", alice)
    bus.subscribe("room:r1", watcher)
    bus.subscribe("room:r1", closed)
    closed.closed = True
    push = PlayerPresence(["x"], [])
    bus.publish(Audience.users(["alice", "bob", "carol", "nobody"]) | Audience.topic("room:r1"), push)
    expected = encode_push(push)
    assert alice.sent == [expected] and bob.sent == [expected] and watcher.sent == [expected]
    assert closed.sent == []
    bus.publish(Audience.peers([bob, bob]), push)
    assert bob.sent == [expected, expected]
    bus.publish(Audience(), push)  # nobody: nothing encoded, nothing sent
    assert len(bob.sent) == 2


def test_encoded_once_per_publish(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bus, sessions = _bus()
    peers = [FakePeer() for _ in range(50)]
    for peer in peers:
        bus.subscribe("lobby", peer)
    calls = []
    import playhub.services.bus as bus_module

    real = bus_module.encode_push
    monkeypatch.setattr(bus_module, "encode_push", lambda p: calls.append(p) or real(p))
    bus.publish(Audience.topic("lobby"), PlayerPresence([], ["y"]))
    assert len(calls) == 1
    assert all(len(p.sent) == 1 and p.sent[0] is peers[0].sent[0] for p in peers)


def test_unsubscribe_and_dropped_peers_leave_topics() -> None:
    bus, _ = _bus()
    a, b = FakePeer(), FakePeer()
    bus.subscribe("room:r", a)
    bus.subscribe("room:r", b)
    bus.subscribe("lobby", a)
    bus.unsubscribe("room:r", b)
    assert bus.subscribers("room:r") == [a]
    bus.drop_peer(a)
    assert bus.subscribers("room:r") == [] and bus.subscribers("lobby") == []
    assert not bus._topics and not bus._of_peer  # nothing left behind for closed connections
    bus.subscribe("room:r", b)
    bus.drop_topic("room:r")
    assert not bus._topics and not bus._of_peer


def test_the_delivery_sink_is_the_edge() -> None:
    bus, sessions = _bus()
    peer = FakePeer()
    sessions.login(Role.PLAYER, 1, "alice", peer)
    seen: list[tuple[list[object], bytes]] = []
    bus.attach(lambda peers, encoded: seen.append((list(peers), encoded)))
    bus.publish(Audience.users(["alice"]), PlayerPresence([], []))
    assert seen == [([peer], encode_push(PlayerPresence([], [])))] and peer.sent == []

    def broken(peers: object, encoded: bytes) -> None:
        raise OSError("socket gone")

    bus.attach(broken)
    bus.publish(Audience.users(["alice"]), PlayerPresence([], []))  # logged, never raised into the service


async def test_closed_connections_leave_every_topic(hub: Harness) -> None:
    a = await hub.player("alice")
    conn = next(iter(hub.app._connections))
    hub.app.bus.subscribe("lobby", conn)
    await a.close()
    for _ in range(100):
        if not hub.app.bus.subscribers("lobby"):
            break
        await asyncio.sleep(0.02)
    assert hub.app.bus.subscribers("lobby") == []

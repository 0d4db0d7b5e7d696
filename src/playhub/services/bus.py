"""The push bus: the one way a service tells anyone anything.

Services never touch sockets. They call ``bus.publish(audience, push)`` with a typed push from
``protocol/pushes.py`` and an ``Audience``:

- ``Audience.users(names)``: the live lobby connection of each named player (player role);
- ``Audience.topic(name)``: every connection subscribed to that topic (``room:<id>``, ``lobby``, ``chat:<channel>``);
  services subscribe a connection with ``bus.subscribe(topic, peer)`` and unsubscribe it with ``bus.unsubscribe``;
  a closed connection is dropped from every topic by the server (``bus.drop_peer``);
- ``Audience.peers(peers)``: explicit connections (e.g. the one that asked).

Audiences combine with ``|``; a connection reached several ways gets the push once. Each push is encoded once per
publish, whatever the number of recipients, and closed connections are skipped.

``PushBus`` is the interface services depend on. ``LocalBus`` implements it in one process: it resolves the audience
to live connections (users through the session registry, topics through its own table) and hands the encoded frame to
the delivery sink that the server layer registered (``attach``), which writes it to each socket. A bus over a network
pub/sub (several nodes) implements the same interface: ``publish`` sends ``(audience, encoded push)`` to the other
nodes, and each node resolves users and topics to its own connections with ``LocalBus.deliver``; explicit peers are
always local. Nothing in a service changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from playhub.protocol.envelope import encode_push
from playhub.protocol.pushes import Push
from playhub.services.sessions import Peer, Role, SessionRegistry

log = logging.getLogger("playhub.bus")


@dataclass(frozen=True, slots=True)
class Audience:
    """Who receives a push: players by name, topic subscribers, explicit connections; or any union of these."""

    names: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    explicit: tuple[Peer, ...] = ()

    @classmethod
    def users(cls, names: Iterable[str]) -> Audience:
        return cls(names=frozenset(names))

    @classmethod
    def topic(cls, *topics: str) -> Audience:
        return cls(topics=frozenset(topics))

    @classmethod
    def peers(cls, peers: Iterable[Peer]) -> Audience:
        return cls(explicit=tuple(peers))

    def __or__(self, other: Audience) -> Audience:
        return Audience(self.names | other.names, self.topics | other.topics, self.explicit + other.explicit)

    def __bool__(self) -> bool:
        return bool(self.names or self.topics or self.explicit)


# Writes one encoded push to each connection (registered by the server layer).
Sink = Callable[[Iterable[Peer], bytes], None]


class PushBus(Protocol):
    """What services use. ``publish`` never blocks and never raises for a recipient that is gone."""

    def publish(self, audience: Audience, push: Push) -> None: ...

    def subscribe(self, topic: str, peer: Peer) -> None: ...

    def unsubscribe(self, topic: str, peer: Peer) -> None: ...

    def drop_topic(self, topic: str) -> None: ...


def _send_each(peers: Iterable[Peer], encoded: bytes) -> None:
    for peer in peers:
        peer.send(encoded)


class LocalBus:
    """The in-process bus: delivers to the connections of this server."""

    def __init__(self, sessions: SessionRegistry) -> None:
        self.sessions = sessions
        self._sink: Sink = _send_each
        self._topics: dict[str, dict[Peer, None]] = {}  # topic -> subscribers, in subscription order
        self._of_peer: dict[Peer, set[str]] = {}  # so a closed connection leaves all its topics at once

    def attach(self, sink: Sink) -> None:
        """Register the delivery sink (the server's edge); until then pushes go to ``peer.send``."""
        self._sink = sink

    # --- topics ---------------------------------------------------------------------------------------------------
    def subscribe(self, topic: str, peer: Peer) -> None:
        self._topics.setdefault(topic, {})[peer] = None
        self._of_peer.setdefault(peer, set()).add(topic)

    def unsubscribe(self, topic: str, peer: Peer) -> None:
        members = self._topics.get(topic)
        if members is not None:
            members.pop(peer, None)
            if not members:
                del self._topics[topic]
        topics = self._of_peer.get(peer)
        if topics is not None:
            topics.discard(topic)
            if not topics:
                del self._of_peer[peer]

    def drop_topic(self, topic: str) -> None:
        """Forget a topic and its subscribers (a room that closed)."""
        for peer in self._topics.pop(topic, ()):
            topics = self._of_peer.get(peer)
            if topics is not None:
                topics.discard(topic)
                if not topics:
                    del self._of_peer[peer]

    def drop_peer(self, peer: Peer) -> None:
        """A connection closed: take it out of every topic."""
        for topic in self._of_peer.pop(peer, ()):
            members = self._topics.get(topic)
            if members is not None:
                members.pop(peer, None)
                if not members:
                    del self._topics[topic]

    def subscribers(self, topic: str) -> list[Peer]:
        return list(self._topics.get(topic, ()))

    def is_subscribed(self, topic: str, peer: Peer) -> bool:
        return peer in self._topics.get(topic, ())

    # --- publishing -----------------------------------------------------------------------------------------------
    def publish(self, audience: Audience, push: Push) -> None:
        if not audience:
            return
        self.deliver(audience, encode_push(push))

    def resolve(self, audience: Audience) -> list[Peer]:
        """The live local connections an audience reaches, each once."""
        peers: dict[Peer, None] = {}
        for peer in audience.explicit:
            peers[peer] = None
        for topic in audience.topics:
            peers.update(self._topics.get(topic, {}))
        by_username = self.sessions.by_username
        for name in audience.names:
            principal = by_username(Role.PLAYER, name)
            if principal is not None and principal.peer is not None:
                peers[principal.peer] = None
        return [peer for peer in peers if not peer.closed]

    def deliver(self, audience: Audience, encoded: bytes) -> None:
        """Deliver an encoded push to the local connections of ``audience`` (a network bus calls this on receipt)."""
        peers = self.resolve(audience)
        if not peers:
            return
        try:
            self._sink(peers, encoded)
        except Exception:  # one failing socket write must not break the service that published
            log.exception("delivering a push failed")

"""P2P sessions on one host: the direct path, the relay, and every error of the P2P commands with its exact code."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from playhub.client import Client
from playhub.client.p2p import accept_peer, connect_peer
from playhub.protocol.errors import BadState, Forbidden, NotFound, RateLimited
from playhub.sdk import p2p as sdk_p2p
from playhub.sdk.p2p import P2PFailed
from playhub.sdk.tickets import p2p_ticket, player_ticket
from tests.helpers import Harness
from tests.lobby_helpers import make_game, start_two


async def _pair(hub: Harness) -> tuple[Client, Client]:
    return await hub.player("ann"), await hub.player("bob")


async def test_direct_path_between_two_players(hub: Harness) -> None:
    a, b = await _pair(hub)
    results = [a.subscribe("P2P_RESULT"), b.subscribe("P2P_RESULT")]
    callee = asyncio.ensure_future(accept_peer(b, listen_host="127.0.0.1"))
    link_a = await connect_peer(a, "bob", listen_host="127.0.0.1")
    link_b = await callee
    assert (link_a.path, link_b.path) == ("direct", "direct")
    assert (link_a.peer, link_b.peer) == ("bob", "ann") and link_a.session_id == link_b.session_id
    link_a.writer.write(b"ping")
    assert await link_b.reader.readexactly(4) == b"ping"
    link_b.writer.write(b"pong")
    assert await link_a.reader.readexactly(4) == b"pong"
    for q in results:
        push = (await asyncio.wait_for(q.get(), 5))["payload"]
        assert push == {
            "session_id": link_a.session_id,
            "outcome": "direct",
            "code": 0,
            "reason": "connected directly",
        }
    await link_a.close()
    await link_b.close()
    assert hub.app.p2p.open_sessions() == 0


async def test_relay_path_carries_bytes_both_ways(hub: Harness) -> None:
    a, b = await _pair(hub)
    closed = [a.subscribe("P2P_CLOSED"), b.subscribe("P2P_CLOSED")]
    callee = asyncio.ensure_future(accept_peer(b, try_direct=False))
    link_a = await connect_peer(a, "bob", try_direct=False)
    link_b = await callee
    assert (link_a.path, link_b.path) == ("relayed", "relayed")
    payload = bytes(range(256)) * 400
    link_a.writer.write(payload)
    assert await link_b.reader.readexactly(len(payload)) == payload
    link_b.writer.write(b"back")
    assert await link_a.reader.readexactly(4) == b"back"
    await link_a.close()
    assert await asyncio.wait_for(link_b.reader.read(10), 5) == b""  # the peer's close reaches the other side
    for q in closed:
        push = (await asyncio.wait_for(q.get(), 5))["payload"]
        assert push["session_id"] == link_a.session_id and push["code"] == 0
        assert push["bytes"] == len(payload) + 4
    assert hub.app.p2p.open_sessions() == 0 and hub.app.relay.active() == 0


async def _code(coro: Any) -> int:
    try:
        await coro
    except Exception as exc:  # the typed error of the answer
        return int(getattr(exc, "code", -1))
    return 0


async def _session(a: Client, to: str = "bob") -> tuple[str, dict[str, Any]]:
    invites = a.subscribe("P2P_INVITE")
    sid = (await a.request("P2P_REQUEST", {"to": to}))["session_id"]
    invite = (await asyncio.wait_for(invites.get(), 5))["payload"]
    a.unsubscribe(invites)
    assert invite["session_id"] == sid
    return sid, invite


async def test_invite_payload_and_peer_addresses(hub: Harness) -> None:
    a, b = await _pair(hub)
    b_invites, a_peer = b.subscribe("P2P_INVITE"), a.subscribe("P2P_PEER")
    sid, invite = await _session(a)
    other = (await asyncio.wait_for(b_invites.get(), 5))["payload"]
    assert invite["role"] == "caller" and other["role"] == "callee"
    assert invite["token"] == other["token"] and len(invite["token"]) >= 32
    assert invite["peer"]["username"] == "bob" and other["peer"]["username"] == "ann"
    # The address the server sees for the other's lobby connection.
    assert other["peer"]["ip"] == "127.0.0.1"
    assert other["peer"]["port"] == a.writer.get_extra_info("sockname")[1]
    assert invite["room_id"] is None and invite["timeout_s"] == hub.app.settings.p2p_session_timeout_s
    await b.request("P2P_LISTENING", {"session_id": sid, "port": 4567})
    peer = (await asyncio.wait_for(a_peer.get(), 5))["payload"]
    assert peer == {"session_id": sid, "peer": {"username": "bob", "ip": "127.0.0.1", "port": 4567}}


async def test_request_errors(make_hub: Any) -> None:
    hub = await make_hub(p2p_requests_per_window=3, p2p_max_sessions_per_user=2)
    a, b = await _pair(hub)
    assert await _code(a.request("P2P_REQUEST", {"to": "ann"})) == 100  # yourself
    # Unknown names answer like offline ones.
    assert await _code(a.request("P2P_REQUEST", {"to": "nobody"})) == 105
    carl = await hub.player("carl")
    await carl.close()
    await asyncio.sleep(0.1)
    assert await _code(a.request("P2P_REQUEST", {"to": "carl"})) == 105  # offline
    assert await _code(a.request("P2P_REQUEST", {"to": "bob", "unknown": 1})) == 100
    no_token = await hub.lobby()
    assert await _code(no_token.request("P2P_REQUEST", {"to": "bob"})) == 101
    # Open sessions per player (2 here): ann's and dave's with bob pass, eve's is one too many for bob.
    dave, eve = await hub.player("dave"), await hub.player("eve")
    first = (await a.request("P2P_REQUEST", {"to": "bob"}))["session_id"]
    assert await _code(dave.request("P2P_REQUEST", {"to": "bob"})) == 0
    with pytest.raises(BadState):
        await eve.request("P2P_REQUEST", {"to": "bob"})
    # The rate limit (3 here) counts only requests that sent invitations: none of the refusals above.
    second = (await a.request("P2P_REQUEST", {"to": "dave"}))["session_id"]
    for sid in (first, second):
        await a.request("P2P_CANCEL", {"session_id": sid})
    assert await _code(a.request("P2P_REQUEST", {"to": "eve"})) == 0
    with pytest.raises(RateLimited) as exc:
        await a.request("P2P_REQUEST", {"to": "eve"})
    assert exc.value.code == 106 and exc.value.payload["retry_after_s"] >= 1


async def test_request_within_a_room(hub: Harness) -> None:
    a, b = await _pair(hub)
    with pytest.raises(NotFound):
        await a.request("P2P_REQUEST", {"to": "bob", "room_id": "nope-12345678"})
    game_id = await make_game(hub.app, "duel")
    room = (await a.request("CREATE_ROOM", {"game_id": game_id}))["room_id"]
    with pytest.raises(Forbidden):
        await a.request("P2P_REQUEST", {"to": "bob", "room_id": room})
    await b.request("JOIN_ROOM", {"room_id": room})
    invites = b.subscribe("P2P_INVITE")
    await a.request("P2P_REQUEST", {"to": "bob", "room_id": room})
    assert (await asyncio.wait_for(invites.get(), 5))["payload"]["room_id"] == room


async def test_listening_and_report_errors(hub: Harness) -> None:
    a, b = await _pair(hub)
    carl = await hub.player("carl")
    sid, _ = await _session(a)
    assert await _code(a.request("P2P_LISTENING", {"session_id": "nope", "port": 1})) == 103
    assert await _code(carl.request("P2P_LISTENING", {"session_id": sid, "port": 1})) == 103  # not a party
    assert await _code(a.request("P2P_LISTENING", {"session_id": sid, "port": 70000})) == 100
    assert await _code(a.request("P2P_REPORT", {"session_id": sid, "outcome": "maybe"})) == 100
    assert await _code(a.request("P2P_LISTENING", {"session_id": sid, "port": 1000})) == 0
    assert await _code(a.request("P2P_LISTENING", {"session_id": sid, "port": 1000})) == 105  # twice
    # Direct before the callee listens: nothing can have connected yet.
    assert await _code(a.request("P2P_REPORT", {"session_id": sid, "outcome": "direct"})) == 105
    assert await _code(b.request("P2P_LISTENING", {"session_id": sid, "port": 1001})) == 0
    assert await _code(b.request("P2P_REPORT", {"session_id": sid, "outcome": "direct"})) == 102  # the callee
    assert await _code(carl.request("P2P_REPORT", {"session_id": sid, "outcome": "direct"})) == 103
    assert (await a.request("P2P_REPORT", {"session_id": sid, "outcome": "direct"})) == {"outcome": "direct"}
    # Decided: the session is gone.
    assert await _code(a.request("P2P_REPORT", {"session_id": sid, "outcome": "failed"})) == 103
    assert await _code(a.request("P2P_CANCEL", {"session_id": sid})) == 103


async def test_session_times_out(make_hub: Any) -> None:
    hub = await make_hub(p2p_session_timeout_s=0.3)
    a, b = await _pair(hub)
    results = [a.subscribe("P2P_RESULT"), b.subscribe("P2P_RESULT")]
    sid, _ = await _session(a)
    for q in results:
        push = (await asyncio.wait_for(q.get(), 5))["payload"]
        assert push["session_id"] == sid and push["outcome"] == "failed" and push["code"] == 105
        assert "timed out" in push["reason"]
    assert await _code(a.request("P2P_LISTENING", {"session_id": sid, "port": 1})) == 103


async def test_a_peer_that_vanishes_fails_the_session(hub: Harness) -> None:
    a, b = await _pair(hub)
    results = a.subscribe("P2P_RESULT")
    sid, _ = await _session(a)
    await b.close()
    push = (await asyncio.wait_for(results.get(), 5))["payload"]
    assert push == {"session_id": sid, "outcome": "failed", "code": 105, "reason": "bob went offline"}


async def test_cancel_by_the_callee(hub: Harness) -> None:
    a, b = await _pair(hub)
    results = a.subscribe("P2P_RESULT")
    sid, _ = await _session(a)
    await b.request("P2P_CANCEL", {"session_id": sid})
    push = (await asyncio.wait_for(results.get(), 5))["payload"]
    assert push["outcome"] == "failed" and push["code"] == 105 and push["reason"] == "cancelled by bob"
    with pytest.raises(P2PFailed) as exc:
        await accept_peer(b, {"session_id": sid, "role": "callee", "token": "x", "peer": {"username": "ann"}})
    assert exc.value.code == 103  # P2P_LISTENING on a session that is gone


async def test_no_relay_slot_or_relay_off_fails(make_hub: Any) -> None:
    for overrides, code in (({"p2p_max_relays": 0}, 106), ({"p2p_relay": False}, 105)):
        hub = await make_hub(**overrides)
        a, b = await _pair(hub)
        results = b.subscribe("P2P_RESULT")
        sid, _ = await _session(a)
        assert (await a.request("P2P_REPORT", {"session_id": sid, "outcome": "failed"})) == {
            "outcome": "failed"
        }
        push = (await asyncio.wait_for(results.get(), 5))["payload"]
        assert push["outcome"] == "failed" and push["code"] == code


async def _relayed(a: Client) -> tuple[str, dict[str, Any]]:
    sid, invite = await _session(a)
    assert (await a.request("P2P_REPORT", {"session_id": sid, "outcome": "failed"})) == {"outcome": "relayed"}
    return sid, invite


def _relay_msg(sid: str, token: str, user: str, ticket: str | None = None) -> dict[str, Any]:
    return {"session_id": sid, "username": user, "ticket": ticket or p2p_ticket(token, sid, "relay", user)}


async def test_relay_errors_and_single_use_tickets(make_hub: Any) -> None:
    hub = await make_hub(p2p_relay_pair_timeout_s=0.5)
    a, b = await _pair(hub)
    closed = a.subscribe("P2P_CLOSED")
    sid, invite = await _session(a)
    token = invite["token"]
    c1 = await hub.lobby()
    assert (
        await _code(c1.request("P2P_RELAY", _relay_msg(sid, token, "ann"), token=None)) == 105
    )  # not relayed yet
    assert await _code(a.request("P2P_REPORT", {"session_id": sid, "outcome": "failed"})) == 0
    assert await _code(c1.request("P2P_RELAY", _relay_msg("nope", token, "ann"), token=None)) == 103
    wrong = p2p_ticket("not-the-token", sid, "relay", "ann")
    assert await _code(c1.request("P2P_RELAY", _relay_msg(sid, token, "ann", wrong), token=None)) == 102
    direct = p2p_ticket(token, sid, "direct", "ann")  # a ticket for the direct handshake opens no relay
    assert await _code(c1.request("P2P_RELAY", _relay_msg(sid, token, "ann", direct), token=None)) == 102
    assert await _code(c1.request("P2P_RELAY", _relay_msg(sid, token, "carl"), token=None)) == 102
    # A relay needs its own connection: not the logged-in lobby connection.
    assert await _code(a.request("P2P_RELAY", _relay_msg(sid, token, "ann"))) == 105
    # Ann attaches; bob never comes: after the pair timeout, 105 and P2P_CLOSED.
    assert await _code(c1.request("P2P_RELAY", _relay_msg(sid, token, "ann"), token=None)) == 105
    push = (await asyncio.wait_for(closed.get(), 5))["payload"]
    assert push["session_id"] == sid and push["code"] == 105
    # The ticket was used (and the session is over): it opens nothing any more.
    c2 = await hub.lobby()
    assert await _code(c2.request("P2P_RELAY", _relay_msg(sid, token, "ann"), token=None)) == 103


async def test_relay_ticket_reuse_is_refused(hub: Harness) -> None:
    a, b = await _pair(hub)
    sid, invite = await _relayed(a)
    c1, c2 = await hub.lobby(), await hub.lobby()
    first = asyncio.ensure_future(
        c1.request("P2P_RELAY", _relay_msg(sid, invite["token"], "ann"), token=None)
    )
    await asyncio.sleep(0.1)
    assert await _code(c2.request("P2P_RELAY", _relay_msg(sid, invite["token"], "ann"), token=None)) == 105
    await a.request("P2P_CANCEL", {"session_id": sid})
    assert await _code(first) == 105  # the waiting relay ends with the session


async def _relay_links(hub: Harness) -> tuple[Client, Client, Any, Any]:
    a, b = await _pair(hub)
    callee = asyncio.ensure_future(accept_peer(b, try_direct=False))
    link_a = await connect_peer(a, "bob", try_direct=False)
    return a, b, link_a, await callee


async def test_relay_byte_quota(make_hub: Any) -> None:
    hub = await make_hub(p2p_relay_max_bytes=10_000, p2p_relay_bytes_per_s=0)
    a, b, link_a, link_b = await _relay_links(hub)
    closed = b.subscribe("P2P_CLOSED")
    link_a.writer.write(b"x" * 6_000)
    assert len(await link_b.reader.readexactly(6_000)) == 6_000
    link_a.writer.write(b"y" * 6_000)
    push = (await asyncio.wait_for(closed.get(), 5))["payload"]
    assert push["code"] == 106 and push["bytes"] == 6_000 and "10000 bytes" in push["reason"]
    assert await asyncio.wait_for(link_b.reader.read(), 5) == b""  # nothing past the quota, then closed


async def test_relay_bandwidth_cap(make_hub: Any) -> None:
    hub = await make_hub(p2p_relay_bytes_per_s=200_000)
    a, b, link_a, link_b = await _relay_links(hub)
    loop = asyncio.get_running_loop()
    start = loop.time()
    link_a.writer.write(b"z" * 100_000)
    await link_b.reader.readexactly(100_000)
    took = loop.time() - start
    # 100 kB at 200 kB/s: the first chunk passes at once, the rest waits its turn (about 0.35 s at least).
    assert took >= 0.3, took


async def test_relay_peer_vanishes_and_idle_timeout(make_hub: Any) -> None:
    hub = await make_hub(p2p_relay_idle_timeout_s=0.4)
    a, b, link_a, link_b = await _relay_links(hub)
    closed = a.subscribe("P2P_CLOSED")
    link_b.writer.transport.abort()  # bob's game vanishes
    assert await asyncio.wait_for(link_a.reader.read(), 5) == b""
    push = (await asyncio.wait_for(closed.get(), 5))["payload"]
    assert push["code"] == 0 and "bob" in push["reason"]
    a2, b2 = await hub.player("cid"), await hub.player("dora")
    closed2 = a2.subscribe("P2P_CLOSED")
    callee = asyncio.ensure_future(accept_peer(b2, try_direct=False))
    links = [await connect_peer(a2, "dora", try_direct=False), await callee]  # kept open, silent
    push = (await asyncio.wait_for(closed2.get(), 5))["payload"]
    assert push["code"] == 105 and "nothing relayed" in push["reason"]
    assert await asyncio.wait_for(links[0].reader.read(), 5) == b""


async def test_direct_handshake_refuses_a_wrong_ticket_and_a_second_peer(hub: Harness) -> None:
    a, b = await _pair(hub)
    peers = a.subscribe("P2P_PEER")
    callee = asyncio.ensure_future(accept_peer(b, listen_host="127.0.0.1"))
    sid, invite = await _session(a)
    await a.request("P2P_LISTENING", {"session_id": sid, "port": 0})
    port = (await asyncio.wait_for(peers.get(), 5))["payload"]["peer"]["port"]

    async def hello(ticket: str) -> bytes:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b'{"p2p":"%s","user":"ann","ticket":"%s"}\n' % (sid.encode(), ticket.encode()))
        line = await asyncio.wait_for(r.readline(), 5)
        w.close()
        return line

    assert b"wrong ticket" in await hello(p2p_ticket("guess", sid, "direct", "ann"))
    assert b"wrong ticket" in await hello(p2p_ticket(invite["token"], sid, "relay", "ann"))
    assert b'"user":"ann"' not in (good := await hello(p2p_ticket(invite["token"], sid, "direct", "ann")))
    assert b'"user":"bob"' in good  # the callee proved itself in turn
    assert b"already connected" in await hello(
        p2p_ticket(invite["token"], sid, "direct", "ann")
    )  # single use
    callee.cancel()


async def test_signal(make_hub: Any) -> None:
    hub = await make_hub(p2p_signals_per_window=3, p2p_signal_max_bytes=100)
    a, b = await _pair(hub)
    signals = b.subscribe("P2P_SIGNAL")
    await a.request("P2P_SIGNAL", {"to": "bob", "data": {"sdp": "v=0"}})
    assert (await asyncio.wait_for(signals.get(), 5))["payload"] == {"from": "ann", "data": {"sdp": "v=0"}}
    hub.app.p2p.signal("bob", "ann", {"ice": "candidate"})  # what the web door calls
    assert await _code(a.request("P2P_SIGNAL", {"to": "ann", "data": 1})) == 100
    assert await _code(a.request("P2P_SIGNAL", {"to": "bob", "data": "x" * 200})) == 100
    assert await _code(a.request("P2P_SIGNAL", {"to": "nobody", "data": 1})) == 105
    # Counted: the first signal, the one to nobody, this one; not the refused ones before.
    assert await _code(a.request("P2P_SIGNAL", {"to": "bob", "data": 1})) == 0
    assert await _code(a.request("P2P_SIGNAL", {"to": "bob", "data": 1})) == 106


def _game_env(hub: Harness, room_id: str, username: str, secret: str) -> dict[str, str]:
    """What the player app gives a game client (tui/launcher.py), for the SDK's P2P helpers."""
    return {
        "PLAYHUB_LOBBY_HOST": "127.0.0.1",
        "PLAYHUB_LOBBY_PORT": str(hub.app.lobby_port),
        "ROOM_ID": room_id,
        "PLAYER_USERNAME": username,
        "PLAYHUB_TICKET": player_ticket(secret, room_id, username),
    }


async def test_game_clients_connect_with_their_room_tickets(hub: Harness) -> None:
    game_id = await make_game(hub.app, "duel")
    host, guest, _, room_id = await start_two(hub, game_id, "ann", "bob")
    secret = hub.app.rooms.rooms[room_id].secret
    assert secret is not None
    lobby_invites = [host.subscribe("P2P_INVITE"), guest.subscribe("P2P_INVITE")]
    for try_direct, path in ((True, "direct"), (False, "relayed")):
        callee = asyncio.ensure_future(
            sdk_p2p.accept_peer(
                env=_game_env(hub, room_id, "bob", secret), try_direct=try_direct, listen_host="127.0.0.1"
            )
        )
        link_a = await sdk_p2p.connect_peer(
            "bob", env=_game_env(hub, room_id, "ann", secret), try_direct=try_direct, listen_host="127.0.0.1"
        )
        link_b = await callee
        assert (link_a.path, link_b.path, link_a.peer, link_b.peer) == (path, path, "bob", "ann")
        link_a.writer.write(b"move e2e4")
        assert await link_b.reader.readexactly(9) == b"move e2e4"
        await link_a.close()
        await link_b.close()
    # The invitations went to the game clients, not to the players' lobby connections.
    assert all(q.empty() for q in lobby_invites)


async def test_attach_errors(hub: Harness) -> None:
    game_id = await make_game(hub.app, "duel")
    host, guest, _, room_id = await start_two(hub, game_id, "ann", "bob")
    secret = hub.app.rooms.rooms[room_id].secret
    assert secret is not None
    carl = await hub.player("carl")
    c = await hub.lobby()

    def attach(user: str, ticket: str, room: str = room_id) -> Any:
        return c.request("P2P_ATTACH", {"room_id": room, "username": user, "ticket": ticket}, token=None)

    assert await _code(attach("ann", player_ticket(secret, room_id, "ann"), "nope-12345678")) == 103
    assert await _code(attach("ann", player_ticket("guess", room_id, "ann"))) == 102
    assert await _code(attach("carl", player_ticket(secret, room_id, "carl"))) == 102  # not in the match
    assert (
        await _code(carl.request("P2P_ATTACH", {"room_id": room_id, "username": "ann", "ticket": "x"})) == 105
    )
    assert await _code(attach("ann", player_ticket(secret, room_id, "ann"))) == 0
    assert await _code(attach("ann", player_ticket(secret, room_id, "ann"))) == 105  # once per connection
    # Bob's game is not attached: a game client reaches only other game clients of its match.
    assert await _code(c.request("P2P_REQUEST", {"to": "bob"}, token=None)) == 105
    assert (
        await _code(c.request("P2P_REQUEST", {"to": "bob", "room_id": "other-12345678"}, token=None)) == 102
    )
    assert await _code(c.request("P2P_LISTENING", {"session_id": "nope", "port": 1}, token=None)) == 103
    # A session of ann's lobby login is not the game client's business (outside its room).
    sid, _ = await _session(host)
    assert await _code(c.request("P2P_CANCEL", {"session_id": sid}, token=None)) == 103
    # The game client goes away before the session is decided: it fails as "went offline".
    d = await hub.lobby()
    await d.request(
        "P2P_ATTACH", {"room_id": room_id, "username": "bob", "ticket": player_ticket(secret, room_id, "bob")}
    )
    results = c.subscribe("P2P_RESULT")
    await c.request("P2P_REQUEST", {"to": "bob"}, token=None)
    await d.close()
    push = (await asyncio.wait_for(results.get(), 5))["payload"]
    assert push["outcome"] == "failed" and push["reason"] == "bob went offline"


async def test_sdk_without_the_environment_fails_clearly() -> None:
    with pytest.raises(P2PFailed, match="PLAYHUB_LOBBY_HOST"):
        await sdk_p2p.connect_peer("bob", env={})
    with pytest.raises(P2PFailed, match="PLAYHUB_TICKET"):
        await sdk_p2p.accept_peer(env={"PLAYHUB_LOBBY_HOST": "127.0.0.1", "PLAYHUB_LOBBY_PORT": "1"})

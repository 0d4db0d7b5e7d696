"""Every refusal of the seed-003 door, with its exact code, and its guards (sizes, rates, sessions, relays)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

from playhub.protocol.seed003 import KINDS, Seed003Code
from tests.helpers import REPO, Harness
from tests.lobby_helpers import make_game
from tests.publishing_helpers import begin, good_package, manifest
from tests.seed003_helpers import Seed003Client, Subscription, call

DOC = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")


def code(answer: dict[str, Any]) -> str:
    assert answer["ok"] is False and isinstance(answer["error"], str), answer
    return str(answer["code"])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def upload(dev: Seed003Client, name: str, version: str = "1.0.0", **over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": name,
        "version": version,
        "manifest": manifest(name),
        "zip_b64": b64(good_package(name)),
    }
    fields.update(over)
    return await dev.req("upload_game", **fields)


def test_every_kind_and_code_is_documented() -> None:
    section = DOC[DOC.index("## Seed 003 protocol") :]
    for kind in KINDS:
        assert f"`{kind}`" in section, kind
    for c in Seed003Code:
        assert f"| `{c.value}` |" in section, c


async def test_accounts_and_tokens(hub: Harness) -> None:
    dev_port, lobby_port = hub.app.dev_port, hub.app.lobby_port
    assert code(await call(dev_port, {"kind": "register", "username": "x1"})) == "BAD_REQUEST"
    assert (
        code(await call(dev_port, {"kind": "register", "username": "a", "password": "secret-pw"}))
        == "BAD_REQUEST"
    )
    assert code(await call(dev_port, {"kind": "register", "username": 5, "password": "x"})) == "BAD_REQUEST"
    dev = await Seed003Client(dev_port, "maker").register_and_login()
    taken = await call(dev_port, {"kind": "register", "username": "maker", "password": "secret-pw"})
    assert code(taken) == "USERNAME_TAKEN"
    # The same name is free on the lobby port (separate namespaces); "user" works as well as "username".
    assert (await call(lobby_port, {"kind": "register", "user": "maker", "password": "secret-pw"}))["ok"]
    wrong = await call(dev_port, {"kind": "login", "username": "maker", "password": "wrong-pw"})
    assert code(wrong) == "BAD_CREDENTIALS"

    assert code(await call(dev_port, {"kind": "my_games"})) == "NOT_LOGGED_IN"
    assert code(await call(dev_port, {"kind": "my_games", "token": "bogus"})) == "NOT_LOGGED_IN"
    assert code(await call(dev_port, {"kind": "my_games", "token": 12})) == "BAD_REQUEST"
    # A developer token on the lobby port.
    assert code(await call(lobby_port, {"kind": "list_games", "token": dev.token})) == "NOT_LOGGED_IN"
    # A token replaced by a newer login.
    old = dev.token
    newer = await call(dev_port, {"kind": "login", "username": "maker", "password": "secret-pw"})
    assert newer["ok"] and newer["token"] != old
    assert code(await call(dev_port, {"kind": "my_games", "token": old})) == "NOT_LOGGED_IN"
    assert (await call(dev_port, {"kind": "my_games", "token": newer["token"]}))["ok"]
    assert (await call(dev_port, {"kind": "logout", "token": "bogus"})) == {"ok": True, "msg": "logged out"}


async def test_unknown_kinds(hub: Harness) -> None:
    dev_port, lobby_port = hub.app.dev_port, hub.app.lobby_port
    assert code(await call(lobby_port, {"kind": "no_such_kind"})) == "UNKNOWN_KIND"
    assert code(await call(lobby_port, {"kind": 5})) == "UNKNOWN_KIND"
    assert code(await call(lobby_port, {"kind": "upload_game"})) == "UNKNOWN_KIND"  # developer port only
    assert code(await call(dev_port, {"kind": "list_games"})) == "UNKNOWN_KIND"  # lobby port only
    # Several lines on one connection are fine; the connection survives a refusal.
    reader, writer = await hub.raw(lobby_port)
    for line in ({"kind": "nope"}, {"kind": "list_rooms"}):
        writer.write((json.dumps(line) + "\n").encode())
    await writer.drain()
    assert json.loads(await reader.readline())["code"] == "UNKNOWN_KIND"
    assert json.loads(await reader.readline())["code"] == "NOT_LOGGED_IN"
    writer.close()


async def test_developer_refusals(hub: Harness) -> None:
    dev = await Seed003Client(hub.app.dev_port, "maker").register_and_login()
    other = await Seed003Client(hub.app.dev_port, "rival").register_and_login()
    missing = await dev.req("upload_game", name="g1", version="1.0.0")
    assert code(missing) == "BAD_REQUEST" and "manifest" in missing["error"]
    bad_version = await upload(dev, "g1", "1.0")
    assert code(bad_version) == "BAD_REQUEST" and bad_version["suggested"] == "1.0.0"
    assert code(await upload(dev, "g1", zip_b64="not base64!!")) == "BAD_REQUEST"
    no_manifest = base64.b64encode(b"PK\x05\x06" + b"\0" * 18).decode()  # an empty zip
    assert code(await upload(dev, "g1", zip_b64=no_manifest)) == "BAD_REQUEST"
    assert code(await upload(dev, "g2", manifest={"type": "cli", "max_players": "two"})) == "BAD_REQUEST"

    assert (await upload(dev, "g1"))["ok"]
    again = await upload(dev, "g1", "1.0.0")
    assert code(again) == "VERSION_NOT_NEWER" and again["latest"] == "1.0.0" and again["suggested"] == "1.0.1"
    assert code(await upload(other, "g1", "2.0.0")) == "FORBIDDEN"
    assert code(await other.req("version_hint", name="g1")) == "FORBIDDEN"
    assert code(await other.req("remove_game", name="g1")) == "FORBIDDEN"
    assert code(await dev.req("remove_game", name="nothing")) == "NOT_FOUND"
    assert code(await dev.req("version_hint", name="")) == "BAD_REQUEST"

    # An upload of that version already open from PlayHub's own client.
    native = await hub.dev()
    await native.login_dev("rival", "secret-pw")  # ends the seed-003 session of rival (a newer login)
    rival_game = await other.req("version_hint", name="g3")
    assert code(rival_game) == "NOT_LOGGED_IN"
    native_maker = await hub.dev()
    await native_maker.login_dev("maker", "secret-pw")
    game_id = (await native_maker.request("LIST_MY_GAMES"))["games"][0]["game_id"]
    await begin(native_maker, game_id, "1.1.0", good_package("g1"))
    relogged = await call(hub.app.dev_port, {"kind": "login", "username": "maker", "password": "secret-pw"})
    dev.token = relogged["token"]
    assert code(await upload(dev, "g1", "1.1.0")) == "CONFLICT"
    assert (await upload(dev, "g1", "1.2.0"))["ok"]


async def test_store_and_room_refusals(hub: Harness) -> None:
    lobby = hub.app.lobby_port
    game_id = await make_game(hub.app, "duel", max_players=2)
    await make_game(hub.app, "solo", max_players=1)
    ann = await Seed003Client(lobby, "ann").register_and_login()
    bob = await Seed003Client(lobby, "bob").register_and_login()
    cat = await Seed003Client(lobby, "cat").register_and_login()

    assert code(await ann.req("game_details", name="nothing")) == "NOT_FOUND"
    assert code(await ann.req("download_game", name="nothing")) == "NOT_FOUND"
    assert code(await ann.req("game_details", name="")) == "BAD_REQUEST"
    # make_game writes no archive: the store cannot serve the package.
    assert code(await ann.req("download_game", name="duel")) == "SERVER_ERROR"
    assert code(await ann.req("rate_game", name="duel", rating=9)) == "BAD_REQUEST"
    assert code(await ann.req("rate_game", name="duel", rating="five")) == "BAD_REQUEST"
    assert code(await ann.req("rate_game", name="duel", rating=5)) == "FORBIDDEN"

    assert code(await ann.req("create_room", game="nothing")) == "NOT_FOUND"
    assert code(await ann.req("create_room", game="duel", version="0.9.0")) == "BAD_STATE"
    room = await ann.req("create_room", game="duel")
    room_id = room["room_id"]
    assert code(await ann.req("create_room", game="solo")) == "BAD_STATE"  # already in a room
    assert code(await ann.req("join_room", room_id="")) == "BAD_REQUEST"
    assert code(await ann.req("join_room", room_id="nope")) == "NOT_FOUND"
    assert code(await ann.req("propose_start", room_id=room_id)) == "BAD_STATE"  # 1 of 2 players
    assert code(await ann.req("respond_start", room_id=room_id, accept=True)) == "BAD_STATE"  # the owner
    assert code(await bob.req("respond_start", room_id=room_id, accept=True)) == "FORBIDDEN"  # not a member
    assert code(await bob.req("player_ready", room_id=room_id)) == "BAD_STATE"  # not a member
    assert (await bob.req("join_room", room_id=room_id))["ok"]
    assert code(await cat.req("join_room", room_id=room_id)) == "BAD_STATE"  # full
    assert code(await bob.req("respond_start", room_id=room_id, accept=True)) == "BAD_STATE"  # no proposal
    assert code(await bob.req("propose_start", room_id=room_id)) == "FORBIDDEN"  # not the owner
    assert code(await bob.req("leave_room", room_id="nope")) == "NOT_FOUND"
    assert (await cat.req("leave_room", room_id=room_id))["ok"]  # not a member: fine, as in seed 003
    assert code(await cat.req("subscribe_room", room_id="nope")) == "NOT_FOUND"

    # A refusal shows in the room as seed 003 shows it.
    sub = await Subscription.open(ann, room_id)
    assert (await ann.req("propose_start", room_id=room_id))["ok"]
    await sub.until(lambda r: r["start"]["state"] == "proposed")
    assert (await bob.req("respond_start", room_id=room_id, accept=False))["ok"]
    rejected = await sub.until(lambda r: r["start"]["state"] == "rejected")
    assert rejected["start"] == {"state": "rejected", "by": "ann", "rejected_by": "bob"}
    await sub.close()

    # A session connected through PlayHub's own client has its own pushes: no seed-003 stream for it.
    native = await hub.player("dan")
    await native.request("CREATE_ROOM", {"game_id": game_id})
    token = native.token
    dan = Seed003Client(lobby, "dan")
    dan.token = token
    assert code(await dan.req("subscribe_room", room_id=room_id)) == "BAD_STATE"


async def test_too_large(make_hub: Any) -> None:
    hub: Harness = await make_hub(max_frame_bytes=1024, seed003_max_line_bytes=8192, max_package_bytes=2000)
    dev = await Seed003Client(hub.app.dev_port, "maker").register_and_login()
    assert (
        code(await upload(dev, "g1", zip_b64="A" * 3000)) == "TOO_LARGE"
    )  # a package over max_package_bytes
    # A line over the developer port's limit: answered, then the connection is closed.
    reader, writer = await hub.raw(hub.app.dev_port)
    writer.write(b'{"kind": "upload_game", "zip_b64": "' + b"A" * 9000 + b'"}\n')
    await writer.drain()
    answer = json.loads(await asyncio.wait_for(reader.readline(), 10))
    assert answer["ok"] is False and answer["code"] == "TOO_LARGE"
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    # The lobby port keeps max_frame_bytes for every line.
    reader, writer = await hub.raw(hub.app.lobby_port)
    writer.write(b'{"kind": "list_games", "x": "' + b"A" * 2000 + b'"}\n')
    await writer.drain()
    answer = json.loads(await asyncio.wait_for(reader.readline(), 10))
    assert answer["code"] == "TOO_LARGE"
    writer.close()
    assert (await dev.req("my_games"))["ok"]  # still serving


async def test_download_over_the_line_limit(make_hub: Any) -> None:
    hub: Harness = await make_hub(seed003_max_download_bytes=100)
    dev = await Seed003Client(hub.app.dev_port, "maker").register_and_login()
    assert (await upload(dev, "g1"))["ok"]
    ann = await Seed003Client(hub.app.lobby_port, "ann").register_and_login()
    assert code(await ann.req("download_game", name="g1")) == "TOO_LARGE"


async def test_rate_limited(make_hub: Any) -> None:
    hub: Harness = await make_hub(seed003_requests_per_ip=3)
    port = hub.app.lobby_port
    for _ in range(3):
        assert (await call(port, {"kind": "list_rooms"}))["code"] == "NOT_LOGGED_IN"
    limited = await call(port, {"kind": "list_rooms"})
    assert code(limited) == "RATE_LIMITED" and limited["retry_after_s"] >= 1


async def test_idle_session_leaves_its_room(make_hub: Any) -> None:
    hub: Harness = await make_hub(
        seed003_idle_timeout_s=0.3, seed003_sweep_interval_s=0.1, disconnect_grace_s=0.3
    )
    await make_game(hub.app, "duel", max_players=2)
    ann = await Seed003Client(hub.app.lobby_port, "ann").register_and_login()
    bob = await Seed003Client(hub.app.lobby_port, "bob").register_and_login()
    room_id = (await ann.req("create_room", game="duel"))["room_id"]
    assert (await bob.req("join_room", room_id=room_id))["ok"]
    sub = await Subscription.open(ann, room_id)  # ann stays connected through her stream; bob goes quiet
    gone = await sub.until(lambda r: r["players"] == ["ann"], timeout=10)
    assert gone["owner"] == "ann"
    # bob's token still works: he can come back.
    assert (await bob.req("join_room", room_id=room_id))["ok"]
    await sub.close()


async def test_relay_limits(make_hub: Any, tmp_path: Path) -> None:
    hub: Harness = await make_hub(seed003_relay_wait_s=0.3, seed003_relay_max_clients=1)
    await make_game(hub.app, "duel", max_players=2)
    ann = await Seed003Client(hub.app.lobby_port, "ann").register_and_login()
    room = await ann.req("create_room", game="duel")
    # No match yet: a connection waits seed003_relay_wait_s, then is closed; a second one at once.
    r1, w1 = await asyncio.open_connection(room["host"], room["port"])
    r2, w2 = await asyncio.open_connection(room["host"], room["port"])
    assert await asyncio.wait_for(r2.read(), 5) == b""
    assert await asyncio.wait_for(r1.read(), 5) == b""
    w1.close()
    w2.close()
    # The relay closes with the room.
    assert (await ann.req("leave_room", room_id=room["room_id"]))["ok"]
    for _ in range(50):
        try:
            _r, w = await asyncio.open_connection(room["host"], room["port"])
        except OSError:
            break
        w.close()
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the relay of a closed room still listens")

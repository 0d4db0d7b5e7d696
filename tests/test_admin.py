"""Roles and permissions, bans, kicks, moderation and the audit log, over the lobby listener."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest

from playhub.client import Client
from playhub.protocol.codes import Code
from playhub.protocol.errors import PlayHubError
from tests.helpers import Harness
from tests.lobby_helpers import make_game, start_two
from tests.store_helpers import publish

# Every privileged command, with a payload that would be valid, and the key it needs.
PRIVILEGED: list[tuple[str, dict[str, Any], str]] = [
    ("ADMIN_ROLES_LIST", {}, "roles.manage"),
    ("ADMIN_ROLE_CREATE", {"name": "helper"}, "roles.manage"),
    ("ADMIN_ROLE_UPDATE_PERMISSIONS", {"role": "player", "permissions": []}, "roles.manage"),
    ("ADMIN_ROLE_DELETE", {"role": "helper", "replacement_role": "player"}, "roles.manage"),
    ("ADMIN_USERS_LIST", {}, "users.moderate"),
    ("ADMIN_USER_SET_ROLE", {"username": "alice", "role": "admin"}, "users.manage"),
    ("ADMIN_USER_BAN", {"username": "alice"}, "users.moderate"),
    ("ADMIN_USER_UNBAN", {"username": "alice"}, "users.moderate"),
    ("ADMIN_USER_KICK", {"username": "alice"}, "users.moderate"),
    ("ADMIN_GAME_DELIST", {"game_id": "g-x"}, "games.moderate"),
    ("ADMIN_ANNOUNCE", {"message": "hello"}, "server.announce"),
    ("ADMIN_CHAT_MUTE", {"channel": "general", "username": "alice"}, "chat.moderate"),
    ("ADMIN_CHAT_UNMUTE", {"channel": "general", "username": "alice"}, "chat.moderate"),
    ("ADMIN_AUDIT", {}, "audit.read"),
    ("CREATE_ROOM", {"game_id": "g-x"}, "rooms.create"),
    ("ADD_REVIEW", {"game_id": "g-x", "score": 5, "comment": ""}, "store.review"),
    ("CHAT_SEND", {"channel": "general", "text": "hi"}, "chat.send"),
    ("CHAT_FILE_BEGIN", {"channel": "general", "filename": "a.txt", "size_bytes": 1}, "chat.send"),
]


async def _code(coro: Any) -> int:
    try:
        await coro
    except PlayHubError as exc:
        return int(exc.code)
    return 0


async def _admin(hub: Harness, name: str = "root") -> Client:
    c = await hub.player(name)
    await hub.app.admin.set_user_role("console:test", name, "admin")
    return c


async def test_every_privileged_command_is_refused_without_its_permission(hub: Harness) -> None:
    root = await _admin(hub)
    await root.request("ADMIN_ROLE_CREATE", {"name": "mute", "permissions": []})
    nobody = await hub.player("nobody")
    await root.request("ADMIN_USER_SET_ROLE", {"username": "nobody", "role": "mute"})
    mod = await hub.player("mod")
    await root.request("ADMIN_USER_SET_ROLE", {"username": "mod", "role": "moderator"})
    player = await hub.player("alice")
    moderator_keys = set((await mod.request("MY_PERMISSIONS"))["permissions"])
    assert {"users.moderate", "games.moderate", "chat.moderate", "audit.read"} <= moderator_keys
    for command, payload, key in PRIVILEGED:
        for who in (nobody, player, mod):
            held = set((await who.request("MY_PERMISSIONS"))["permissions"])
            if key in held:
                continue
            try:
                await who.request(command, payload)
            except PlayHubError as exc:
                assert exc.code == Code.FORBIDDEN, (command, who.username)
                assert key in exc.message
            else:
                pytest.fail(f"{command} passed for {who.username} without {key}")
    # The permission is checked before the payload: a bad payload still answers 102.
    assert await _code(player.request("ADMIN_USER_BAN", {"nonsense": 1})) == Code.FORBIDDEN
    # Without a token: 101; with a developer token: 102 (wrong role).
    anon = await hub.lobby()
    assert await _code(anon.request("ADMIN_AUDIT")) == Code.UNAUTHORIZED


async def test_roles_are_created_edited_and_deleted_with_a_replacement(hub: Harness) -> None:
    root = await _admin(hub)
    bob = await hub.player("bob")
    listed = await root.request("ADMIN_ROLES_LIST")
    names = {r["name"]: r for r in listed["roles"]}
    assert {"player", "moderator", "admin"} <= set(names) and all(names[n]["is_system"] for n in names)
    assert set(names["admin"]["permissions"]) == set(listed["permission_keys"])
    assert await _code(root.request("ADMIN_ROLE_CREATE", {"name": "Bad Name!"})) == Code.INVALID_REQUEST
    assert await _code(root.request("ADMIN_ROLE_CREATE", {"name": "x", "permissions": ["nope"]})) == 100
    await root.request("ADMIN_ROLE_CREATE", {"name": "Helper", "permissions": ["audit.read"]})
    assert await _code(root.request("ADMIN_ROLE_CREATE", {"name": "helper"})) == Code.CONFLICT
    changed = asyncio.ensure_future(bob.wait_push("PERMISSIONS_CHANGED"))
    await root.request("ADMIN_USER_SET_ROLE", {"username": "bob", "role": "helper"})
    assert await asyncio.wait_for(changed, 5) == {"role": "helper", "permissions": ["audit.read"]}
    assert (await bob.request("ADMIN_AUDIT"))["entries"][0]["action"] == "user_set_role"
    # Editing the role reaches its live users too.
    changed = asyncio.ensure_future(bob.wait_push("PERMISSIONS_CHANGED"))
    await root.request("ADMIN_ROLE_UPDATE_PERMISSIONS", {"role": "helper", "permissions": ["chat.send"]})
    assert (await asyncio.wait_for(changed, 5))["permissions"] == ["chat.send"]
    assert await _code(bob.request("ADMIN_AUDIT")) == Code.FORBIDDEN
    assert (
        await _code(root.request("ADMIN_ROLE_UPDATE_PERMISSIONS", {"role": "ghost", "permissions": []}))
        == 103
    )
    assert (
        await _code(root.request("ADMIN_ROLE_UPDATE_PERMISSIONS", {"role": "admin", "permissions": []}))
        == 105
    )
    assert (
        await _code(root.request("ADMIN_ROLE_DELETE", {"role": "player", "replacement_role": "helper"}))
        == 105
    )
    assert (
        await _code(root.request("ADMIN_ROLE_DELETE", {"role": "helper", "replacement_role": "helper"}))
        == 100
    )
    assert (
        await _code(root.request("ADMIN_ROLE_DELETE", {"role": "helper", "replacement_role": "ghost"})) == 103
    )
    assert (
        await _code(root.request("ADMIN_ROLE_DELETE", {"role": "ghost", "replacement_role": "player"})) == 103
    )
    assert await _code(root.request("ADMIN_USER_SET_ROLE", {"username": "ghost", "role": "player"})) == 103
    assert await _code(root.request("ADMIN_USER_SET_ROLE", {"username": "bob", "role": "ghost"})) == 103
    changed = asyncio.ensure_future(bob.wait_push("PERMISSIONS_CHANGED"))
    moved = await root.request("ADMIN_ROLE_DELETE", {"role": "helper", "replacement_role": "moderator"})
    assert moved == {"role": "helper", "users_moved": 1}
    assert (await asyncio.wait_for(changed, 5))["role"] == "moderator"
    who = await bob.request("WHOAMI")
    assert who["user_role"] == "moderator" and "users.moderate" in who["permissions"]
    actions = [e["action"] for e in (await root.request("ADMIN_AUDIT", {"limit": 3}))["entries"]]
    assert actions == ["role_delete", "user_set_role", "role_update_permissions"][:1] + actions[1:]
    assert await _code(root.request("ADMIN_AUDIT", {"limit": 0})) == Code.INVALID_REQUEST


async def test_ban_closes_a_player_in_a_match_and_refuses_logins(hub: Harness) -> None:
    root = await _admin(hub)
    game_id = await make_game(hub.app, "duel")
    host, guest, _answer, room_id = await start_two(hub, game_id)
    closed = asyncio.ensure_future(host.wait_push("SESSION_CLOSED"))
    ended = asyncio.ensure_future(guest.wait_push("GAME_ENDED"))
    handed = asyncio.ensure_future(guest.wait_push("ROOM_UPDATED", lambda p: p["room"]["host"] == "bob"))
    await root.request("ADMIN_USER_BAN", {"username": "alice", "reason": "cheating"})
    assert await asyncio.wait_for(closed, 5) == {"kind": "banned", "reason": "account disabled: cheating"}
    await asyncio.wait_for(host.wait_closed(), 5)
    assert (await asyncio.wait_for(ended, 10))["reason"] == "abandoned"
    assert (await asyncio.wait_for(handed, 5))["room"]["players"] == ["bob"]
    again = await hub.lobby()
    with pytest.raises(PlayHubError) as info:
        await again.login_player("alice", "secret-pw")
    assert info.value.code == Code.FORBIDDEN and info.value.message == "account disabled"
    assert await _code(again.request("WHOAMI", token=host.token)) == Code.UNAUTHORIZED
    assert (
        await _code(again.login_player("alice", "wrong-pw")) == Code.UNAUTHORIZED
    )  # nothing told to guessers
    users = (await root.request("ADMIN_USERS_LIST", {"status": "disabled"}))["users"]
    assert [(u["username"], u["status"], u["reason"]) for u in users] == [("alice", "disabled", "cheating")]
    assert await _code(root.request("ADMIN_USER_BAN", {"username": "alice"})) == Code.BAD_STATE
    assert await _code(root.request("ADMIN_USER_BAN", {"username": "ghost"})) == Code.NOT_FOUND
    assert await _code(root.request("ADMIN_USER_BAN", {"username": "root"})) == Code.BAD_STATE
    assert await _code(root.request("ADMIN_USER_BAN", {"username": "bob", "kind": "x"})) == 100
    long = "x" * (hub.app.settings.ban_reason_max + 1)
    assert await _code(root.request("ADMIN_USER_BAN", {"username": "bob", "reason": long})) == 100
    await root.request("ADMIN_USER_UNBAN", {"username": "alice"})
    assert await _code(root.request("ADMIN_USER_UNBAN", {"username": "alice"})) == Code.BAD_STATE
    await again.login_player("alice", "secret-pw")
    entries = (await root.request("ADMIN_AUDIT"))["entries"]
    assert [(e["actor"], e["action"], e["target"]) for e in entries[:2]] == [
        ("root", "user_unban", "player:alice"),
        ("root", "user_ban", "player:alice"),
    ]


async def test_kick_ends_the_session_but_not_the_account(hub: Harness) -> None:
    root = await _admin(hub)
    bob = await hub.player("bob")
    closed = asyncio.ensure_future(bob.wait_push("SESSION_CLOSED"))
    assert (await root.request("ADMIN_USER_KICK", {"username": "bob", "reason": "spam"}))[
        "sessions_ended"
    ] == 1
    assert await asyncio.wait_for(closed, 5) == {"kind": "kicked", "reason": "kicked by root: spam"}
    await asyncio.wait_for(bob.wait_closed(), 5)
    assert await _code(root.request("ADMIN_USER_KICK", {"username": "ghost"})) == Code.NOT_FOUND
    back = await hub.lobby()
    await back.login_player("bob", "secret-pw")


async def test_ban_of_a_developer_stops_an_upload_session(hub: Harness) -> None:
    root = await _admin(hub)
    dev = await hub.developer("maker")
    closed = asyncio.ensure_future(dev.wait_push("SESSION_CLOSED"))
    await root.request("ADMIN_USER_BAN", {"username": "maker", "kind": "developer"})
    assert (await asyncio.wait_for(closed, 5))["kind"] == "banned"
    await asyncio.wait_for(dev.wait_closed(), 5)
    again = await hub.dev()
    assert await _code(again.login_dev("maker", "secret-pw")) == Code.FORBIDDEN


async def test_delist_and_announce(hub: Harness) -> None:
    root = await _admin(hub)
    game_id = await make_game(hub.app, "duel")
    alice = await hub.player("alice")
    dev = await hub.developer("maker")
    assert any(g["game_id"] == game_id for g in (await alice.request("LIST_GAMES"))["games"])
    await root.request("ADMIN_GAME_DELIST", {"game_id": game_id})
    assert not any(g["game_id"] == game_id for g in (await alice.request("LIST_GAMES"))["games"])
    assert await _code(root.request("ADMIN_GAME_DELIST", {"game_id": "g-none"})) == Code.NOT_FOUND
    heard = [asyncio.ensure_future(c.wait_push("ANNOUNCEMENT")) for c in (alice, dev)]
    assert (await root.request("ADMIN_ANNOUNCE", {"message": " restart at noon "}))["recipients"] == 3
    for fut in heard:
        assert await asyncio.wait_for(fut, 5) == {"message": "restart at noon", "by": "root"}
    assert await _code(root.request("ADMIN_ANNOUNCE", {"message": "  "})) == Code.INVALID_REQUEST
    too_long = "x" * (hub.app.settings.announcement_max + 1)
    assert await _code(root.request("ADMIN_ANNOUNCE", {"message": too_long})) == Code.INVALID_REQUEST


async def test_users_list_pages_and_filters(hub: Harness) -> None:
    root = await _admin(hub)
    for name in ("bea", "cal", "dan"):
        await hub.player(name)
    first = await root.request("ADMIN_USERS_LIST", {"limit": 2})
    assert [u["username"] for u in first["users"]] == ["bea", "cal"] and first["more"]
    rest = await root.request("ADMIN_USERS_LIST", {"after": "cal"})
    assert [u["username"] for u in rest["users"]] == ["dan", "root"] and not rest["more"]
    assert rest["users"][1]["role"] == "admin" and rest["users"][1]["online"]
    assert await _code(root.request("ADMIN_USERS_LIST", {"status": "gone"})) == Code.INVALID_REQUEST
    assert await _code(root.request("ADMIN_USERS_LIST", {"limit": 100_000})) == Code.INVALID_REQUEST


async def test_mute_in_chat_and_a_ban_during_chat(hub: Harness) -> None:
    mod = await hub.player("mod")
    await hub.app.admin.set_user_role("console:test", "mod", "moderator")
    alice, bob = await hub.player("alice"), await hub.player("bob")
    for c in (mod, alice, bob):
        await c.request("CHAT_OPEN")
    await alice.request("CHAT_SEND", {"channel": "general", "text": "hello"})
    muted = await mod.request(
        "ADMIN_CHAT_MUTE", {"channel": "general", "username": "alice", "duration_s": 60}
    )
    assert muted["until"] is not None
    assert await _code(alice.request("CHAT_SEND", {"channel": "general", "text": "again"})) == Code.FORBIDDEN
    await mod.request("ADMIN_CHAT_UNMUTE", {"channel": "general", "username": "alice"})
    await alice.request("CHAT_SEND", {"channel": "general", "text": "back"})
    assert await _code(mod.request("ADMIN_CHAT_MUTE", {"channel": "nowhere", "username": "alice"})) == 103
    assert await _code(mod.request("ADMIN_CHAT_MUTE", {"channel": "general", "username": "ghost"})) == 103
    bad = {"channel": "general", "username": "alice", "duration_s": -1}
    assert await _code(mod.request("ADMIN_CHAT_MUTE", bad)) == Code.INVALID_REQUEST
    # A ban in the middle of a conversation: the chat says so, the banned user is gone from it.
    marked = asyncio.ensure_future(bob.wait_push("CHAT_MESSAGE", lambda p: p["system"]))
    left = asyncio.ensure_future(bob.wait_push("CHAT_MEMBER_LEFT", lambda p: p["username"] == "alice"))
    await mod.request("ADMIN_USER_BAN", {"username": "alice", "reason": "spam"})
    assert (await asyncio.wait_for(marked, 5))["text"] == "alice was banned"
    await asyncio.wait_for(left, 5)
    await asyncio.wait_for(alice.wait_closed(), 5)
    actions = [e["action"] for e in (await mod.request("ADMIN_AUDIT"))["entries"]]
    assert actions[:3] == ["user_ban", "chat_unmute", "chat_mute"]


async def test_a_ban_stops_a_running_download(make_hub: Any) -> None:
    hub: Harness = await make_hub(close_flush_timeout_s=0.5)
    root = await _admin(hub)
    game_id = await publish(hub.app, "bigone", payload_bytes=24 << 20)
    reader, writer = await asyncio.open_connection("127.0.0.1", hub.app.lobby_port)
    creds = {"username": "dora", "password": "secret-pw"}
    writer.write(json.dumps({"type": "REGISTER_PLAYER", "payload": creds, "id": 1}).encode() + b"\n")
    answer = json.loads(await reader.readline())
    while "status" not in answer:  # pushes (presence) may come first
        answer = json.loads(await reader.readline())
    assert answer["status"] == "ok", answer
    token = answer["payload"]["session_token"]
    begin = {"type": "DOWNLOAD_BEGIN", "token": token, "payload": {"game_id": game_id}, "id": 2}
    writer.write(json.dumps(begin).encode() + b"\n")
    await writer.drain()
    for _ in range(100):  # the stream runs, held back by this client not reading
        if hub.app.downloads.active:
            break
        await asyncio.sleep(0.05)
    assert hub.app.downloads.active
    await root.request("ADMIN_USER_BAN", {"username": "dora"})
    for _ in range(100):
        if not hub.app.downloads.active:
            break
        await asyncio.sleep(0.05)
    assert not hub.app.downloads.active
    with contextlib.suppress(ConnectionError):
        while await asyncio.wait_for(
            reader.read(1 << 20), 10
        ):  # the connection ends (cut: it was not reading)
            pass
    writer.close()

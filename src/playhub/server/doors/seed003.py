"""Seed 003's own protocol served on the developer and lobby listeners, mapped onto the platform's services.

The router hands every NDJSON object that has a ``kind`` and no ``type`` (other than the game servers'
``game_finished``) to :meth:`Seed003Door.serve`. The door decodes it into the kind's Struct
(``protocol/seed003.py``), checks the token against the listener's role, calls the same services the native
handlers call and answers ``{"ok": true, ...}`` or ``{"ok": false, "code", "error", ...}``. Games are named, not
numbered, in seed 003: the door looks the name up once per request.

Sessions. Seed 003's clients open one connection per request, so a session cannot live on a connection. Each
seed-003 session is bound instead to a :class:`Mailbox`, a peer that stands for "this client" in the session
registry: it counts as connected while the client holds a ``subscribe_room`` connection or made a request within
``seed003_idle_timeout_s``, and it receives the platform's pushes to the player, turning ``ROOM_UPDATED`` into
seed 003's ``{"event": "room_update", "room": ...}`` on the subscription connections (other pushes have no seed-003
form and are dropped).

Game address. Seed 003 hands the game server's address out with the room; PlayHub starts the server when the vote
passes. Each room a seed-003 client creates, joins or watches gets a :class:`GameRelay` whose port is that address
(``doors/relay.py``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from playhub import packages
from playhub.protocol import envelope
from playhub.protocol.errors import Conflict, PlayHubError, RateLimited, Unauthorized
from playhub.protocol.seed003 import (
    FROM_CODE,
    KINDS,
    CreateRoom,
    Credentials,
    Listeners,
    NameRef,
    RateGame,
    Request,
    RespondStart,
    RoomRef,
    Seed003Code,
    Seed003Error,
    UploadGame,
    decode,
    error_answer,
    room_update,
)
from playhub.server.context import Services
from playhub.server.doors.relay import GameRelay
from playhub.services.quotas import WindowLimiter, ip_key
from playhub.services.room_seats import room_info
from playhub.services.room_states import Room
from playhub.services.sessions import Principal, Role
from playhub.store.blobs import BlobStore
from playhub.supervisor.probe import probe_address

if TYPE_CHECKING:
    from playhub.server.connection import Connection
    from playhub.server.router import Listener


class DoorServices(Services, Protocol):
    """What the door uses of the composition root: the services, the blob store, and task ownership."""

    blobs: BlobStore

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


log = logging.getLogger("playhub.seed003")

C = Seed003Code
_ROOM_UPDATED = b'"ROOM_UPDATED"'
_STATUS = {"ONLINE": "active", "OFFLINE": "removed"}


def _platform(exc: PlayHubError) -> Seed003Error:
    code = FROM_CODE.get(int(exc.code), C.SERVER_ERROR)
    extra: dict[str, Any] = {}
    if isinstance(exc, RateLimited):
        extra["retry_after_s"] = exc.retry_after_s
    return Seed003Error(code, exc.message, **extra)


class Mailbox:
    """The peer a seed-003 session is bound to (see the module docstring)."""

    __slots__ = ("door", "remote_ip", "last_seen", "streams", "_closed")

    def __init__(self, door: Seed003Door, remote_ip: str) -> None:
        self.door = door
        self.remote_ip = remote_ip
        self.last_seen = time.monotonic()
        self.streams: dict[Connection, str] = {}  # subscribe_room connection -> its room id
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def touch(self, remote_ip: str) -> None:
        self.last_seen = time.monotonic()
        self.remote_ip = remote_ip

    def idle(self, now: float) -> bool:
        for conn in [c for c in self.streams if c.closed]:
            del self.streams[conn]
        return not self.streams and now - self.last_seen >= self.door.settings.seed003_idle_timeout_s

    def push(self, type_: str, payload: Any) -> None:
        if type_ == "ROOM_UPDATED" and isinstance(payload, dict):
            self._room_updated(payload.get("room"))

    def send(self, encoded: bytes) -> None:
        if _ROOM_UPDATED not in encoded[:64]:
            return  # no seed-003 form
        try:
            msg = envelope.decode_json(encoded)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return
        if (
            isinstance(msg, dict)
            and msg.get("type") == "ROOM_UPDATED"
            and isinstance(msg.get("payload"), dict)
        ):
            self._room_updated(msg["payload"].get("room"))

    def _room_updated(self, snapshot: Any) -> None:
        if not isinstance(snapshot, dict) or not self.streams:
            return
        room_id = snapshot.get("room_id")
        line: bytes | None = None
        for conn, watched in list(self.streams.items()):
            if watched != room_id or conn.closed:
                continue
            if line is None:
                line = envelope.encode(room_update(self.door.view(snapshot)))
            conn.send(line)

    def close(self) -> None:
        self._closed = True
        for conn in list(self.streams):
            conn.close()
        self.streams.clear()


class Seed003Door:
    def __init__(self, app: DoorServices) -> None:
        self.app = app
        self.settings = app.settings
        s = app.settings
        self.requests = WindowLimiter(s.seed003_requests_per_ip, s.seed003_request_window_s)
        self._mailboxes: dict[tuple[Role, int], Mailbox] = {}
        self._relays: dict[str, GameRelay] = {}
        self._relay_opening: dict[str, asyncio.Future[GameRelay]] = {}
        self._rejected: dict[str, str] = {}  # room id -> who refused the last start proposal
        self._handlers = {
            "register": self._register,
            "login": self._login,
            "logout": self._logout,
            "upload_game": self._upload_game,
            "version_hint": self._version_hint,
            "my_games": self._my_games,
            "remove_game": self._remove_game,
            "list_games": self._list_games,
            "game_details": self._game_details,
            "download_game": self._download_game,
            "rate_game": self._rate_game,
            "list_rooms": self._list_rooms,
            "create_room": self._create_room,
            "join_room": self._join_room,
            "leave_room": self._leave_room,
            "player_ready": self._player_ready,
            "player_unready": self._player_unready,
            "propose_start": self._propose_start,
            "respond_start": self._respond_start,
            "subscribe_room": self._subscribe_room,
            "unsubscribe_room": self._unsubscribe_room,
        }
        assert set(self._handlers) == set(KINDS)

    # --- lifecycle -----------------------------------------------------------------------------------------------
    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.seed003_sweep_interval_s)
            try:
                await self.sweep()
            except Exception:  # one failure must not end the sweeping for good
                log.exception("seed-003 sweep failed")

    async def sweep(self) -> None:
        """Idle sessions count as disconnected; relays of rooms that closed are closed."""
        now = time.monotonic()
        for key, box in list(self._mailboxes.items()):
            if box.idle(now):
                self._drop_mailbox(key, box)
        for room_id, relay in list(self._relays.items()):
            if room_id not in self._room_ids():
                self._relays.pop(room_id, None)
                self._rejected.pop(room_id, None)
                await relay.close()

    def _drop_mailbox(self, key: tuple[Role, int], box: Mailbox) -> None:
        if self._mailboxes.get(key) is box:
            del self._mailboxes[key]
        box.close()
        self.app.bus.drop_peer(box)
        self.app.sessions.peer_closed(box)

    async def close(self) -> None:
        for key, box in list(self._mailboxes.items()):
            self._drop_mailbox(key, box)
        for relay in list(self._relays.values()):
            await relay.close()
        self._relays.clear()

    # --- dispatch ------------------------------------------------------------------------------------------------
    async def serve(self, conn: Connection, listener: Listener, obj: dict[str, Any]) -> None:
        """Answer one seed-003 line (the router calls this); never raises."""
        answer = await self.handle(conn, listener, obj)
        try:
            await conn.send_flow(envelope.encode(answer))
        except ConnectionError:
            pass

    async def handle(self, conn: Connection, listener: Listener, obj: dict[str, Any]) -> dict[str, Any]:
        kind = obj.get("kind")
        try:
            self._admit(conn)
            if not isinstance(kind, str) or kind not in KINDS:
                raise Seed003Error(C.UNKNOWN_KIND, f"unknown kind: {str(kind)[:40]}")
            where = Listeners.DEV if listener.name == "DEV" else Listeners.LOBBY
            if not KINDS[kind][1] & where:
                port = "developer" if where is Listeners.DEV else "lobby"
                raise Seed003Error(C.UNKNOWN_KIND, f"unknown kind on the {port} port: {kind}")
            role = Role.DEVELOPER if where is Listeners.DEV else Role.PLAYER
            req = decode(kind, obj)
            return await self._handlers[kind](conn, role, req)
        except Seed003Error as exc:
            return error_answer(exc.code, exc.message, **exc.extra)
        except PlayHubError as exc:
            err = _platform(exc)
            return error_answer(err.code, err.message, **err.extra)
        except Exception:
            log.exception("seed-003 %s failed", str(kind)[:40])
            return error_answer(C.SERVER_ERROR, "internal server error")

    def _admit(self, conn: Connection) -> None:
        try:
            self.requests.admit(ip_key(conn.remote_ip))
        except RateLimited as exc:
            raise Seed003Error(
                C.RATE_LIMITED, "too many requests from this address: try again later", **exc.payload
            ) from None

    # --- sessions ------------------------------------------------------------------------------------------------
    def _user(self, conn: Connection, role: Role, token: str | None) -> Principal:
        """The session behind ``token`` for this listener's role; any failure is NOT_LOGGED_IN, as in seed 003."""
        sessions = self.app.sessions
        try:
            principal = sessions.resolve(token, role, None)
            key = (role, principal.account_id)
            box = self._mailboxes.get(key)
            if principal.peer is None or principal.peer.closed:
                if box is None or box.closed:
                    box = self._mailboxes[key] = Mailbox(self, conn.remote_ip)
                principal = sessions.resolve(token, role, box)
        except PlayHubError as exc:
            raise Seed003Error(C.NOT_LOGGED_IN, exc.message) from None
        if box is not None:
            box.touch(conn.remote_ip)
        return principal

    @staticmethod
    def _username(req: Credentials) -> str:
        name = req.username if req.username is not None else req.user
        if not name or not req.password:
            raise Seed003Error(C.BAD_REQUEST, "username and password are required")
        return name.strip()

    async def _register(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, Credentials)
        name = self._username(req)
        self.app.registrations.admit(ip_key(conn.remote_ip))
        try:
            user = await self.app.accounts.register(role, name, req.password.strip(), None)
        except Conflict as exc:
            raise Seed003Error(C.USERNAME_TAKEN, exc.message) from None
        # Seed 003's register does not log in: end the session the platform opened with the account.
        await self.app.accounts.logout(user)
        return {"ok": True, "msg": "registered", "user": user.username, "role": role.value}

    async def _login(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, Credentials)
        name = self._username(req)
        box = Mailbox(self, conn.remote_ip)
        try:
            user = await self.app.accounts.login(role, name, req.password.strip(), box, conn.remote_ip)
        except Unauthorized as exc:
            raise Seed003Error(C.BAD_CREDENTIALS, exc.message) from None
        key = (role, user.account_id)
        old = self._mailboxes.get(key)
        self._mailboxes[key] = box
        if old is not None and old is not box:
            old.close()  # its session was replaced by this login
        return {
            "ok": True,
            "token": user.token,
            "user": user.username,
            "role": role.value,
            "msg": "logged in",
        }

    async def _logout(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        # As in seed 003, logging out always succeeds; a token that still names a session ends it.
        with contextlib.suppress(PlayHubError):
            user = self.app.sessions.resolve(req.token, role, None)
            box = self._mailboxes.pop((role, user.account_id), None)
            await self.app.accounts.logout(user)
            if box is not None:
                box.close()
        return {"ok": True, "msg": "logged out"}

    # --- developer: games and versions ----------------------------------------------------------------------------
    async def _game(self, name: str) -> dict[str, Any]:
        name = name.strip()
        if not name:
            raise Seed003Error(C.BAD_REQUEST, "the game name is required")
        game = await self.app.catalog.find_by_name(name)
        if game is None:
            raise Seed003Error(C.NOT_FOUND, f"no game named '{name[:80]}'")
        return game

    async def _owned(self, dev: Principal, name: str) -> dict[str, Any]:
        game = await self._game(name)
        if game["developer_id"] != dev.account_id:
            raise Seed003Error(C.FORBIDDEN, "you are not the author of this game")
        return game

    async def _upload_game(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, UploadGame)
        dev = self._user(conn, role, req.token)
        name, version = req.name.strip(), req.version.strip()
        missing = [
            k
            for k, v in (
                ("name", name),
                ("version", version),
                ("manifest", req.manifest),
                ("zip_b64", req.zip_b64),
            )
            if not v
        ]
        if missing:
            raise Seed003Error(C.BAD_REQUEST, f"missing fields: {', '.join(missing)}")
        try:
            packages.parse_version(version)
        except packages.PackageError as exc:
            raise Seed003Error(C.BAD_REQUEST, str(exc), suggested="1.0.0") from None
        s = self.settings
        limit = s.max_package_bytes
        if len(req.zip_b64) > 4 * ((limit + 2) // 3):
            raise Seed003Error(C.TOO_LARGE, f"the package is larger than the limit of {limit} bytes")
        try:
            data = await asyncio.to_thread(base64.b64decode, req.zip_b64, validate=True)
        except (binascii.Error, ValueError):
            raise Seed003Error(C.BAD_REQUEST, "zip_b64 is not valid base64") from None
        if not data:
            raise Seed003Error(C.BAD_REQUEST, "zip_b64 is empty")
        catalog, uploads = self.app.catalog, self.app.uploads
        game = await catalog.find_by_name(name)
        if game is None:
            game_id = await catalog.create_game(dev.account_id, name, *self._meta(req.manifest, name))
            status = "ONLINE"
        else:
            if game["developer_id"] != dev.account_id:
                raise Seed003Error(C.FORBIDDEN, "you are not the author of this game: it cannot be updated")
            game_id, status = game["game_id"], game["status"]
        try:
            begun = await uploads.begin(
                dev.account_id, game_id, version, len(data), hashlib.sha256(data).hexdigest(), False
            )
        except Conflict as exc:
            if "latest_version" in exc.payload:
                raise Seed003Error(
                    C.VERSION_NOT_NEWER,
                    exc.message,
                    latest=exc.payload["latest_version"],
                    suggested=exc.payload.get("suggested_version"),
                ) from None
            raise
        upload_id = begun["upload_id"]
        view = memoryview(data)
        step = s.chunk_size
        try:
            for seq, offset in enumerate(range(0, len(data), step)):
                await uploads.chunk(dev.account_id, upload_id, seq, view[offset : offset + step])
            await uploads.end(dev.account_id, upload_id)
        except BaseException:
            with contextlib.suppress(PlayHubError):
                await uploads.cancel(dev.account_id, upload_id)
            raise
        if status != "ONLINE":  # seed 003: a new version brings a removed game back
            await catalog.set_status(dev.account_id, game_id, "ONLINE")
        return {
            "ok": True,
            "msg": "uploaded",
            "name": name,
            "latest": version,
            "status": "active",
            "next_version_hint": packages.next_version(version),
        }

    @staticmethod
    def _meta(manifest: dict[str, Any], name: str) -> tuple[str, str, int, str | None, int | None]:
        """create_game's arguments from the manifest the client sent (the package's own is checked at publish)."""
        description = manifest.get("description", "")
        game_type = manifest.get("type", "")
        max_players = manifest.get("max_players")
        display = manifest.get("display_name", name)
        min_players = manifest.get("min_players")
        if (
            not isinstance(description, str)
            or not isinstance(game_type, str)
            or type(max_players) is not int
            or not isinstance(display, str)
            or (min_players is not None and type(min_players) is not int)
        ):
            raise Seed003Error(
                C.BAD_REQUEST,
                "manifest needs description and type (strings), max_players (integer), "
                "and optionally display_name (string) and min_players (integer)",
            )
        return description, game_type, max_players, display, min_players

    async def _version_hint(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, NameRef)
        dev = self._user(conn, role, req.token)
        name = req.name.strip()
        if not name:
            raise Seed003Error(C.BAD_REQUEST, "the game name is required")
        game = await self.app.catalog.find_by_name(name)
        if game is None:
            return {"ok": True, "exists": False, "name": name, "latest": None, "suggested": "1.0.0"}
        game = await self._owned(dev, name)
        versions = await self.app.catalog.list_versions(dev.account_id, game["game_id"])
        hint = await self.app.catalog.version_hint(dev.account_id, game["game_id"])
        return {
            "ok": True,
            "exists": True,
            "name": game["name"],
            "latest": hint["latest_version"],
            "suggested": hint["suggested_version"],
            "versions": [v["version"] for v in versions],
            "status": _STATUS.get(game["status"], game["status"]),
        }

    async def _my_games(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        dev = self._user(conn, role, req.token)
        catalog = self.app.catalog
        out: dict[str, Any] = {}
        for game in await catalog.list_my_games(dev.account_id):
            gid = game["game_id"]
            versions = await catalog.list_versions(dev.account_id, gid)
            reviews = await catalog.game_reviews(dev.account_id, gid, None, 0)
            out[game["name"]] = {
                "status": _STATUS.get(game["status"], game["status"]),
                "latest": game["latest_version"],
                "versions": {
                    v["version"]: {
                        "display_name": game["display_name"],
                        "type": game["game_type"],
                        "max_players": game["max_players"],
                    }
                    for v in versions
                },
                "avg_rating": game["avg_score"],
                "review_count": game["review_count"],
                "reviews": _reviews(reviews["reviews"]),
            }
        return {"ok": True, "games": out}

    async def _remove_game(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, NameRef)
        dev = self._user(conn, role, req.token)
        game = await self._owned(dev, req.name)
        await self.app.catalog.set_status(dev.account_id, game["game_id"], "OFFLINE")
        return {
            "ok": True,
            "msg": "removed: no longer listed, and no new rooms can be created",
            "name": game["name"],
            "status": "removed",
        }

    # --- player: the store ---------------------------------------------------------------------------------------
    async def _detail(self, game_id: str) -> dict[str, Any]:
        return msgspec.json.decode(await self.app.store.game_detail(game_id))  # type: ignore[no-any-return]

    async def _list_games(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        self._user(conn, role, req.token)
        listing = msgspec.json.decode(await self.app.store.list_games())["games"]
        out: dict[str, Any] = {}
        for game in listing:
            try:
                detail = await self._detail(game["game_id"])
            except PlayHubError:
                continue  # delisted or changed meanwhile
            out[game["name"]] = {
                "versions": [v["version"] for v in detail["versions"]],
                "latest": game["latest_version"],
                "author": game["author"],
                "display_name": game["display_name"],
                "description": game["description"],
                "avg_rating": game["avg_score"],
                "review_count": game["review_count"],
            }
        return {"ok": True, "games": out}

    async def _manifest(self, game_id: str, version: str) -> dict[str, Any]:
        """manifest.json of a published version (checked at publish, so small and valid)."""
        path = self.app.blobs.version_dir(game_id, version) / "manifest.json"
        limit = self.settings.max_manifest_bytes

        def read() -> dict[str, Any]:
            with contextlib.suppress(OSError, ValueError):
                with path.open("rb") as fh:
                    data = json.loads(fh.read(limit + 1)[:limit])
                if isinstance(data, dict):
                    return data
            return {}

        return await asyncio.to_thread(read)

    async def _game_details(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, NameRef)
        self._user(conn, role, req.token)
        game = await self._game(req.name)
        detail = await self._detail(game["game_id"])
        reviews = await self.app.store.list_reviews(game["game_id"], None, 0)
        latest = detail["latest_version"]
        manifest = await self._manifest(game["game_id"], latest)
        return {
            "ok": True,
            "details": {
                "name": detail["name"],
                "display_name": detail["display_name"],
                "description": detail["description"],
                "status": _STATUS.get(detail["status"], detail["status"]),
                "author": detail["author"],
                "latest": latest,
                "avg_rating": detail["avg_score"],
                "review_count": detail["review_count"],
                "reviews": _reviews(reviews.reviews),
                "versions": {
                    v["version"]: {
                        "manifest": manifest if v["version"] == latest else {},
                        "uploaded_at": v["uploaded_at"],
                    }
                    for v in detail["versions"]
                },
            },
        }

    async def _download_game(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, NameRef)
        player = self._user(conn, role, req.token)
        game = await self._game(req.name)
        downloads = self.app.downloads
        dl = await downloads.begin(player.account_id, game["game_id"], None, 0, 0, ip=conn.remote_ip)
        try:
            limit = self.settings.seed003_max_download_bytes
            if dl.size_bytes > limit:
                raise Seed003Error(
                    C.TOO_LARGE,
                    f"the package is {dl.size_bytes} bytes, more than the {limit} bytes one download_game line "
                    "carries: use PlayHub's client",
                )
            path, checksum = dl.path, dl.checksum

            def read() -> str | None:
                data = path.read_bytes()
                if hashlib.sha256(data).hexdigest() != checksum:
                    return None
                return base64.b64encode(data).decode("ascii")

            try:
                zip_b64 = await asyncio.to_thread(read)
            except OSError:
                zip_b64 = None
            if zip_b64 is None:
                log.error("package %s/%s is missing or damaged", dl.game_id, dl.version)
                raise Seed003Error(C.SERVER_ERROR, "the stored package is missing or damaged on the server")
        finally:
            downloads.finish(dl)
        return {
            "ok": True,
            "name": game["name"],
            "version": dl.version,
            "manifest": await self._manifest(game["game_id"], dl.version),
            "zip_b64": zip_b64,
        }

    async def _rate_game(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, RateGame)
        player = self._user(conn, role, req.token)
        game = await self._game(req.name)
        rating = req.rating
        if isinstance(rating, str):
            with contextlib.suppress(ValueError):
                rating = int(rating.strip())
        if type(rating) is not int or not 1 <= rating <= 5:
            raise Seed003Error(C.BAD_REQUEST, "rating must be an integer from 1 to 5")
        text = (req.text or "").strip()
        await self.app.store.add_review(player.account_id, game["game_id"], rating, text)
        detail = await self._detail(game["game_id"])
        return {
            "ok": True,
            "msg": "review saved",
            "avg_rating": detail["avg_score"],
            "count": detail["review_count"],
        }

    # --- player: rooms -------------------------------------------------------------------------------------------
    def _room_ids(self) -> set[str]:
        return set(self.app.rooms.rooms)

    def _room(self, room_id: str) -> Room:
        return self.app.rooms.seats.get(room_id)

    def view(self, snap: dict[str, Any]) -> dict[str, Any]:
        """Seed 003's room object for a platform room snapshot."""
        room_id = snap["room_id"]
        players = list(snap["players"])
        ready = list(snap["ready"])
        state = snap["status"]
        owner = snap["host"]
        start: dict[str, Any] = {"state": "idle"}
        if state == "WAITING":
            status = "ready" if players and set(ready) >= set(players) else "waiting"
            refused = self._rejected.get(room_id)
            if refused is not None:
                start = {"state": "rejected", "by": owner, "rejected_by": refused}
        elif state in ("VOTING", "STARTING"):
            status = "waiting"
            start = {
                "state": "proposed",
                "by": owner,
                "responses": self._responses(room_id, state, players, owner),
            }
        elif state == "PLAYING":
            status = "in_game"
            start = {"state": "agreed", "by": owner}
        else:
            status = "closed"
            players, ready = [], []
        relay = self._relays.get(room_id)
        return {
            "room_id": room_id,
            "game": snap["game_name"],
            "display_name": snap["display_name"],
            "version": snap["version"],
            "host": self.settings.advertised_host,
            "port": relay.port if relay is not None else 0,
            "status": status,
            "owner": owner,
            "start": start,
            "players": players,
            "ready_players": ready,
            "max_players": snap["max_players"],
            "min_players": snap["min_players"],
        }

    def _responses(self, room_id: str, state: str, players: list[str], owner: str) -> dict[str, bool]:
        guests = [p for p in players if p != owner]
        if state == "STARTING":
            return dict.fromkeys(guests, True)
        accepted: set[str] = set()
        with contextlib.suppress(PlayHubError):
            room = self._room(room_id)
            vote = self.app.rooms.start_flow.votes.get(room.vote_seq) if room.vote_seq is not None else None
            if vote is not None:
                accepted = set(vote.accepted)
        return {g: True for g in guests if g in accepted}

    async def _relay(self, room_id: str) -> GameRelay:
        """The room's relay, opened on first need (concurrent requests share one)."""
        relay = self._relays.get(room_id)
        if relay is not None:
            return relay
        pending = self._relay_opening.get(room_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[GameRelay] = asyncio.get_running_loop().create_future()
        self._relay_opening[room_id] = future
        try:
            relay = GameRelay(
                room_id,
                self.settings,
                lambda: self._game_address(room_id),
                lambda u: self._ticket(room_id, u),
            )
            await relay.open()
            self._relays[room_id] = relay
            future.set_result(relay)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here; waiters get it too
            raise
        finally:
            self._relay_opening.pop(room_id, None)
        return relay

    def _game_address(self, room_id: str) -> tuple[str, int] | None:
        room = self.app.rooms.rooms.get(room_id)
        if room is None or not room.match_running or not room.game_port:
            return None
        return probe_address(self.settings.host), int(room.game_port)

    def _ticket(self, room_id: str, username: str) -> str | None:
        """The SDK ticket for a member of the running match whose session is a seed-003 one (their clients cannot
        know it); None for anyone else."""
        principal = self.app.sessions.by_username(Role.PLAYER, username)
        if principal is None or not isinstance(principal.peer, Mailbox):
            return None
        try:
            return self.app.rooms.matches.rejoin(principal, room_id).ticket
        except PlayHubError:
            return None

    async def _room_answer(self, room: Room) -> dict[str, Any]:
        await self._relay(room.room_id)
        return {"ok": True, **self.view(_snapshot(room))}

    def _room_id(self, req: RoomRef) -> str:
        room_id = req.room_id.strip()
        if not room_id:
            raise Seed003Error(C.BAD_REQUEST, "room_id is required")
        return room_id

    async def _list_rooms(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        self._user(conn, role, req.token)
        rooms = self.app.rooms.seats.list_rooms()
        return {"ok": True, "rooms": {room.room_id: self.view(_snapshot(room)) for room in rooms}}

    async def _create_room(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, CreateRoom)
        player = self._user(conn, role, req.token)
        game = await self._game(req.game)
        wanted = (req.version or "").strip()
        if wanted and game["latest_version"] is not None and wanted != game["latest_version"]:
            raise Seed003Error(
                C.BAD_STATE,
                f"rooms can only use the latest version {game['latest_version']}: download or update it first",
            )
        room = await self.app.rooms.seats.create(player, game["game_id"])
        return await self._room_answer(room)

    async def _join_room(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, RoomRef)
        player = self._user(conn, role, req.token)
        room = self.app.rooms.seats.join(player, self._room_id(req))
        return await self._room_answer(room)

    async def _leave_room(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, RoomRef)
        player = self._user(conn, role, req.token)
        room = self._room(self._room_id(req))
        if room.member(player.username) is not None:  # seed 003: leaving a room you are not in is fine
            self.app.rooms.seats.leave(player, room.room_id)
        return {"ok": True, "msg": "left the room"}

    async def _set_ready(self, conn: Connection, role: Role, req: Request, ready: bool) -> dict[str, Any]:
        assert isinstance(req, RoomRef)
        player = self._user(conn, role, req.token)
        room = self.app.rooms.start_flow.set_ready(player, self._room_id(req), ready)
        view = self.view(_snapshot(room))
        return {"ok": True, "msg": "ready" if ready else "not ready", "ready_players": view["ready_players"]}

    async def _player_ready(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        return await self._set_ready(conn, role, req, True)

    async def _player_unready(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        return await self._set_ready(conn, role, req, False)

    async def _propose_start(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        """The owner's proposal: the platform's start vote, answered at once (seed 003 does not block the owner);
        guests answer with respond_start, everyone follows on room_update."""
        assert isinstance(req, RoomRef)
        player = self._user(conn, role, req.token)
        room_id = self._room_id(req)
        room = self._room(room_id)
        if room.member(player.username) is not None and room.host != player.username:
            raise Seed003Error(C.FORBIDDEN, f"only the owner ({room.host}) can propose to start")
        self._rejected.pop(room_id, None)
        task = self.app.spawn(self.app.rooms.start_flow.start(player, room_id))
        task.add_done_callback(lambda t: self._after_start(room_id, t))
        await asyncio.sleep(0)  # the checks before the vote run in the task's first step
        if task.done() and not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if isinstance(exc, PlayHubError):
                raise exc
            raise Seed003Error(C.SERVER_ERROR, "the start failed")
        return {"ok": True, "msg": "start proposed: waiting for the other players"}

    def _after_start(self, room_id: str, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, PlayHubError) and "refused by " in exc.message and room_id not in self._rejected:
            # Refused by a PlayHub player (VOTE): the room was announced before the door learnt who refused, so
            # announce it again for seed 003's streams to show the refusal.
            self._rejected[room_id] = exc.message.rsplit("refused by ", 1)[1].strip()
            room = self.app.rooms.rooms.get(room_id)
            if room is not None:
                self.app.rooms.seats.announce(room)

    async def _respond_start(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, RespondStart)
        player = self._user(conn, role, req.token)
        room = self._room(self._room_id(req))
        if room.member(player.username) is None:
            raise Seed003Error(C.FORBIDDEN, f"you are not in room '{room.room_id}'")
        if room.host == player.username:
            raise Seed003Error(C.BAD_STATE, "the owner does not answer their own proposal")
        seq = room.vote_seq
        if seq is None:
            raise Seed003Error(C.BAD_STATE, "there is no start proposal to answer")
        if not req.accept:
            self._rejected[room.room_id] = player.username  # before the vote ends, so the update shows it
        self.app.rooms.start_flow.vote(player, seq, req.accept)
        return {"ok": True, "msg": "accepted" if req.accept else "refused"}

    async def _subscribe_room(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        """Keep this connection open and push the room's state on it at every change (seed 003's SSE)."""
        assert isinstance(req, RoomRef)
        player = self._user(conn, role, req.token)
        room_id = self._room_id(req)
        room = self._room(room_id)
        box = self._mailboxes.get((role, player.account_id))
        if box is None or box.closed or player.peer is not box:
            raise Seed003Error(C.BAD_STATE, "this session is connected through PlayHub's own client")
        await self._relay(room_id)
        self.app.rooms.seats.subscribe(box, room_id)
        if conn not in box.streams:
            conn.on_close(lambda c: self._stream_closed(box, c))
        box.streams[conn] = room_id
        conn.authenticated = True
        return {"ok": True, "msg": "subscribed", "room_id": room_id, "room": self.view(_snapshot(room))}

    def _stream_closed(self, box: Mailbox, conn: Connection) -> None:
        room_id = box.streams.pop(conn, None)
        box.last_seen = time.monotonic()  # the idle time counts from the end of the subscription
        if room_id is not None and room_id not in box.streams.values():
            with contextlib.suppress(PlayHubError):
                self.app.rooms.seats.unsubscribe(box, room_id)

    async def _unsubscribe_room(self, conn: Connection, role: Role, req: Request) -> dict[str, Any]:
        assert isinstance(req, RoomRef)
        player = self._user(conn, role, req.token)
        room_id = self._room_id(req)
        box = self._mailboxes.get((role, player.account_id))
        if box is not None:
            for stream, watched in list(box.streams.items()):
                if watched == room_id:
                    stream.close()
        return {"ok": True, "msg": "unsubscribed", "room_id": room_id}


def _snapshot(room: Room) -> dict[str, Any]:
    """The platform's view of a room (what ROOM_UPDATED carries), as plain data."""
    return msgspec.to_builtins(room_info(room))  # type: ignore[no-any-return]


def _reviews(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Seed 003's reviews: one per player, ``{player: {rating, text, ts}}``."""
    return {r["player"]: {"rating": r["score"], "text": r["comment"], "ts": r["created_at"]} for r in rows}

"""Composition root: builds every store, service and the supervisor, starts both listeners, owns every background
task, and closes it all in a fixed order.

Handler modules (server/handlers/) only declare routes; what they use reaches them as ``ctx.app`` (typed by
``server/context.Services``). Build order is dependency order; ``stop`` undoes it in reverse: listeners and
connections first, then background tasks, rooms (game servers), uploads, accounts, sessions, and the database last.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from playhub.server.connection import Connection
from playhub.server.doors.seed003 import Seed003Door
from playhub.server.handlers import AREAS
from playhub.server.outbuf import OutputBudget
from playhub.server.p2p_relay import RelayHub, lobby_address
from playhub.server.router import Listener, Router
from playhub.server.sockopts import tune_socket
from playhub.services.accounts import AccountService
from playhub.services.admin import AdminService
from playhub.services.bus import LocalBus
from playhub.services.catalog import CatalogService
from playhub.services.chat import ChatService
from playhub.services.chat_files import ChatFileService
from playhub.services.downloads import DownloadService
from playhub.services.events import EventBus
from playhub.services.p2p import P2PService
from playhub.services.presence import PresenceService
from playhub.services.quotas import WindowLimiter
from playhub.services.rooms import RoomService
from playhub.services.sessions import Peer, SessionRegistry
from playhub.services.store import StoreService
from playhub.services.uploads import UploadService
from playhub.services.votes import VoteService
from playhub.settings import Settings
from playhub.store.blobs import BlobStore
from playhub.store.db import Database
from playhub.supervisor import Supervisor

log = logging.getLogger("playhub.server")

RUNTIME_PORTS_FILE = "runtime_ports.json"


class PlayHubApp:
    """The whole platform in one object."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        s = settings
        self.data_dir = Path(s.data_dir)
        # --- stores ---
        self.db = Database(self.data_dir / "playhub.sqlite3")
        self.blobs = BlobStore(self.data_dir)
        self.events = EventBus()
        # --- sessions and the push bus ---
        self.sessions = SessionRegistry(
            s.session_resume_grace_s,
            db=self.db,
            ttl_s=s.session_ttl_s,
            touch_interval_s=s.session_touch_interval_s,
            replaced_memory=s.session_replaced_memory,
            purge_interval_s=s.session_purge_interval_s,
        )
        self.sessions.max_per_peer = s.max_sessions_per_connection
        self.bus = LocalBus(self.sessions)
        self.bus.attach(self._deliver)
        # --- services ---
        self.accounts = AccountService(s, self.db, self.sessions)
        self.registrations = WindowLimiter(s.register_max_per_ip, s.register_window_s)  # per client IP, both roles
        self.catalog = CatalogService(s, self.db, self.events)
        self.uploads = UploadService(s, self.db, self.blobs, self.events, self.catalog)
        self.store = StoreService(s, self.db, self.events)
        self.downloads = DownloadService(s, self.db, self.blobs)
        self.supervisor = Supervisor(s, self.data_dir)
        self.presence = PresenceService(self.sessions, self.bus, s.presence_batch_s)
        self.admin = AdminService(s, self.db, self.sessions, self.bus, self.catalog.delist)
        self.instance_id = secrets.token_hex(8)  # new at every start: clients tell a restart from a reconnect
        self.rooms = RoomService(
            s,
            self.db,
            self.blobs,
            self.sessions,
            self.supervisor,
            VoteService(s.vote_memory),
            self.bus,
            self.spawn,
            lambda: self.lobby_port,
            self.events,
        )
        self.chat = ChatService(s, self.db, self.bus)
        self.chat_files = ChatFileService(s, self.chat, self.blobs.tmp)
        self.chat.follow_sessions(self.sessions)
        self._chat_follows_rooms()
        self.admin.chat = self.chat  # mutes, and bans marked in chat
        # Seed 003's own protocol: a door onto the same services (the routers find it as ``seed003``).
        self.seed003 = Seed003Door(self)
        self.p2p = P2PService(s, self.sessions, self.bus, self.rooms.seats.get, lobby_address)
        # --- the edge ---
        self.relay = RelayHub(s, self.p2p)  # P2P relay connections
        self.p2p.on_relay_end = self.relay.session_ended
        self.output_budget = OutputBudget(s)  # unread output across all connections
        self.dev_port = 0
        self.lobby_port = 0
        self._servers: list[asyncio.base_events.Server] = []
        self._connections: set[Connection] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._stop_requested = asyncio.Event()
        self._stopped = asyncio.Event()
        self._started = False

    # --- lifecycle -----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.blobs.ensure()
        await self.db.open()
        await self.sessions.load()  # before listening: a client reconnecting after a restart finds its session
        await self.admin.start()  # roles and bans, before the first command is checked
        await self.uploads.start()  # recovers the uploads a crash left open
        await self.chat.start()  # loads channels, members and nicknames; drops rooms and guests of an earlier run
        killed = await asyncio.to_thread(self.supervisor.reap_leftovers)
        if killed:
            log.warning("killed %d game server process(es) left over from a previous run", killed)
        self.spawn(self.seed003.sweep_forever())
        groups = [area.routes for area in AREAS]
        s = self.settings
        dev = await self._listen(Router(self, Listener.DEV, groups), s.dev_port)
        lobby = await self._listen(Router(self, Listener.LOBBY, groups), s.lobby_port)
        self.dev_port = dev.sockets[0].getsockname()[1]
        self.lobby_port = lobby.sockets[0].getsockname()[1]
        self.spawn(self._housekeeping())
        self._write_runtime_ports()
        self._started = True
        log.info(
            "PlayHub ready: developer port %s:%d, lobby port %s:%d, data in %s",
            s.host,
            self.dev_port,
            s.host,
            self.lobby_port,
            self.data_dir,
        )

    async def _listen(self, router: Router, port: int) -> asyncio.base_events.Server:
        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if len(self._connections) >= self.settings.max_connections:
                writer.close()
                return
            tune_socket(writer.get_extra_info("socket"), self.settings)
            conn = Connection(router, self.settings, reader, writer)
            conn.transport.set_write_buffer_limits(high=self.settings.write_buffer_high_bytes)
            self._connections.add(conn)
            try:
                await conn.serve()
            finally:
                self._connections.discard(conn)
                self.bus.drop_peer(conn)

        server = await asyncio.start_server(
            on_client,
            self.settings.host,
            port,
            limit=self.settings.read_size,
            reuse_address=True,
            backlog=self.settings.listen_backlog,
        )
        self._servers.append(server)
        return server

    def _chat_follows_rooms(self) -> None:
        """Each lobby room has a chat channel: its members, joined and left with the room, closed with it."""
        chat, seats = self.chat, self.rooms.seats
        seats.on_seated.append(lambda room, member: chat.room_joined(room.room_id, member.username))
        seats.on_departure.append(lambda room, member, why: chat.room_left(room.room_id, member.username, why))
        seats.on_closed.append(lambda room, server: chat.room_closed(room.room_id))

    @staticmethod
    def _deliver(peers: Iterable[Peer], encoded: bytes) -> None:
        """The push bus's delivery sink: one encoded push written to each connection."""
        for peer in peers:
            try:
                peer.send(encoded)
            except Exception:  # a broken socket must not keep the push from the others
                log.exception("a push could not be written")

    def _write_runtime_ports(self) -> None:
        info = {
            "developer_port": self.dev_port,
            "lobby_port": self.lobby_port,
            "dev_host": self.settings.advertised_host,
            "lobby_host": self.settings.advertised_host,
            "pid": os.getpid(),
        }
        path = self.data_dir / RUNTIME_PORTS_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info, indent=2), encoding="utf-8")
        os.replace(tmp, path)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Start a background task owned by the app; cancelled at ``stop``."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _housekeeping(self) -> None:
        next_admin_poll = 0.0
        while True:
            await asyncio.sleep(self.settings.housekeeping_interval_s)
            if time.monotonic() >= next_admin_poll:
                next_admin_poll = time.monotonic() + self.settings.admin_poll_interval_s
                try:
                    await self.admin.poll()  # changes made by `playhub admin` next to this server
                except Exception:
                    log.exception("applying admin changes failed")
            self.accounts.housekeeping()
            self.chat_files.expire()
            try:
                await self.chat.housekeeping()
            except Exception:  # a failing retention pass must not end housekeeping for good
                log.exception("chat housekeeping failed")
            try:
                await self.sessions.housekeeping()
            except Exception:  # a busy or failing disk must not end housekeeping for good
                log.exception("session housekeeping failed")
            now = asyncio.get_running_loop().time()
            for conn in list(self._connections):
                conn.check_timeouts(now)

    def request_stop(self) -> None:
        """Ask ``serve_until_stopped`` to shut down (signal handlers call this)."""
        self._stop_requested.set()

    async def serve_until_stopped(self) -> None:
        await self._stop_requested.wait()
        await self.stop()

    async def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._stop_requested.set()
        for server in self._servers:
            server.close()
        for conn in list(self._connections):
            conn.close()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self.relay.close()
        self.p2p.close()
        await self.seed003.close()
        self.chat_files.close()
        for name, close in (("rooms", self.rooms.close), ("uploads", self.uploads.close), ("chat", self.chat.close)):
            try:
                await close()
            except Exception:
                log.exception("closing %s failed", name)
        for server in self._servers:
            try:
                await asyncio.wait_for(server.wait_closed(), self.settings.listener_close_timeout_s)
            except TimeoutError:
                pass
        self.accounts.close()
        try:
            await self.sessions.flush()  # the last expiry extensions
        except Exception:
            log.exception("could not store session expiries")
        await self.db.close()
        try:
            (self.data_dir / RUNTIME_PORTS_FILE).unlink()
        except FileNotFoundError:
            pass
        log.info("PlayHub stopped")

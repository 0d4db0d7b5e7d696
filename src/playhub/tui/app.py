"""``PlayerApp``: the player's terminal lobby (``playhub play``).

Login → home menu → store, library, lobby, room, my games. The app owns the ``PlayerSession`` (reconnecting
connection) and the player's ``LocalLibrary`` (downloaded games), turns server pushes into ``ServerPush`` messages
for its screens, shows the start vote over whatever screen is up, and launches the game client when a room starts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from playhub.client import ConnectionLost, ServerAddress
from playhub.client.library import LocalLibrary, default_downloads_root, download_game
from playhub.client.settings import CLIENT
from playhub.protocol.errors import PlayHubError
from playhub.tui.format import safe_text
from playhub.tui.launcher import (
    GameOutcome,
    GameStart,
    LaunchError,
    LaunchPlan,
    check_display,
    explain_failure,
    plan_launch,
    run_game_client,
)
from playhub.tui.messages import ConnectionChanged, GameFinished, ServerPush
from playhub.tui.screens.home import HomeScreen
from playhub.tui.screens.library import LibraryScreen
from playhub.tui.screens.lobby import LobbyScreen
from playhub.tui.screens.login import LoginScreen
from playhub.tui.screens.modals import ConfirmModal, DownloadModal, VoteModal
from playhub.tui.screens.mygames import MyGamesScreen
from playhub.tui.screens.room import RoomScreen
from playhub.tui.screens.store import GameScreen, StoreScreen
from playhub.tui.session import ConnState, PlayerSession, StateChange

ProgressCallback = Callable[[int, int], None]


class PlayerApp(App[None]):
    """The PlayHub player client."""

    TITLE = "PlayHub"
    SUB_TITLE = "player"
    CSS_PATH = "playhub.tcss"  # every screen's and widget's styles, shipped as package data
    # Screens that other screens open, by name (``open_screen``): a screen never imports another screen's module.
    # Each opening builds a new screen (Textual's ``SCREENS`` would keep one instance per name, and the store or the
    # lobby must read the server again whenever they are opened).
    SCREEN_TYPES: ClassVar[dict[str, type[Screen[Any]]]] = {
        "login": LoginScreen,
        "home": HomeScreen,
        "store": StoreScreen,
        "game": GameScreen,
        "library": LibraryScreen,
        "lobby": LobbyScreen,
        "room": RoomScreen,
        "mygames": MyGamesScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    banner: reactive[str] = reactive("")  # shown by every screen's ConnectionBanner while the link is down

    def __init__(
        self,
        address: ServerAddress,
        downloads_root: Path | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        backoff_initial_s: float = CLIENT.reconnect_backoff_initial_s,
        backoff_max_s: float = CLIENT.reconnect_backoff_max_s,
        lobby_poll_s: float = CLIENT.lobby_poll_s,
    ) -> None:
        super().__init__()
        self.lobby_poll_s = lobby_poll_s
        self.address = address
        self._downloads_root = downloads_root
        self.initial_credentials = (username, password)
        self.session = PlayerSession(
            address,
            on_push=self._on_push,
            on_state=self._on_state,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
        )
        self.library: Any = None  # LocalLibrary of the logged-in player
        # Last known state of every room seen (pushes keep it fresh); the vote prompt and the launcher read it.
        self.rooms: dict[str, dict[str, Any]] = {}
        self.current_room_id: str | None = None
        self.games_running: set[str] = set()  # room ids whose game client is running
        # While a terminal game holds the terminal the app draws nothing (Textual's output queue would fill up and
        # block the event loop): pushes wait here and are replayed, ROOM_UPDATED coalesced per room, on return.
        self.suspended = False
        self._held: list[ServerPush] = []

    # --- startup and shutdown ----------------------------------------------------------------------------------
    def open_screen(self, name: str, *args: Any, **kwargs: Any) -> Screen[Any]:
        """Push a new screen of the type registered as ``name``; returns it."""
        screen = self.SCREEN_TYPES[name](*args, **kwargs)
        self.push_screen(screen)
        return screen

    def on_mount(self) -> None:
        self.push_screen(LoginScreen())

    async def on_unmount(self) -> None:
        await self.session.close(logout=True)

    async def ensure_connected(self) -> None:
        if self.session.client is None or self.session.state is ConnState.OFFLINE:
            await self.session.open()

    def after_login(self) -> None:
        """Open the player's library and show the home menu."""
        root = self._downloads_root or default_downloads_root()
        self.library = LocalLibrary(root, self.session.username)
        self.sub_title = safe_text(f"{self.session.username} @ {self.address.host}:{self.address.port}")
        self.switch_screen(HomeScreen())
        # The server told us our room (if any) along with the login, before we knew our own name.
        for room in list(self.rooms.values()):
            self._note_my_room(room)

    @work(exclusive=True, group="account")
    async def log_out(self, reason: str = "") -> None:
        """Back to the login form (the player chose to, or the server no longer accepts the session)."""
        await self.session.logout()
        self.library = None
        self.rooms.clear()
        self.current_room_id = None
        while len(self.screen_stack) > 2:
            await self.pop_screen()
        await self.switch_screen(LoginScreen(reason))
        self.sub_title = "player"

    # --- connection state and pushes ---------------------------------------------------------------------------
    def _on_state(self, change: StateChange) -> None:
        if change.state is ConnState.EXPIRED:
            self.banner = ""
            self.log_out(f"Login expired, log in again ({change.detail}).")
            return
        if change.state is ConnState.RECONNECTING:
            self.banner = f"⚠ Connection lost — {change.detail}. Your screens stay as they are."
        elif change.state is ConnState.LOGGED_OUT:
            self.banner = ""
            self.log_out(f"Reconnected, but {change.detail}")
        else:
            self.banner = ""
            if change.attempt:
                self.notify(f"Back online ({change.detail}).", title="Connection")
        for screen in self.screen_stack:
            screen.post_message(ConnectionChanged(change))

    def _on_push(self, type_: str, payload: dict[str, Any]) -> None:
        # Called by the client's reader; hand over to the message loop so handlers run like any other event.
        self.post_message(ServerPush(type_, payload))

    def on_server_push(self, message: ServerPush) -> None:
        type_, payload = message.type, message.payload
        if type_ == "ROOM_UPDATED" and isinstance(payload.get("room"), dict):
            room = payload["room"]
            self.rooms[str(room.get("room_id"))] = room
            self._note_my_room(room)
        if self.suspended:
            self._held.append(message)
            return
        self._dispatch(type_, payload)

    def _note_my_room(self, room: dict[str, Any]) -> None:
        """After a login or reconnect the server tells us which room we sit in: remember it."""
        me = self.session.username
        room_id = str(room.get("room_id"))
        if me and me in (room.get("players") or []) and room.get("status") != "CLOSED":
            if self.current_room_id is None:
                self.current_room_id = room_id
                match = room.get("match")
                if isinstance(match, dict) and me in (match.get("players") or []):
                    self.notify(
                        f"Your match in room {room_id} is still running: open the Lobby and choose the room to go "
                        "back to the game.",
                        title="Match running",
                        timeout=10,
                    )
        elif self.current_room_id == room_id:
            self.current_room_id = None

    def _release_held(self) -> None:
        """Replay what arrived while suspended: the latest ROOM_UPDATED of each room, everything else in order."""
        held, self._held = self._held, []
        latest: dict[str, int] = {}
        for i, m in enumerate(held):
            if m.type == "ROOM_UPDATED" and isinstance(m.payload.get("room"), dict):
                latest[str(m.payload["room"].get("room_id"))] = i
        for i, m in enumerate(held):
            if m.type == "ROOM_UPDATED" and isinstance(m.payload.get("room"), dict):
                if latest.get(str(m.payload["room"].get("room_id"))) != i:
                    continue
            self._dispatch(m.type, m.payload)

    def _dispatch(self, type_: str, payload: dict[str, Any]) -> None:
        if type_ == "VOTE_REQUEST":
            self.push_screen(VoteModal(payload, self.rooms.get(str(payload.get("room_id")))))
        elif type_ == "GAME_STARTED":
            self.start_game(GameStart.from_payload(payload, self.rooms.get(str(payload.get("room_id")))))
        for screen in self.screen_stack:
            screen.post_message(ServerPush(type_, payload))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        # Notifications quote server messages and names chosen by other people: always shown literally, without
        # terminal control characters.
        super().notify(
            safe_text(message, multiline=True),
            title=safe_text(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    # --- helpers for screens ------------------------------------------------------------------------------------
    @staticmethod
    def describe_error(exc: BaseException) -> str:
        """A sentence for the player (no tracebacks): the server's message, or what went wrong locally."""
        if isinstance(exc, PlayHubError):
            return safe_text(exc.message)  # the server's text may quote names other people chose
        if isinstance(exc, ConnectionLost | ConnectionError):
            return "the connection to the server was lost; it will come back by itself"
        if isinstance(exc, TimeoutError):
            return "the server did not answer in time"
        return safe_text(str(exc) or type(exc).__name__)

    async def download(
        self, game_id: str, version: str | None = None, *, progress: ProgressCallback | None = None
    ) -> Any:
        """Download (or update to) a version into the player's library; returns the installed game."""
        client = self.session.client
        if client is None or not self.session.online:
            raise ConnectionLost("not connected to the server")
        return await download_game(client, self.library, game_id, version, progress=progress)

    def installed_version(self, name: str) -> str | None:
        if self.library is None:
            return None
        try:
            return self.library.installed_version(name)
        except ValueError:  # a name that cannot be a folder name is never installed
            return None

    async def remove_local(self, name: str, version: str | None = None) -> None:
        """Delete a local copy (files go in a thread: a large game must not freeze the screen)."""
        await asyncio.to_thread(self.library.remove, name, version)

    def has_version(self, name: str, version: str) -> bool:
        if self.library is None:
            return False
        try:
            return version in self.library.versions(name)
        except ValueError:
            return False

    # --- flows shared by the store and the lobby ----------------------------------------------------------------
    async def ensure_version(self, game: dict[str, Any], version: str, why: str) -> bool:
        """Make sure ``version`` of ``game`` is installed, offering to download it; True when it is."""
        name = str(game.get("game_name") or game.get("name") or "")
        label = str(game.get("display_name") or name)
        if self.has_version(name, version):
            return True
        have = self.installed_version(name)
        verb = f"update from {have} to" if have else "download"
        question = f"{why} you need {label} {version}, which is not installed.\n\nDownload it now ({verb} {version})?"
        if not await self.push_screen_wait(ConfirmModal(question, yes=f"Download {version}", no="Not now")):
            return False
        installed = await self.push_screen_wait(DownloadModal(str(game.get("game_id")), label, version))
        return installed is not None and self.has_version(name, version)

    @work(exclusive=True, group="flow", exit_on_error=False)
    async def create_room_flow(self, game: dict[str, Any]) -> None:
        """Create a room for a game on its latest version (downloading it first if needed), then enter it."""
        game_id = str(game.get("game_id"))
        if self.current_room_id is not None:
            # Refuse before offering a download that could not be used.
            self.notify(
                f"You are already in room {self.current_room_id}: leave it before creating another.",
                severity="warning",
            )
            return
        try:
            latest = (await self.session.request("LATEST_VERSION", {"game_id": game_id}))["version"]
            if not await self.ensure_version(game, latest, "To create a room"):
                return
            out = await self.session.request("CREATE_ROOM", {"game_id": game_id})
        except (PlayHubError, ConnectionError, TimeoutError, KeyError) as exc:
            self.notify(f"Cannot create a room: {self.describe_error(exc)}", severity="error")
            return
        room_id, version = str(out["room_id"]), str(out.get("version") or latest)
        if not await self.ensure_version(game, version, "This room plays a newer version:"):
            await self.leave_room(room_id)
            return
        self.current_room_id = room_id
        await self.push_screen(RoomScreen(room_id, {**game, "room_id": room_id, "version": version}))

    @work(exclusive=True, group="flow", exit_on_error=False)
    async def join_room_flow(self, room: dict[str, Any]) -> None:
        """Join a room, first making sure the room's version of its game is installed."""
        room_id = str(room.get("room_id"))
        if room_id == self.current_room_id:
            # Our own room (e.g. after logging in again): no download offer, just go back in.
            room = {**room, **self.rooms.get(room_id, {})}
        else:
            refusal = self.join_refusal({**room, **self.rooms.get(room_id, {})})
            if refusal:
                self.notify(f"Cannot join room {room_id}: {refusal}", severity="warning")
                return
            if not await self.ensure_version(room, str(room.get("version")), "To join this room"):
                return
        try:
            out = await self.session.request("JOIN_ROOM", {"room_id": room_id})
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            self.notify(f"Cannot join room {room_id}: {self.describe_error(exc)}", severity="error")
            return
        self.current_room_id = room_id
        await self.push_screen(
            RoomScreen(room_id, {**room, "version": out.get("version", room.get("version"))})
        )

    def join_refusal(self, room: dict[str, Any]) -> str:
        """Why joining ``room`` cannot work, known before any download ("" when it may): the server checks again."""
        if self.current_room_id is not None and self.current_room_id != str(room.get("room_id")):
            return f"you are already in room {self.current_room_id}: leave it first"
        status = str(room.get("status") or "WAITING")
        if status != "WAITING":
            return "the game has already started" if status in ("VOTING", "STARTING", "PLAYING") else "it is closed"
        players, most = room.get("players") or [], room.get("max_players")
        if isinstance(most, int) and len(players) >= most:
            return f"the room is full ({most} players)"
        return ""

    async def leave_room(self, room_id: str) -> None:
        try:
            await self.session.request("LEAVE_ROOM", {"room_id": room_id})
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            self.notify(f"Leaving the room failed: {self.describe_error(exc)}", severity="warning")
        if self.current_room_id == room_id:
            self.current_room_id = None

    # --- the game client ----------------------------------------------------------------------------------------
    def start_game(self, start: GameStart) -> None:
        """Launch the game client of a started room once (the host learns it twice: answer and push)."""
        if not start.room_id or start.room_id in self.games_running:
            return
        self.games_running.add(start.room_id)
        self.run_game(start)

    @work(group="game", exit_on_error=False)
    async def run_game(self, start: GameStart) -> None:
        try:
            summary, ok = await self._play(start)
        finally:
            self.games_running.discard(start.room_id)
        self.return_to_room(start.room_id)
        for screen in self.screen_stack:
            screen.post_message(GameFinished(start.room_id, summary, ok))
        self.notify(summary, title="Game", severity="information" if ok else "error", timeout=8)

    async def _play(self, start: GameStart) -> tuple[str, bool]:
        name = start.game_name or "the game"
        try:
            if self.library is None or self.session.username is None:
                raise LaunchError("you are not logged in")
            try:
                folder = Path(self.library.version_dir(start.game_name, start.version))
            except ValueError as exc:
                raise LaunchError(f"the server sent an unusable game name or version ({exc})") from exc
            address = self.session.address
            plan = plan_launch(folder, start, self.session.username, lobby=(address.host, address.port))
            if not plan.terminal:
                check_display()
            self.notify(f"Starting {name} {start.version}…", title="Game")
            started = time.monotonic()
            outcome = await self._run_plan(plan)
        except LaunchError as exc:
            # The client cannot run here: give the seat back so the others are not left waiting for us.
            await self._leave_match(start.room_id)
            return f"Could not start {name}: {exc}", False
        if outcome.ok:
            return f"{name} client closed normally.", True
        if outcome.interrupted:
            return f"You left {name} (Ctrl-C). The match goes on: choose 'Back to the game' to return.", True
        # Only a window game counts an early exit as "could not run"; a terminal game showed its own error.
        quick = not plan.terminal and time.monotonic() - started < CLIENT.game_quick_exit_s
        why = explain_failure(outcome, quick=quick)
        if why is not None:
            # It exited at once (a missing library, no window): it will not work by retrying; free the seat.
            await self._leave_match(start.room_id)
            return f"Could not run {name}: {why}", False
        detail = f": {outcome.error_tail.splitlines()[-1]}" if outcome.error_tail else ""
        return f"{name} client stopped with exit code {outcome.exit_code}{detail}", False

    async def _leave_match(self, room_id: str) -> None:
        """LEAVE_MATCH: the match goes on (or ends as abandoned) without us; we stay in the room."""
        try:
            await self.session.request("LEAVE_MATCH", {"room_id": room_id}, timeout=CLIENT.leave_match_timeout_s)
        except (PlayHubError, ConnectionError, TimeoutError):
            pass  # the match may be over already; the room screen shows the state either way

    async def _run_plan(self, plan: LaunchPlan) -> GameOutcome:
        if plan.terminal:
            # A CLI game needs the terminal: hand it over, and take it back when the client exits. Nothing is drawn
            # meanwhile (batch_update holds every repaint): pushes are kept and replayed once we are back.
            self.suspended = True
            try:
                with self.batch_update(), self.suspend():
                    return await run_game_client(plan, inherit_terminal=True)
            except SuspendNotSupported:
                pass  # headless (tests) or a terminal that cannot be suspended: run it without a terminal
            finally:
                self.suspended = False
                self._release_held()
                self.refresh(layout=True)
        return await run_game_client(plan, inherit_terminal=False)

    @work(group="game", exit_on_error=False)
    async def rejoin_match(self, room_id: str) -> None:
        """Back into a running match: the server gives the address and our ticket again; relaunch the client."""
        try:
            out = await self.session.request("REJOIN_MATCH", {"room_id": room_id})
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            self.notify(f"Cannot go back to the game: {self.describe_error(exc)}", severity="error")
            return
        self.start_game(GameStart.from_payload(out, self.rooms.get(room_id)))

    def return_to_room(self, room_id: str) -> None:
        """Bring the room screen back to the top after a game (the player may have wandered off)."""
        rooms = [s for s in self.screen_stack if isinstance(s, RoomScreen) and s.room_id == room_id]
        if not rooms:
            return
        while self.screen is not rooms[-1] and len(self.screen_stack) > 1:
            self.pop_screen()

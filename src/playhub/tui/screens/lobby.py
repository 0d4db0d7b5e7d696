"""The lobby: who is online and every room, kept live by pushes; create a room or join one."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, ListItem, ListView

from playhub.protocol.errors import PlayHubError
from playhub.tui.format import safe_text
from playhub.tui.messages import ServerPush
from playhub.tui.screens.base import PlayerScreen
from playhub.tui.screens.lifecycle import drawing, is_gone
from playhub.tui.screens.modals import PickGameModal
from playhub.tui.widgets import NumberedTable

COLUMNS = ["Game", "Version", "Host", "Players", "Status", "Room"]


def room_players_text(room: dict[str, Any]) -> str:
    players = room.get("players") or []
    most = room.get("max_players")
    return f"{len(players)}/{most}" if most else str(len(players))


class LobbyScreen(PlayerScreen):
    TITLE = "Lobby"
    HELP = (
        "Players online on the left, rooms on the right; both update by themselves.\n"
        "Choose a room (its number, or arrows and Enter) to join it, or press c to create a room.\n"
        "If the room's game version is not installed, you are offered to download it first."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "create", "Create room"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.online: set[str] = set()
        self.rooms: dict[str, dict[str, Any]] = {}

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="panes"):
            with Vertical(id="players-pane"):
                yield Label("Players online", classes="pane-title", id="players-title")
                yield ListView(id="players")
            with Vertical(id="rooms-pane"):
                yield Label("Rooms", classes="pane-title", id="rooms-title")
                yield NumberedTable(id="rooms")
        yield Label("Loading…", id="status", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        # WATCH_LOBBY (in load) makes the server push every room change; the slow poll only repairs the lists after
        # a reconnect, since a new connection starts unwatched.
        self.set_interval(self.player_app.lobby_poll_s, self._poll)

    def on_screen_resume(self) -> None:
        self.load()

    def _poll(self) -> None:
        if self.player_app.session.online and self.is_current:
            self.load()

    def reload(self) -> None:
        self.load()

    def action_refresh(self) -> None:
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        app = self.player_app
        try:
            players = await app.session.request("LIST_PLAYERS")
            rooms = await app.session.request("WATCH_LOBBY")
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            if not is_gone(self):
                self.query_one("#status", Label).update(
                    f"Could not load the lobby: {app.describe_error(exc)}"
                )
            return
        self.online = set(players.get("online_players", []))
        self.rooms = {str(r.get("room_id")): r for r in rooms.get("rooms", []) if r.get("status") != "CLOSED"}
        app.rooms.update(self.rooms)
        self._render_players()
        self._render_rooms()

    def on_server_push(self, message: ServerPush) -> None:
        if message.type == "ROOM_UPDATED" and isinstance(message.payload.get("room"), dict):
            room = message.payload["room"]
            room_id = str(room.get("room_id"))
            if room.get("status") == "CLOSED":
                self.rooms.pop(room_id, None)
            else:
                self.rooms[room_id] = room
            self._render_rooms()
        elif message.type == "PLAYER_PRESENCE":
            self.online |= set(message.payload.get("online") or [])
            self.online -= set(message.payload.get("offline") or [])
            self._render_players()

    @drawing
    def _render_players(self) -> None:
        me = self.player_app.session.username
        view = self.query_one("#players", ListView)
        view.clear()
        for name in sorted(self.online):
            view.append(ListItem(Label(safe_text(f"● {name}" + ("  (you)" if name == me else "")), markup=False)))
        self.query_one("#players-title", Label).update(f"Players online ({len(self.online)})")

    @drawing
    def _render_rooms(self) -> None:
        me = self.player_app.session.username
        rows = []
        for room_id, room in sorted(
            self.rooms.items(), key=lambda item: str(item[1].get("status")) != "WAITING"
        ):
            players = room.get("players") or []
            rows.append(
                (
                    room_id,
                    [
                        str(room.get("display_name") or room.get("game_name") or room.get("game_id")),
                        str(room.get("version") or ""),
                        str(room.get("host") or ""),
                        room_players_text(room),
                        str(room.get("status") or "") + ("  (you are in)" if me in players else ""),
                        room_id,
                    ],
                )
            )
        table = self.query_one(NumberedTable)
        table.set_rows(COLUMNS, rows)
        self.query_one("#rooms-title", Label).update(f"Rooms ({len(rows)})")
        status = self.query_one("#status", Label)
        if rows:
            status.update("Choose a room to join it, or press c to create one.")
            if not isinstance(self.app.focused, NumberedTable):
                table.focus()
        else:
            status.update("No rooms yet: press c to create one.")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        room = self.rooms.get(str(event.row_key.value))
        if room is None:
            return
        app = self.player_app
        if app.session.username in (room.get("players") or []):
            app.current_room_id = str(room.get("room_id"))
            app.open_screen("room", str(room.get("room_id")), room)
        elif room.get("status") != "WAITING":
            self.notify(
                f"This room is {str(room.get('status')).lower()}: it cannot be joined now.",
                severity="warning",
            )
        else:
            app.join_room_flow(room)

    def action_create(self) -> None:
        self.pick_and_create()

    @work(exclusive=True, group="create")
    async def pick_and_create(self) -> None:
        app = self.player_app
        try:
            games = list((await app.session.request("LIST_GAMES")).get("games", []))
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            self.notify(f"Cannot list games: {app.describe_error(exc)}", severity="error")
            return
        installed = {str(g.get("name")): app.installed_version(str(g.get("name"))) for g in games}
        game = await self.app.push_screen_wait(PickGameModal(games, installed))
        if game is not None:
            app.create_room_flow(game)

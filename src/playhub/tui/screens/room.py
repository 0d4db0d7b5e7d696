"""A room: members, host, ready marks and status, live through pushes; ready, start (host), leave.

When the game starts the app launches the game client and brings this screen back when it exits, with a short
result here (how the client ended, and the match result the server reported).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import OptionList, Static

from playhub.protocol.errors import PlayHubError
from playhub.tui.format import results_text, safe_markup, safe_text
from playhub.tui.launcher import GameStart
from playhub.tui.messages import GameFinished, ServerPush
from playhub.tui.screens.base import PlayerScreen
from playhub.tui.screens.lifecycle import drawing, is_gone
from playhub.tui.screens.modals import ConfirmModal
from playhub.tui.widgets import NumberedMenu, NumberedTable

STATUS_TEXT = {
    "WAITING": "Waiting to start",
    "VOTING": "Start vote in progress",
    "STARTING": "Starting the game server…",
    "PLAYING": "Game in progress",
    "CLOSED": "Closed",
}


class RoomScreen(PlayerScreen):
    HELP = (
        "Mark yourself ready (r) so the host knows you are set. The host starts the game (s); everyone else\n"
        "is asked to accept. When all accept, the game opens by itself; when it ends you come back here.\n"
        "If your game closed while the match goes on, g takes you back into it.\n"
        "l or Esc leaves the room (leaving during a match ends it when too few players remain)."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "ready", "Ready/unready"),
        Binding("s", "start", "Start (host)"),
        Binding("g", "rejoin", "Back to the game"),
        Binding("l,escape", "leave", "Leave"),
    ]

    def __init__(self, room_id: str, room: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.room_id = room_id
        self.room: dict[str, Any] = dict(room or {})
        self.room.setdefault("room_id", room_id)
        self.gone = ""  # why we are no longer in this room ("" while we are)
        self.activity = ""
        self.match_result = ""
        self.client_result = ""
        self.client_ok = True

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="room"):
            with Vertical(id="left"):
                yield Static("", id="summary")
                yield NumberedTable(id="members")
                yield Static("", id="activity", markup=False)
                yield Static("", id="result", markup=False)
            with Vertical(id="right"):
                yield NumberedMenu(id="actions")

    def on_mount(self) -> None:
        self._redraw()
        self.query_one("#actions", NumberedMenu).focus()
        self.reload()

    @property
    def me(self) -> str | None:
        return self.player_app.session.username

    @property
    def is_host(self) -> bool:
        return self.room.get("host") == self.me

    @property
    def is_ready(self) -> bool:
        return self.me in (self.room.get("ready") or [])

    @property
    def can_rejoin(self) -> bool:
        """A match runs, we play in it, and our game client is not running: we can go back in."""
        match = self.room.get("match")
        return (
            not self.gone
            and isinstance(match, dict)
            and self.me in (match.get("players") or [])
            and self.room_id not in self.player_app.games_running
        )

    # --- data --------------------------------------------------------------------------------------------------
    def reload(self) -> None:
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        try:
            rooms = (await self.player_app.session.request("LIST_ROOMS")).get("rooms", [])
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            self.activity = f"Could not refresh the room: {self.player_app.describe_error(exc)}"
            self._redraw()
            return
        room = next((r for r in rooms if str(r.get("room_id")) == self.room_id), None)
        if room is None:
            self._lost("This room no longer exists.")
        else:
            self._update_room(room)

    def _update_room(self, room: dict[str, Any]) -> None:
        self.room = {**self.room, **room}
        self.player_app.rooms[self.room_id] = self.room
        if room.get("status") == "CLOSED":
            self._lost("The room was closed.")
        elif self.me not in (room.get("players") or []):
            self._lost("You are no longer a member of this room.")
        else:
            self._redraw()

    def _lost(self, why: str) -> None:
        self.gone = why
        if self.player_app.current_room_id == self.room_id:
            self.player_app.current_room_id = None
        self._redraw()

    def on_server_push(self, message: ServerPush) -> None:
        p = message.payload
        if message.type == "ROOM_UPDATED" and isinstance(p.get("room"), dict):
            if str(p["room"].get("room_id")) == self.room_id:
                self._update_room(p["room"])
            return
        if str(p.get("room_id")) != self.room_id:
            return
        if message.type == "VOTE_REQUEST":
            self.activity = f"{p.get('by')} asked to start the game: answer the prompt."
        elif message.type == "VOTE_RESULT":
            if p.get("accepted"):
                self.activity = "Everyone accepted: the game is starting."
            else:
                self.activity = f"The start was cancelled: {p.get('reason') or 'someone refused'}."
        elif message.type == "GAME_STARTED":
            self.activity = f"The game started on {p.get('game_host')}:{p.get('game_port')}."
        elif message.type == "GAME_ENDED":
            detail = results_text(p.get("results"))
            reason = p.get("reason") or "finished"
            self.match_result = f"Match over ({reason})" + (f": {detail}" if detail else ".")
        self._redraw()

    def on_game_finished(self, message: GameFinished) -> None:
        if message.room_id == self.room_id:
            self.client_result, self.client_ok = message.summary, message.ok
            self._redraw()

    # --- display -----------------------------------------------------------------------------------------------
    @drawing
    def _redraw(self) -> None:
        r = self.room
        game = r.get("display_name") or r.get("game_name") or r.get("name") or r.get("game_id") or "?"
        self.title = safe_text(f"Room {self.room_id}")
        status = str(r.get("status") or "WAITING")
        players = list(r.get("players") or [])
        need = r.get("min_players") or r.get("max_players")
        lines = [
            f"[b]{safe_markup(str(game))}[/b] {safe_markup(str(r.get('version') or ''))}   room [b]{safe_markup(self.room_id)}[/b]",
            f"Host: [b]{safe_markup(str(r.get('host') or '?'))}[/b]   Status: [b]{safe_markup(STATUS_TEXT.get(status, status))}[/b]   "
            f"Players: {len(players)}/{r.get('max_players') or '?'}"
            + (f" (needs {need} to start)" if need and len(players) < int(need) else ""),
        ]
        ready_names = set(r.get("ready") or [])
        all_ready = r.get("all_ready")
        if all_ready is None:  # an older server: work it out from the members
            all_ready = bool(need) and len(players) >= int(need) and ready_names >= set(players)
        match = r.get("match") if isinstance(r.get("match"), dict) else None
        if self.gone:
            lines.append(f"[b red]{safe_markup(self.gone)}[/b red]")
        elif status == "WAITING" and all_ready:
            lines.append(
                "[b]All ready![/b] " + ("Press s to start." if self.is_host else "Waiting for the host to start.")
            )
        elif match is not None:
            lines.append(
                f"Match: {safe_markup(', '.join(match.get('players') or []))} on "
                f"{safe_markup(str(match.get('game_host')))}:{match.get('game_port')}"
                + ("   [b]press g to go back to the game[/b]" if self.can_rejoin else "")
            )
        self.query_one("#summary", Static).update("\n".join(lines))
        rows = []
        for name in players:
            rows.append(
                (
                    name,
                    [
                        name + ("  (you)" if name == self.me else ""),
                        "★ host" if name == r.get("host") else "",
                        "✓ ready" if name in ready_names else "…",
                    ],
                )
            )
        self.query_one("#members", NumberedTable).set_rows(["Player", "Role", "Ready"], rows)
        self.query_one("#activity", Static).update(safe_text(self.activity, multiline=True))
        result = self.query_one("#result", Static)
        result.update(
            safe_text("\n".join(t for t in (self.client_result, self.match_result) if t), multiline=True)
        )
        result.set_class(not self.client_ok, "-failed")
        self._render_actions()

    @drawing
    def _render_actions(self) -> None:
        menu = self.query_one("#actions", NumberedMenu)
        if self.gone:
            menu.set_entries([("back", "Back to the lobby")])
            return
        entries = []
        if self.can_rejoin:
            entries.append(("rejoin", "Back to the game"))
        entries.append(("ready", "I'm not ready" if self.is_ready else "I'm ready"))
        if self.is_host:
            entries.append(("start", "Start the game"))
        else:
            entries.append(("start", "-Start the game (host only)"))
        entries.append(("leave", "Leave the room"))
        menu.set_entries(entries)

    # --- actions -----------------------------------------------------------------------------------------------
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        {
            "ready": self.action_ready,
            "rejoin": self.action_rejoin,
            "start": self.action_start,
            "leave": self.action_leave,
            "back": self.dismiss,
        }.get(event.option.id or "", lambda: None)()

    def action_ready(self) -> None:
        if not self.gone:
            self.toggle_ready()

    @work(exclusive=True, group="ready")
    async def toggle_ready(self) -> None:
        command = "UNREADY" if self.is_ready else "READY"
        try:
            await self.player_app.session.request(command, {"room_id": self.room_id})
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            self.notify(f"{command.title()} failed: {self.player_app.describe_error(exc)}", severity="error")

    def action_rejoin(self) -> None:
        if self.can_rejoin:
            self.player_app.rejoin_match(self.room_id)
        elif not self.gone:
            self.notify("There is no match of yours to go back to.", severity="warning")

    def action_start(self) -> None:
        if self.gone:
            return
        if not self.is_host:
            self.notify("Only the host can start the game.", severity="warning")
            return
        self.start()

    @work(exclusive=True, group="start")
    async def start(self) -> None:
        app = self.player_app
        self.activity = "Asking everyone to accept the start…"
        self._redraw()
        try:
            # The server holds the answer until every member voted (or the vote timed out).
            out = await app.session.request("START_ROOM", {"room_id": self.room_id}, timeout=None)
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            self.activity = f"The game did not start: {app.describe_error(exc)}"
            self._redraw()
            return
        self.activity = f"The game started on {out.get('game_host')}:{out.get('game_port')}."
        self._redraw()
        app.start_game(GameStart.from_payload(out, self.room))

    def action_leave(self) -> None:
        if self.gone:
            self.dismiss()
        else:
            self.leave()

    @work(exclusive=True, group="leave")
    async def leave(self) -> None:
        if not await self.app.push_screen_wait(ConfirmModal("Leave this room?", yes="Leave", no="Stay")):
            return
        await self.player_app.leave_room(self.room_id)
        if not is_gone(self):
            self.dismiss()

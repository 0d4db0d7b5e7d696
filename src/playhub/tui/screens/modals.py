"""Modal screens: help, yes/no confirmation, the start vote, picking a game, and a download with progress."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, OptionList, ProgressBar, Static

from playhub.protocol.errors import PlayHubError
from playhub.tui.format import safe_text
from playhub.tui.host import PlayerHost
from playhub.tui.messages import ServerPush
from playhub.tui.screens.lifecycle import is_gone
from playhub.tui.widgets import NumberedMenu


class HelpModal(ModalScreen[None]):
    """``?``: what this screen is for and every key it understands."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q,enter", "close", "Close", key_display="Esc"),
    ]

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.target = screen

    def compose(self) -> ComposeResult:
        help_text = getattr(self.target, "HELP", "") or ""
        keys: list[str] = []
        seen: set[str] = set()
        for _key, active in self.target.active_bindings.items():
            binding = active.binding
            # Only the keys the footer shows: the focused widget's own cursor keys would bury them.
            if not binding.show or not binding.description or binding.description in seen:
                continue
            seen.add(binding.description)
            shown = binding.key_display or self.app.get_key_display(binding)
            keys.append(f"  [b]{shown:>8}[/b]  {binding.description}")
        keys.append(f"  [b]{'1-9':>8}[/b]  choose the numbered entry")
        keys.append(f"  [b]{'↑ ↓ ⏎':>8}[/b]  move and choose")
        with Vertical():
            yield Label(f"Help — {self.target.title or self.app.title}", classes="title")
            if help_text:
                yield Static(help_text + "\n")
            yield Static("\n".join(keys))
            yield Label("\nPress Esc to close.")

    def action_close(self) -> None:
        self.dismiss()


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question; 1 or y = yes, 2, n or Esc = no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, classes="title", markup=False)
            yield NumberedMenu([("yes", self.yes), ("no", self.no)], id="choices")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class VoteModal(ModalScreen[bool | None]):
    """The start vote: appears over any screen when the host asks to start; counts down to the server's timeout."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "vote(True)", "Accept"),
        Binding("n", "vote(False)", "Refuse"),
    ]

    def __init__(self, payload: dict[str, Any], room: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.seq = payload.get("seq")
        self.room_id = str(payload.get("room_id", ""))
        self.by = str(payload.get("by", "the host"))
        self.remaining = float(payload.get("timeout_s") or 30.0)
        self.room = room or {}
        self._answered = False
        self._vote_done = False

    def compose(self) -> ComposeResult:
        game = self.room.get("display_name") or self.room.get("game_name") or "the game"
        with Vertical():
            yield Label(safe_text(f"Start {game}?"), classes="title", markup=False)
            yield Static(
                safe_text(f"{self.by} wants to start the game in room {self.room_id}. Are you in?"), markup=False
            )
            yield NumberedMenu([("yes", "Yes, start"), ("no", "No, not now")], id="choices")
            yield Label("", id="countdown")
            yield Label("", id="vote-error", classes="error", markup=False)

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(1.0, self._tick)

    def finish(self, result: bool | None) -> None:
        """Dismiss once. Our VOTE's answer and the VOTE_RESULT push race (the last voter's VOTE decides the vote);
        a second dismiss would pop the screen under the modal and throw the player out of the room."""
        if self._vote_done or is_gone(self):
            return
        self._vote_done = True
        self.dismiss(result)

    def _tick(self) -> None:
        if self.remaining <= 0:
            if not self._answered:
                self.finish(None)
            return
        self.query_one("#countdown", Label).update(f"{int(self.remaining)} s left to answer")
        self.remaining -= 1

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_vote(event.option.id == "yes")

    def action_vote(self, accept: bool) -> None:
        if not self._answered:
            self._answered = True
            self.send_vote(accept)

    @work(exclusive=True, group="vote")
    async def send_vote(self, accept: bool) -> None:
        app: PlayerHost = self.app  # type: ignore[assignment]
        try:
            await app.session.request("VOTE", {"seq": self.seq, "accept": accept})
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            self._answered = False
            if is_gone(self):
                return
            self.query_one("#vote-error", Label).update(f"Your answer did not reach the server: {exc}")
            return
        self.finish(accept)

    def on_server_push(self, message: ServerPush) -> None:
        # The vote ended (decided by our own vote, someone refused, time ran out, the room closed): nothing to answer.
        if message.type == "VOTE_RESULT" and message.payload.get("seq") == self.seq:
            self.finish(None)


class PickGameModal(ModalScreen[dict[str, Any] | None]):
    """Choose a game from the store listing (used to create a room from the lobby)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, games: list[dict[str, Any]], installed: dict[str, str | None]) -> None:
        super().__init__()
        self.games = games
        self.installed = installed

    def compose(self) -> ComposeResult:
        entries = []
        for game in self.games:
            name = game.get("name", "?")
            have = self.installed.get(name)
            latest = game.get("latest_version")
            mark = (
                "installed" if have == latest else (f"update {have} → {latest}" if have else "not installed")
            )
            entries.append((name, f"{game.get('display_name') or name}  ({latest}, {mark})"))
        with Vertical():
            yield Label("Create a room for which game?", classes="title")
            if entries:
                yield NumberedMenu(entries, id="games")
            else:
                yield Static("The store has no games yet.")
            yield Label("Esc to cancel")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        chosen = next((g for g in self.games if g.get("name") == event.option.id), None)
        self.dismiss(chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)


class DownloadModal(ModalScreen[Any]):
    """Downloads one game version with a progress bar; dismisses with the installed game, or None on failure."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, game_id: str, label: str, version: str | None = None) -> None:
        super().__init__()
        self.game_id, self.label, self.version = game_id, label, version
        self.result: Any = None
        self._done = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                f"Downloading {self.label} {self.version or '(latest)'}", classes="title", markup=False
            )
            yield ProgressBar(total=None, show_eta=True, id="progress")
            yield Label("", id="status", markup=False)

    def on_mount(self) -> None:
        self.download()

    def _progress(self, done: int, total: int) -> None:
        if is_gone(self):
            return
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one("#status", Label).update(f"{done / 1024:,.0f} KiB of {total / 1024:,.0f} KiB")

    @work(exclusive=True, group="download")
    async def download(self) -> None:
        app: PlayerHost = self.app  # type: ignore[assignment]
        status = self.query_one("#status", Label)
        try:
            installed = await app.download(self.game_id, self.version, progress=self._progress)
        except Exception as exc:  # shown to the player; the library keeps the previous copy intact
            self._done = True
            status.add_class("error")
            status.update(f"Download failed: {app.describe_error(exc)}\nPress Esc to close.")
            return
        self._done = True
        if not is_gone(self):
            self.dismiss(installed)

    def action_close(self) -> None:
        if self._done:
            self.dismiss(None)
        else:
            self.workers.cancel_group(self, "download")
            self.dismiss(None)

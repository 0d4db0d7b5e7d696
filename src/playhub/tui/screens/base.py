"""What every player screen shares: header, connection banner, footer, ``?`` for help and ``Esc`` to go back."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header

from playhub.tui.host import PlayerHost
from playhub.tui.messages import ConnectionChanged
from playhub.tui.screens.modals import HelpModal
from playhub.tui.session import ConnState
from playhub.tui.widgets import ConnectionBanner


class PlayerScreen(Screen[None]):
    """Base screen: subclasses write ``compose_body`` and may override ``reload`` (called on mount and after a
    reconnect) and ``HELP`` (a few sentences shown by ``?``)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]
    HELP: ClassVar[str] = ""

    @property
    def player_app(self) -> PlayerHost:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header()
        yield ConnectionBanner()
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        return iter(())

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Fetch what the screen shows. Runs network calls in workers."""

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        if message.change.state is ConnState.ONLINE:
            self.reload()

    def action_back(self) -> None:
        self.dismiss()

    def action_help(self) -> None:
        self.app.push_screen(HelpModal(self))

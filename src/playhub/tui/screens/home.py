"""The home menu: store, library, lobby, my games, log out."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, OptionList, Static

from playhub.tui.screens.base import PlayerScreen
from playhub.tui.screens.modals import ConfirmModal
from playhub.tui.widgets import NumberedMenu

MENU = [
    ("store", "Store — browse, download and update games"),
    ("library", "Library — games on this computer"),
    ("lobby", "Lobby — players online, create or join a room"),
    ("mygames", "My games — games you played, write a review"),
    ("logout", "Log out"),
]


class HomeScreen(PlayerScreen):
    TITLE = "Home"
    HELP = (
        "Start in the Store to download a game, then go to the Lobby to create a room or join one.\n"
        "After a match, review the game under My games."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def compose_body(self) -> ComposeResult:
        with Vertical(id="home"):
            yield Label(f"Hello, {self.player_app.session.username}!", classes="title")
            yield Static("What would you like to do?", classes="muted")
            yield NumberedMenu(MENU, id="menu")

    def on_mount(self) -> None:
        self.query_one(NumberedMenu).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.open(event.option.id or "")

    def open(self, choice: str) -> None:
        if choice in ("store", "library", "lobby", "mygames"):  # each menu entry is the name of its screen
            self.player_app.open_screen(choice)
        elif choice == "logout":
            self.player_app.log_out()

    def action_quit(self) -> None:
        self.confirm_quit()

    @work(exclusive=True, group="quit")
    async def confirm_quit(self) -> None:
        """Esc or q on the first screen would end the app: ask first (one stray Esc must not close it)."""
        if await self.app.push_screen_wait(ConfirmModal("Quit PlayHub?", yes="Quit", no="Stay")):
            self.app.exit()

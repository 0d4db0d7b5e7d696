"""Log in or register. Errors appear under the form; the password is never echoed."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from playhub.protocol.errors import InvalidRequest, PlayHubError
from playhub.tui.screens.base import PlayerScreen
from playhub.tui.screens.lifecycle import is_gone


class LoginScreen(PlayerScreen):
    TITLE = "Log in"
    HELP = (
        "Log in with your player account, or register a new one with the same form.\n"
        "Usernames are 3-32 letters, digits, '_' or '-'; passwords at least 6 characters."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "register", "Register"),
        Binding("escape", "quit", "Quit"),
    ]

    def __init__(self, message: str = "") -> None:
        super().__init__()
        self.message = message  # why the player is here again (shown under the form)

    def compose_body(self) -> ComposeResult:
        app = self.player_app
        user, password = app.initial_credentials
        with Vertical(id="form"):
            yield Label("Welcome to PlayHub", classes="title")
            yield Static(f"Server: {app.address}", classes="muted", markup=False)
            yield Label("Username")
            yield Input(value=user or "", placeholder="your player name", id="username", max_length=32)
            yield Label("Password")
            yield Input(value=password or "", placeholder="password", password=True, id="password")
            with Horizontal(id="buttons"):
                yield Button("Log in", variant="primary", id="login")
                yield Button("Register", id="register")
            yield Static(self.message, id="error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#username", Input).focus()
        user, password = self.player_app.initial_credentials
        if user and password and not self.message:
            self.player_app.initial_credentials = (user, None)  # once: a later log out must not log in again
            self.submit(register=False)

    @on(Input.Submitted, "#username")
    def _next_field(self) -> None:
        self.query_one("#password", Input).focus()

    @on(Input.Submitted, "#password")
    @on(Button.Pressed, "#login")
    def _login(self) -> None:
        self.submit(register=False)

    @on(Button.Pressed, "#register")
    def action_register(self) -> None:
        self.submit(register=True)

    def action_quit(self) -> None:
        self.app.exit()

    def _show_error(self, text: str) -> None:
        if not is_gone(self):
            self.query_one("#error", Static).update(text)

    @work(exclusive=True, group="login")
    async def submit(self, register: bool) -> None:
        username = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not username or not password:
            self._show_error("Enter a username and a password.")
            return
        app = self.player_app
        self._show_error("Registering…" if register else "Logging in…")
        try:
            await app.ensure_connected()
        except (OSError, TimeoutError) as exc:
            self._show_error(f"Cannot reach the server at {app.address}: {exc}")
            return
        try:
            if register:
                await app.session.register(username, password)
            else:
                await app.session.login(username, password)
        except InvalidRequest as exc:
            self._show_error(f"Not accepted: {exc.message}")
            return
        except PlayHubError as exc:
            verb = "Registration" if register else "Login"
            self._show_error(f"{verb} failed: {exc.message}")
            return
        except (ConnectionError, TimeoutError) as exc:
            self._show_error(f"{app.describe_error(exc)}")
            return
        if is_gone(self):
            return
        self.query_one("#password", Input).value = ""
        app.after_login()

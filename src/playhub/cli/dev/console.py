"""The interactive ``playhub dev`` console: numbered menus to register or log in, publish a new game or a new version
of one of your games, look at your games (versions, status, reviews), delist or relist, log out.

Prompts block; network calls run on the console's own event loop. A dropped connection is reopened with the same
session token on the next request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.prompt import Confirm, Prompt
from rich.table import Table

from playhub import packages
from playhub.cli.common import DEV, EXIT_OK, CliError, describe, escape, print_error, transfer_progress
from playhub.cli.dev.views import fmt_score, games_table, reviews_view, versions_table
from playhub.client import Client, ConnectionLost
from playhub.client.publishing import check_folder, publish_folder
from playhub.protocol.errors import BadState, Conflict, PlayHubError, Unauthorized

T = TypeVar("T")


class _Quit(Exception):
    """The user asked to leave (menu choice, end of input or Ctrl-C at a prompt)."""


class DevConsole:
    """The menu-driven developer console. Prompts block; network calls run on a private event loop."""

    def __init__(self, args: argparse.Namespace, console: Console | None = None) -> None:
        self.args = args
        self.console = console or Console()
        self.address = DEV.address(args)
        self.loop = asyncio.new_event_loop()
        self.client: Client | None = None
        self.user: str | None = None
        self.token: str | None = None  # kept here too: a lost connection takes its Client with it
        self.last_folder: dict[str, str] = {}

    # prompts -------------------------------------------------------------------------------------------------
    def ask(self, label: str, default: str | None = None, password: bool = False) -> str:
        try:
            if password and sys.stdin.isatty():
                return Prompt.ask(label, password=True, console=self.console)
            if default is not None:
                return Prompt.ask(label, default=default, console=self.console).strip()
            return Prompt.ask(label, console=self.console).strip()
        except (EOFError, KeyboardInterrupt):
            raise _Quit from None

    def confirm(self, label: str, default: bool = True) -> bool:
        try:
            return Confirm.ask(label, default=default, console=self.console)
        except (EOFError, KeyboardInterrupt):
            raise _Quit from None

    def choose(self, title: str, options: list[str], back: str | None = None) -> int:
        """Numbered menu; returns 1..len(options), or 0 for ``back``. Invalid input re-prompts with the range."""
        self.console.print(f"\n[bold]{title}[/]")
        for i, text in enumerate(options, 1):
            self.console.print(f"  {i}) {text}")
        if back:
            self.console.print(f"  0) {back}")
        low = 0 if back else 1
        while True:
            raw = self.ask("Choose")
            if raw.isascii() and raw.isdigit() and low <= int(raw) <= len(options):
                return int(raw)
            self.console.print(f"[red]Please enter a number from {low} to {len(options)}.[/]")

    # network ---------------------------------------------------------------------------------------------------
    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def request(self, type_: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One request; reconnects once (reusing the session token) when the connection dropped."""
        for attempt in (1, 2):
            try:
                if self.client is None or self.client.closed:
                    self._reconnect()
                assert self.client is not None
                return self.run(self.client.request(type_, payload))
            except (ConnectionLost, ConnectionError):
                if attempt == 2:
                    raise
                self.client = None
        raise AssertionError("unreachable")

    def _reconnect(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.run(self.client.close())
        self.client = self.run(DEV.connect(self.address))
        self.client.token = self.token  # a dropped connection's session stays resumable for a grace period
        self.client.username = self.user

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.run(self.client.close())
        self.loop.close()

    # main loop ---------------------------------------------------------------------------------------------------
    def main(self) -> int:
        self.client = self.run(DEV.connect(self.address))
        self.console.print(f"[bold]PlayHub developer console[/] — server {escape(str(self.address))}")
        user, password = DEV.credentials(self.args)
        # Credentials given on the command line or in the environment: log in right away.
        if user and password:
            try:
                self.run(self.client.login_dev(user, password))
                self.user, self.token = user, self.client.token
                self.console.print(f"[green]Logged in as {user}.[/]")
            except PlayHubError as exc:
                self.report(exc)
        try:
            while True:
                try:
                    if self.user is None:
                        self.logged_out_menu()
                    else:
                        self.logged_in_menu()
                except PlayHubError as exc:
                    self.report(exc)
                except (ConnectionLost, ConnectionError) as exc:
                    self.console.print(
                        f"[red]Lost the connection to {escape(str(self.address))}: {escape(str(exc))}[/]"
                    )
                    self.client = None
                except packages.PackageError as exc:
                    self.console.print(f"[red]{escape(str(exc))}[/]", highlight=False)
        except _Quit:
            self.console.print("Bye.")
            return EXIT_OK

    def report(self, exc: PlayHubError) -> None:
        self.console.print(f"[red]Refused: {escape(str(describe(exc)))}[/]", highlight=False)
        if self.user is not None and (
            isinstance(exc, Unauthorized) or (isinstance(exc, BadState) and "log in" in exc.message)
        ):
            # The session ended (logged out, replaced by a newer login, or the server restarted).
            self.user = self.token = None
            if self.client is not None:
                self.client.token = None
            self.console.print("Your session has ended: please log in again.")

    def logged_out_menu(self) -> None:
        choice = self.choose("Welcome", ["Log in", "Register a developer account", "Quit"])
        if choice == 3:
            raise _Quit
        user = self.ask("Username")
        password = self.ask("Password", password=True)
        if not user or not password:
            self.console.print("[red]Username and password must not be empty.[/]")
            return
        if self.client is None or self.client.closed:
            self._reconnect()
        assert self.client is not None
        if choice == 1:
            self.run(self.client.login_dev(user, password))
            self.console.print(f"[green]Logged in as {user}.[/]")
        else:
            self.run(self.client.register_dev(user, password))
            self.console.print(f"[green]Registered and logged in as {user}.[/]")
        self.user, self.token = user, self.client.token

    def logged_in_menu(self) -> None:
        choice = self.choose(
            f"Developer menu ({self.user})",
            [
                "Publish a new game",
                "Publish a new version of one of my games",
                "My games: versions, status and reviews",
                "Delist or relist a game",
                "Log out",
            ],
            back="Quit",
        )
        if choice == 0:
            raise _Quit
        [self.publish_new_game, self.publish_new_version, self.show_games, self.toggle_status, self.logout][
            choice - 1
        ]()

    # actions ---------------------------------------------------------------------------------------------------
    def my_games(self) -> list[dict[str, Any]]:
        return self.request("LIST_MY_GAMES", {})["games"]

    def pick_game(self, title: str) -> dict[str, Any] | None:
        games = self.my_games()
        if not games:
            self.console.print("You have no games yet: choose 'Publish a new game' first.")
            return None
        self.console.print(games_table(games, numbered=True))
        labels = [escape(f"{g['name']} ({g.get('latest_version') or 'no version'}, {g['status']})") for g in games]
        choice = self.choose(title, labels, back="Back")
        return games[choice - 1] if choice else None

    def ask_folder(self, default: str | None = None) -> tuple[Path, packages.Manifest] | None:
        raw = self.ask("Game folder (with manifest.json)", default=default)
        if not raw:
            self.console.print("[red]The folder must not be empty.[/]")
            return None
        folder = Path(raw).expanduser()
        try:
            manifest = check_folder(folder)
        except packages.PackageError as exc:
            self.console.print(f"[red]Cannot publish this folder: {escape(str(exc))}[/]", highlight=False)
            return None
        table = Table(title=f"manifest.json of {escape(str(folder))}", show_header=False)
        for key in (
            "name",
            "display_name",
            "type",
            "max_players",
            "min_players",
            "entry_server",
            "entry_client",
            "description",
        ):
            table.add_row(key, escape(str(getattr(manifest, key))))
        self.console.print(table)
        return folder, manifest

    def ask_version(self, suggested: str) -> str:
        while True:
            version = self.ask("Version", default=suggested)
            if packages.is_version(version):
                return version
            self.console.print("[red]A version is major.minor.patch, for example 1.0.0.[/]")

    def upload(self, folder: Path, version: str) -> dict[str, Any]:
        assert self.client is not None
        with transfer_progress(self.console, "uploading") as bar:
            task = bar.add_task("upload", total=None)
            return self.run(
                publish_folder(
                    self.client,
                    folder,
                    version,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            )

    def _publish_loop(self, folder: Path, suggested: str) -> None:
        """Ask for a version and upload; a version the server finds too old offers its suggestion again."""
        while True:
            version = self.ask_version(suggested)
            if self.client is None or self.client.closed:
                self._reconnect()
            try:
                result = self.upload(folder, version)
            except Conflict as exc:
                if "suggested_version" not in exc.payload:
                    raise
                self.report(exc)
                suggested = exc.payload["suggested_version"]
                if not self.confirm(f"Try again with {suggested} or another version?"):
                    return
                continue
            what = "new game" if result["created"] else "new version"
            self.console.print(
                f"[green]Published {what}: {escape(str(folder.name))} {escape(result['version'])}.[/]",
                highlight=False,
            )
            return

    def publish_new_game(self) -> None:
        picked = self.ask_folder()
        if picked is None:
            return
        folder, manifest = picked
        mine = {g["name"]: g for g in self.my_games()}
        if manifest.name in mine:
            self.console.print(
                f"You already have a game named '{manifest.name}': use 'Publish a new version' for it."
            )
            return
        self.last_folder[manifest.name] = str(folder)
        self._publish_loop(folder, "1.0.0")

    def publish_new_version(self) -> None:
        game = self.pick_game("Which game gets a new version?")
        if game is None:
            return
        hint = self.request("VERSION_HINT", {"game_id": game["game_id"]})
        self.console.print(
            f"Latest version: [bold]{escape(hint['latest_version'] or 'none')}[/]; "
            f"suggested next: [bold]{escape(hint['suggested_version'])}[/]"
        )
        picked = self.ask_folder(self.last_folder.get(game["name"]))
        if picked is None:
            return
        folder, manifest = picked
        if manifest.name != game["name"]:
            self.console.print(
                f"[red]This folder's manifest names '{escape(manifest.name)}', not '{escape(game['name'])}'.[/]",
                highlight=False,
            )
            return
        self.last_folder[game["name"]] = str(folder)
        self._publish_loop(folder, hint["suggested_version"])

    def show_games(self) -> None:
        game = self.pick_game("Show the versions and reviews of which game?")
        if game is None:
            return
        versions = self.request("LIST_VERSIONS", {"game_id": game["game_id"]})["versions"]
        self.console.print(versions_table(game["name"], versions) if versions else "No versions yet.")
        self.console.print(
            f"Status: {game['status']}; players: {game.get('min_players', game['max_players'])}-"
            f"{game['max_players']}; score: {fmt_score(game)}. {escape(str(game.get('description', '')))}",
            highlight=False,
        )
        # Every review with its score and text, newest first.
        reviews = self.request("MY_GAME_REVIEWS", {"game_id": game["game_id"]})
        self.console.print(reviews_view(game["name"], reviews))

    def toggle_status(self) -> None:
        game = self.pick_game("Delist or relist which game?")
        if game is None:
            return
        if game["status"] == "ONLINE":
            question, new = f"Delist {game['name']}? Players will no longer see or download it", "OFFLINE"
        else:
            question, new = f"Relist {game['name']} in the store?", "ONLINE"
        if not self.confirm(question):
            return
        self.request("SET_GAME_STATUS", {"game_id": game["game_id"], "status": new})
        self.console.print(f"[green]{escape(game['name'])} is now {'delisted' if new == 'OFFLINE' else 'listed'}.[/]")

    def logout(self) -> None:
        with contextlib.suppress(PlayHubError):
            self.request("LOGOUT", {})
        if self.client is not None:
            self.client.token = None
        self.console.print(f"Logged out {self.user}.")
        self.user = self.token = None


def run_interactive(args: argparse.Namespace) -> int:
    dev = DevConsole(args)
    try:
        return dev.main()
    except CliError as exc:
        print_error(str(exc))
        return exc.status
    finally:
        dev.close()

"""``playhub dev``: the developer console (interactive menus) and the same actions as scriptable subcommands.

Without an action, ``playhub dev`` opens a numbered-menu console: register or log in, publish a new game, publish a
new version of one of your games, look at your games (versions, status, scores), delist or relist, log out.

With an action it runs once and exits, for scripts and CI::

    playhub dev register --user ann --password s3cret-pw
    playhub dev publish games/tictactoe --version 1.2.0
    playhub dev games --json

Exit status: 0 done, 1 refused by the server or no connection, 2 bad usage or a local problem (folder, manifest).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.prompt import Confirm, Prompt
from rich.table import Table

from playhub import packages
from playhub.client import Client, ConnectionLost, ServerAddress, resolve_address
from playhub.client.publishing import check_folder, find_my_game, publish_folder
from playhub.protocol.errors import BadState, Conflict, PlayHubError, Unauthorized

# Server strings (names, descriptions, reviews, error messages) are typed by other people: every one printed goes
# through this, which removes terminal control sequences and escapes Rich markup.
from playhub.tui.format import safe_console_markup as escape
from playhub.wire.framing import Framing

T = TypeVar("T")

USER_ENV = "PLAYHUB_DEV_USER"
PASSWORD_ENV = "PLAYHUB_DEV_PASSWORD"
PUBLISH_ATTEMPTS = 3  # a dropped connection during a scripted publish is retried; the upload resumes

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2

_EPILOG = f"""\
server address: --host/--port, else ${{PLAYHUB_DEV_HOST}}/${{PLAYHUB_DEV_PORT}} (or seed 003's DEV_CONNECT_HOST/PORT),
else the runtime_ports.json in --data-dir (or $PLAYHUB_DATA_DIR, default ./playhub-data), else 127.0.0.1:5501.
credentials for actions: --user/--password, else ${USER_ENV}/${PASSWORD_ENV}, else a prompt when run in a terminal.

examples:
  playhub dev                                   interactive console
  playhub dev init mygame --type cli            start a new game folder from a template
  playhub dev publish ./mygame                  publish it (a new game, or the suggested next version)
  playhub dev publish ./mygame --version 2.0.0  publish a chosen version
  playhub dev games                             your games with status, latest version and scores
  playhub dev versions mygame                   the versions of one game
  playhub dev delist mygame / relist mygame     hide it from the store / list it again
"""


class CliError(Exception):
    """A problem reported to the user as one line, with the exit status to use."""

    def __init__(self, message: str, status: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.status = status


# --- argument parsing --------------------------------------------------------------------------------------------
def _common_options() -> argparse.ArgumentParser:
    # SUPPRESS keeps a subcommand's parser from overwriting a value given before the action name.
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("connection")
    g.add_argument("--host", default=argparse.SUPPRESS, help="developer server host")
    g.add_argument("--port", type=int, default=argparse.SUPPRESS, help="developer server port")
    g.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="server data directory holding runtime_ports.json",
    )
    g.add_argument("--user", default=argparse.SUPPRESS, help=f"developer username (or ${USER_ENV})")
    g.add_argument("--password", default=argparse.SUPPRESS, help=f"developer password (or ${PASSWORD_ENV})")
    return common


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    common = _common_options()
    p = sub.add_parser(
        "dev",
        parents=[common],
        help="developer console: publish games and versions, delist, see scores",
        description="Publish and manage your games on a PlayHub server. Without an action: an interactive "
        "menu-driven console. With an action: run it once (for scripts and CI).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=run_interactive)
    actions = p.add_subparsers(dest="dev_action", metavar="<action>")

    def action(
        name: str, func: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        a = actions.add_parser(name, parents=[common], help=help_text, description=help_text)
        a.set_defaults(func=func)
        return a

    action("register", cmd_register, "create a developer account")
    action("login", cmd_login, "check that your credentials are accepted")
    a = action("publish", cmd_publish, "publish a game folder: a new game, or a new version of your game")
    a.add_argument("folder", type=Path, help="the game folder, with manifest.json at its root")
    a.add_argument(
        "--version", help="version to publish (default: the server's suggestion, 1.0.0 for a new game)"
    )
    a.add_argument("--json", action="store_true", help="print the result as JSON")
    a.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = action("games", cmd_games, "list your games with status, latest version and scores")
    a.add_argument("--json", action="store_true", help="print the list as JSON")
    a = action("versions", cmd_versions, "list the versions of one of your games")
    a.add_argument("game", help="game name or game_id")
    a.add_argument("--json", action="store_true", help="print the list as JSON")
    a = action("reviews", cmd_reviews, "read the reviews of one of your games, newest first")
    a.add_argument("game", help="game name or game_id")
    a.add_argument("--json", action="store_true", help="print the reviews as JSON")
    a = action("delist", cmd_delist, "hide a game from the store (files and versions are kept)")
    a.add_argument("game", help="game name or game_id")
    a = action("relist", cmd_relist, "list a delisted game in the store again")
    a.add_argument("game", help="game name or game_id")
    a = action("init", cmd_init, "create a new game folder from a template")
    a.add_argument("name", help="game name (lowercase letters, digits, '_' or '-')")
    a.add_argument(
        "--type", dest="game_type", choices=packages.GAME_TYPES, default="cli", help="kind of game"
    )
    a.add_argument("--dir", type=Path, default=None, help="folder to create (default: ./<name>)")


def _opt(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name, None)


def server_address(args: argparse.Namespace) -> ServerAddress:
    return resolve_address("dev", _opt(args, "host"), _opt(args, "port"), _opt(args, "data_dir"))


async def connect(address: ServerAddress) -> Client:
    try:
        # Length-prefixed framing lets uploads travel as binary chunk frames.
        return await Client.connect(address.host, address.port, framing=Framing.LENGTH_PREFIXED, timeout=10.0)
    except (OSError, TimeoutError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (str(exc) or "timed out")
        raise CliError(
            f"cannot connect to the developer server at {escape(str(address))}: {reason}. "
            "Is 'playhub serve' running? Set --host/--port or --data-dir."
        ) from None


def credentials(args: argparse.Namespace, console: Console) -> tuple[str, str]:
    user = _opt(args, "user") or os.environ.get(USER_ENV)
    password = _opt(args, "password") or os.environ.get(PASSWORD_ENV)
    if (not user or not password) and sys.stdin.isatty():
        user = user or Prompt.ask("Username", console=console)
        password = password or Prompt.ask("Password", password=True, console=console)
    if not user or not password:
        raise CliError(
            f"no credentials: pass --user and --password or set {USER_ENV} and {PASSWORD_ENV}", EXIT_USAGE
        )
    return user, password


def describe(exc: PlayHubError) -> str:
    return f"{exc.message} (code {int(exc.code)})"


def fmt_time(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def fmt_score(game: dict[str, Any]) -> str:
    if not game.get("review_count"):
        return "no reviews"
    return f"{game['avg_score']:.1f}/5 ({game['review_count']})"


def games_table(games: list[dict[str, Any]], numbered: bool = False) -> Table:
    table = Table(title="My games", expand=False)
    if numbered:
        table.add_column("#", justify="right")
    for col in ("name", "title", "type", "players", "status", "latest", "versions", "score"):
        table.add_column(col)
    for i, g in enumerate(games, 1):
        players = f"{g.get('min_players', g['max_players'])}-{g['max_players']}"
        status = escape(g["status"]) if g["status"] == "ONLINE" else f"[yellow]{escape(g['status'])}[/]"
        row = [
            escape(g["name"]),
            escape(str(g.get("display_name", ""))),
            escape(g.get("game_type", "")),
            escape(players),
            status,
            escape(g.get("latest_version") or "-"),
            str(g.get("version_count", "")),
            fmt_score(g),
        ]
        table.add_row(*([str(i)] if numbered else []), *row)
    return table


def versions_table(name: str, versions: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Versions of {escape(name)}")
    for col in ("version", "uploaded", "size", "latest"):
        table.add_column(col)
    for v in versions:
        table.add_row(
            escape(v["version"]),
            fmt_time(v.get("uploaded_at")),
            f"{v.get('size_bytes', 0):,} B",
            "yes" if v["is_latest"] else "",
        )
    return table


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


async def find_game(client: Client, ref: str) -> dict[str, Any]:
    games = (await client.request("LIST_MY_GAMES", {}))["games"]
    for g in games:
        if ref in (g["name"], g["game_id"]):
            return g
    raise CliError(f"you have no game named '{ref}' (see 'playhub dev games')")


# --- scriptable actions ------------------------------------------------------------------------------------------
def _run_action(
    args: argparse.Namespace, body: Callable[[Client, Console], Coroutine[Any, Any, int]], login: bool = True
) -> int:
    console = Console()
    err = Console(stderr=True)

    async def main() -> int:
        if login:
            args.credentials = credentials(args, console)
        client = await connect(server_address(args))
        try:
            if login:
                await client.login_dev(*args.credentials)
            return await body(client, console)
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except CliError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return exc.status
    except PlayHubError as exc:
        err.print(f"[red]refused:[/] {escape(str(describe(exc)))}", highlight=False)
        return EXIT_REFUSED
    except packages.PackageError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_USAGE
    except (ConnectionLost, ConnectionError) as exc:
        err.print(
            f"[red]error:[/] lost the connection to {escape(str(server_address(args)))}: {escape(str(exc))}",
            highlight=False,
        )
        return EXIT_REFUSED


def cmd_register(args: argparse.Namespace) -> int:
    console = Console()
    user, password = credentials(args, console)

    async def body(client: Client, out: Console) -> int:
        await client.register_dev(user, password)
        out.print(f"registered developer '{user}'")
        return EXIT_OK

    return _run_action(args, body, login=False)


def cmd_login(args: argparse.Namespace) -> int:
    async def body(client: Client, out: Console) -> int:
        out.print(f"logged in as '{client.username}': credentials accepted")
        return EXIT_OK

    return _run_action(args, body)


def cmd_publish(args: argparse.Namespace) -> int:
    folder: Path = args.folder
    try:
        check_folder(folder, args.version)  # local problems are reported before connecting anywhere
    except packages.PackageError as exc:
        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return EXIT_USAGE
    address = server_address(args)
    args.extra_clients = []

    async def body(client: Client, out: Console) -> int:
        show = not args.no_progress and not args.json
        bar = progress_bar(Console(stderr=True)) if show else None
        task = bar.add_task("upload", total=None) if bar is not None else None

        def on_progress(done: int, total: int) -> None:
            if bar is not None and task is not None:
                bar.start()  # shown from the first byte on, not while the archive is being built
                bar.update(task, completed=done, total=total)

        # Fix the version before the first attempt: after a drop, the server's suggestion would have moved on if
        # the version landed, and a retry must not publish the same folder twice under two versions.
        manifest = check_folder(folder, args.version)
        existing = await find_my_game(client, manifest.name)
        version = args.version
        if version is None:
            version = (
                (await client.request("VERSION_HINT", {"game_id": existing["game_id"]}))["suggested_version"]
                if existing
                else "1.0.0"
            )
        dropped = False
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                try:
                    result = await publish_folder(client, folder, version, progress=on_progress)
                finally:
                    if bar is not None:
                        bar.stop()
                break
            except Conflict as exc:
                if not (dropped and exc.payload.get("latest_version") == version):
                    raise
                # The version landed before the connection dropped; the answer was lost with it.
                game = await find_my_game(client, manifest.name)
                assert game is not None
                result = {
                    "game_id": game["game_id"],
                    "version": version,
                    "is_latest": True,
                    "created": existing is None,
                }
                break
            except (ConnectionLost, ConnectionError):
                if attempt == PUBLISH_ATTEMPTS:
                    raise
                dropped = True
                Console(stderr=True).print(
                    f"connection lost; reconnecting to {escape(str(address))} (the upload resumes)"
                )
                await asyncio.sleep(attempt)
                await client.close()
                client = await connect(address)
                await client.login_dev(*args.credentials)
                args.extra_clients.append(client)
        result["created"] = existing is None  # relative to this command, whatever attempt created the game
        for extra in args.extra_clients:
            await extra.close()
        if args.json:
            out.print_json(json.dumps(result))
        else:
            what = "new game" if result["created"] else "new version"
            out.print(
                f"published {what}: {manifest.name} {result['version']} (game_id {result['game_id']})",
                highlight=False,
            )
        return EXIT_OK

    return _run_action(args, body)


def cmd_games(args: argparse.Namespace) -> int:
    async def body(client: Client, out: Console) -> int:
        games = (await client.request("LIST_MY_GAMES", {}))["games"]
        if args.json:
            out.print_json(json.dumps(games))
        elif not games:
            out.print("you have no games yet: 'playhub dev publish <folder>' publishes one")
        else:
            out.print(games_table(games))
        return EXIT_OK

    return _run_action(args, body)


def cmd_versions(args: argparse.Namespace) -> int:
    async def body(client: Client, out: Console) -> int:
        game = await find_game(client, args.game)
        versions = (await client.request("LIST_VERSIONS", {"game_id": game["game_id"]}))["versions"]
        if args.json:
            out.print_json(json.dumps(versions))
        elif not versions:
            out.print(f"{game['name']} has no versions yet")
        else:
            out.print(versions_table(game["name"], versions))
        return EXIT_OK

    return _run_action(args, body)


def reviews_view(name: str, answer: dict[str, Any]) -> Table:
    """A game's reviews, newest first, with each player's score and text."""
    count = answer.get("review_count") or 0
    avg = answer.get("avg_score")
    title = f"Reviews of {escape(name)}: " + (f"{avg:.2f}/5 from {count}" if count and avg is not None else "none yet")
    table = Table(title=title)
    for col in ("When", "Player", "Score", "Review"):
        table.add_column(col)
    for r in answer.get("reviews") or []:
        score = int(r.get("score") or 0)
        table.add_row(
            fmt_time(r.get("created_at")),
            escape(str(r.get("player"))),
            "★" * score + "☆" * (5 - score),
            escape(r.get("comment") or "", multiline=True),
        )
    return table


def cmd_reviews(args: argparse.Namespace) -> int:
    async def body(client: Client, out: Console) -> int:
        game = await find_game(client, args.game)
        answer = await client.request("MY_GAME_REVIEWS", {"game_id": game["game_id"]})
        if args.json:
            out.print_json(json.dumps(answer))
        else:
            out.print(reviews_view(game["name"], answer))
        return EXIT_OK

    return _run_action(args, body)


def _set_status(args: argparse.Namespace, status: str) -> int:
    async def body(client: Client, out: Console) -> int:
        game = await find_game(client, args.game)
        await client.request("SET_GAME_STATUS", {"game_id": game["game_id"], "status": status})
        word = (
            "delisted (hidden from the store; files and versions kept)" if status == "OFFLINE" else "listed"
        )
        out.print(f"{game['name']} is now {word}")
        return EXIT_OK

    return _run_action(args, body)


def cmd_delist(args: argparse.Namespace) -> int:
    return _set_status(args, "OFFLINE")


def cmd_relist(args: argparse.Namespace) -> int:
    return _set_status(args, "ONLINE")


def cmd_init(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    if not packages.NAME_RE.fullmatch(args.name):
        err.print(
            f"[red]error:[/] '{escape(str(args.name))}' is not a valid game name: use 2-64 lowercase letters, digits, "
            "'_' or '-', starting with a letter or digit",
            highlight=False,
        )
        return EXIT_USAGE
    try:
        from playhub.templates import create_game
    except ImportError as exc:
        err.print(
            f"[red]error:[/] game templates are not available in this installation ({escape(str(exc))})",
            highlight=False,
        )
        return EXIT_USAGE
    dest = args.dir if args.dir is not None else Path(args.name)
    if (dest.is_dir() and any(dest.iterdir())) or (dest.exists() and not dest.is_dir()):
        err.print(
            f"[red]error:[/] '{escape(str(dest))}' already exists; choose another --dir", highlight=False
        )
        return EXIT_USAGE
    try:
        created = create_game(dest, args.name, args.game_type)
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/] could not create the game: {escape(str(exc))}", highlight=False)
        return EXIT_USAGE
    Console().print(
        f"created {args.game_type} game '{escape(str(args.name))}' in {escape(str(created))}\n"
        f"next: edit it, then 'playhub dev publish {escape(str(created))}'",
        highlight=False,
    )
    return EXIT_OK


# --- interactive console -----------------------------------------------------------------------------------------
class _Quit(Exception):
    """The user asked to leave (menu choice, end of input or Ctrl-C at a prompt)."""


class DevConsole:
    """The menu-driven developer console. Prompts block; network calls run on a private event loop."""

    def __init__(self, args: argparse.Namespace, console: Console | None = None) -> None:
        self.args = args
        self.console = console or Console()
        self.address = server_address(args)
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
        self.client = self.run(connect(self.address))
        self.client.token = self.token  # a dropped connection's session stays resumable for a grace period
        self.client.username = self.user

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.run(self.client.close())
        self.loop.close()

    # main loop ---------------------------------------------------------------------------------------------------
    def main(self) -> int:
        self.client = self.run(connect(self.address))
        self.console.print(f"[bold]PlayHub developer console[/] — server {escape(str(self.address))}")
        user = _opt(self.args, "user") or os.environ.get(USER_ENV)
        password = _opt(self.args, "password") or os.environ.get(PASSWORD_ENV)
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
        with progress_bar(self.console) as bar:
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
        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return exc.status
    finally:
        dev.close()

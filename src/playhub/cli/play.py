"""``playhub play``: the player's app (no subcommand) and scriptable player commands.

    playhub play                                  the terminal lobby: store, library, rooms, games, reviews
    playhub play register                         create a player account (asks for the password if needed)
    playhub play games                            list the store
    playhub play show <game>                      one game's details and reviews
    playhub play download <game> [--version V]    download or update a game (progress bar)
    playhub play library                          games installed on this computer
    playhub play rooms                            open rooms
    playhub play review <game> --score N [--comment TEXT]

The subcommands use the same client library as the app. ``<game>`` is a game's name, display name or id. Error
type, runner (connection, messages, exit statuses) and game lookup are the ones ``playhub dev`` uses
(``playhub.cli.common``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from playhub.cli.common import LOBBY, CliError, match_game, opt, print_error, run, transfer_progress
from playhub.client import Client
from playhub.packages import PackageError
from playhub.tui.format import installed_text, newer, players_text, score_text, when
from playhub.tui.format import safe_console_markup as safe

EPILOG = """\
where is the server: --host/--port, else PLAYHUB_LOBBY_HOST/PLAYHUB_LOBBY_PORT (or LOBBY_CONNECT_HOST/PORT),
else the runtime_ports.json that 'playhub serve' writes in --data-dir, else 127.0.0.1:5502.
who you are: --user/--password, else PLAYHUB_USER/PLAYHUB_PASSWORD (the app asks when they are missing).
downloads go to --downloads, else PLAYHUB_DOWNLOADS, else ./downloads (one folder per player inside).

examples:
  playhub play                                   open the app
  playhub play register --user ann               create an account (asks for the password)
  playhub play games --user ann --password ...   list the store
  playhub play download rps                      install the latest Rock Paper Scissors
  playhub play review rps --score 5 --comment "quick and fun"
"""


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Subcommands repeat the options with SUPPRESS defaults, so they may be given before or after the subcommand.
    default: Any = argparse.SUPPRESS if suppress else None
    g = parser.add_argument_group("connection and account")
    g.add_argument("--host", default=default, help="lobby server address")
    g.add_argument("--port", type=int, default=default, help="lobby server port")
    g.add_argument(
        "--data-dir",
        type=Path,
        default=default,
        help="a server data folder whose runtime_ports.json says where the server is",
    )
    g.add_argument("--user", default=default, help="player name (env PLAYHUB_USER)")
    g.add_argument("--password", default=default, help="password (env PLAYHUB_PASSWORD)")
    g.add_argument(
        "--downloads",
        type=Path,
        default=default,
        help="downloads folder (env PLAYHUB_DOWNLOADS; default ./downloads)",
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "play",
        help="the player app: store, downloads, lobby, rooms, reviews",
        description="Play on a PlayHub server. Without a subcommand, opens the terminal app (login, store, "
        "library, lobby and rooms, my games and reviews). The subcommands do single tasks from scripts.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(p, suppress=False)
    p.set_defaults(func=run_app)
    cmds = p.add_subparsers(dest="play_command", metavar="<subcommand>")

    def add(name: str, help_: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        sp = cmds.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".")
        _common(sp, suppress=True)
        sp.set_defaults(func=func)
        return sp

    add("register", "create a player account", cmd_register)
    add("games", "list the games in the store", lambda a: _run(a, cmd_games))
    show = add("show", "show a game's details, versions and reviews", lambda a: _run(a, cmd_show))
    show.add_argument("game", help="name, display name or id of the game")
    dl = add(
        "download", "download a game, or update it to the latest version", lambda a: _run(a, cmd_download)
    )
    dl.add_argument("game", help="name, display name or id of the game")
    dl.add_argument("--version", help="a specific version (default: the latest)")
    add("library", "list the games installed on this computer", cmd_library)
    add("rooms", "list the rooms in the lobby", lambda a: _run(a, cmd_rooms))
    rv = add(
        "review", "review a game you played (a new review replaces yours)", lambda a: _run(a, cmd_review)
    )
    rv.add_argument("game", help="name, display name or id of the game")
    rv.add_argument("--score", type=int, required=True, choices=range(1, 6), metavar="1-5", help="your score")
    rv.add_argument("--comment", default="", help="an optional comment")


# --- shared plumbing ---------------------------------------------------------------------------------------------
Command = Callable[[Client, argparse.Namespace, Console], Awaitable[None]]


def _downloads(args: argparse.Namespace) -> Path:
    from playhub.client.library import default_downloads_root

    downloads = opt(args, "downloads")
    return Path(downloads) if downloads else default_downloads_root()


def _run(args: argparse.Namespace, command: Command) -> int:
    """Log in, run ``command``, log out: one connection per subcommand."""
    address = LOBBY.address(args)
    user, password = LOBBY.credentials(args)

    async def main() -> None:
        if not user or not password:
            raise CliError(f"give --user and --password (or set {LOBBY.user_env} and {LOBBY.password_env})")
        async with LOBBY.session(address, (user, password), logout=True) as client:
            await command(client, args, Console())

    return run(main(), address)


async def _find_game(client: Client, wanted: str) -> dict[str, Any]:
    games = (await client.request("LIST_GAMES")).get("games", [])
    game = match_game(games, wanted)
    if game is None:
        names = ", ".join(sorted(str(g.get("name")) for g in games)) or "none"
        raise CliError(f"no game '{wanted}' in the store (games: {names})")
    return game


def _library(args: argparse.Namespace, user: str) -> Any:
    from playhub.client.library import LocalLibrary

    return LocalLibrary(_downloads(args), user)


# --- subcommands ----------------------------------------------------------------------------------------------
async def cmd_games(client: Client, args: argparse.Namespace, console: Console) -> None:
    games = (await client.request("LIST_GAMES")).get("games", [])
    if not games:
        console.print("The store has no games yet.")
        return
    library = _library(args, str(client.username))
    table = Table(title="PlayHub store")
    for col in ("Name", "Game", "Type", "Players", "Latest", "Score", "Installed"):
        table.add_column(col)
    for g in games:
        have = library.installed_version(str(g.get("name")))
        table.add_row(
            safe(g.get("name")),
            safe(g.get("display_name") or ""),
            safe(str(g.get("game_type") or "").upper()),
            safe(players_text(g)),
            safe(g.get("latest_version") or "—"),
            score_text(g),
            safe(installed_text(have, g.get("latest_version"))),
        )
    console.print(table)


async def cmd_show(client: Client, args: argparse.Namespace, console: Console) -> None:
    game = await _find_game(client, args.game)
    d = await client.request("GET_GAME_DETAIL", {"game_id": game["game_id"]})
    reviews = (await client.request("LIST_REVIEWS", {"game_id": game["game_id"]})).get("reviews", [])
    have = _library(args, str(client.username)).installed_version(str(d.get("name")))
    # Everything below was typed by other people: shown literally, never as markup or terminal controls.
    console.print(f"[b]{safe(d.get('display_name'))}[/b] ({safe(d.get('name'))}, id {safe(d.get('game_id'))})")
    console.print(
        f"by {safe(d.get('author'))} · {safe(str(d.get('game_type')).upper())} · {safe(players_text(d))} players · "
        f"{score_text(d)}"
    )
    console.print()
    console.print(safe(d.get("description") or "No description yet.", multiline=True))
    console.print()
    versions = [str(v.get("version")) for v in d.get("versions") or []]
    console.print(f"Latest version: [b]{safe(d.get('latest_version'))}[/b]   all: {safe(', '.join(versions) or '—')}")
    console.print(f"Installed here: {safe(installed_text(have, d.get('latest_version'))) if have else 'no'}")
    console.print()
    if not reviews:
        console.print("No reviews yet.")
    for r in reviews:
        score = int(r.get("score") or 0)
        console.print(
            f"{'★' * score}{'☆' * (5 - score)}  [b]{safe(r.get('player'))}[/b]  {when(r.get('created_at'))}"
        )
        if r.get("comment"):
            console.print(f"    {safe(r.get('comment'), multiline=True)}")


async def cmd_download(client: Client, args: argparse.Namespace, console: Console) -> None:
    from playhub.client.library import download_game

    game = await _find_game(client, args.game)
    library = _library(args, str(client.username))
    have = library.installed_version(str(game.get("name")))
    target = args.version or game.get("latest_version")
    if args.version is None and have is not None and not newer(target, have):
        console.print(
            f"{safe(game.get('display_name'))} {safe(have)} is installed and up to date "
            f"({safe(library.version_dir(game['name'], have))})."
        )
        return
    with transfer_progress(console) as progress:
        task = progress.add_task(f"{safe(game.get('name'))} {safe(target)}", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            installed = await download_game(
                client, library, str(game["game_id"]), args.version, progress=on_progress
            )
        except PackageError as exc:
            raise CliError(f"the package could not be installed: {exc}") from exc
    verb = "Updated" if have else "Installed"
    console.print(f"{verb} {safe(game.get('display_name'))} {safe(installed.version)} in {safe(installed.path)}")


def cmd_library(args: argparse.Namespace) -> int:
    user, _ = LOBBY.credentials(args)
    console = Console()
    if not user:
        print_error(f"give --user (or set {LOBBY.user_env}): whose library?")
        return 1
    try:
        library = _library(args, user)
    except ValueError as exc:
        print_error(str(exc))
        return 1
    installed = library.installed()
    if not installed:
        console.print(f"Nothing installed in {library.base}.")
        return 0
    table = Table(title=f"Games installed for {user} in {library.root}")
    for col in ("Game", "Versions", "Newest", "Folder"):
        table.add_column(col)
    for name, game in sorted(installed.items()):
        table.add_row(safe(name), safe(", ".join(library.versions(name))), safe(game.version), safe(game.path))
    console.print(table)
    return 0


async def cmd_rooms(client: Client, args: argparse.Namespace, console: Console) -> None:
    rooms = (await client.request("LIST_ROOMS")).get("rooms", [])
    if not rooms:
        console.print("No rooms are open.")
        return
    table = Table(title="Rooms")
    for col in ("Room", "Game", "Version", "Host", "Players", "Status"):
        table.add_column(col)
    for r in rooms:
        players = r.get("players") or []
        table.add_row(
            safe(r.get("room_id")),
            safe(r.get("display_name") or r.get("game_name")),
            safe(r.get("version")),
            safe(r.get("host")),
            safe(f"{len(players)}/{r.get('max_players')}: {', '.join(map(str, players))}"),
            safe(r.get("status")),
        )
    console.print(table)


async def cmd_review(client: Client, args: argparse.Namespace, console: Console) -> None:
    game = await _find_game(client, args.game)
    await client.request(
        "ADD_REVIEW", {"game_id": game["game_id"], "score": args.score, "comment": args.comment}
    )
    detail = await client.request("GET_GAME_DETAIL", {"game_id": game["game_id"]})
    console.print(
        f"Review saved: {'★' * args.score} for {safe(game.get('display_name'))}. Now {score_text(detail)}."
    )


# --- registering from the command line ----------------------------------------------------------------------
def cmd_register(args: argparse.Namespace) -> int:
    """Create a player account. Without --password (or PLAYHUB_PASSWORD) it asks twice on the terminal."""
    user, password = LOBBY.credentials(args)
    try:
        if not user and sys.stdin.isatty():
            user = input("Player name: ").strip()
        if not password and sys.stdin.isatty():
            import getpass

            password = getpass.getpass("Password: ")
            if getpass.getpass("Password again: ") != password:
                print_error("the passwords differ")
                return 1
    except (EOFError, KeyboardInterrupt):
        return 1
    if not user or not password:
        print_error(f"give --user and --password (or set {LOBBY.user_env} and {LOBBY.password_env})")
        return 1
    address = LOBBY.address(args)

    async def main() -> None:
        async with LOBBY.session(address, None, logout=True) as client:
            await client.register_player(user, password)
        Console().print(f"Registered player '{user}' on {address.host}:{address.port}. Now run: playhub play")

    return run(main(), address)


# --- the app -------------------------------------------------------------------------------------------------
def run_app(args: argparse.Namespace) -> int:
    from playhub.tui.app import PlayerApp

    if not sys.stdin.isatty() or not sys.stdout.isatty():
        print("playhub play needs a terminal; use its subcommands from scripts (see --help)", file=sys.stderr)
        return 2
    user, password = LOBBY.credentials(args)
    app = PlayerApp(LOBBY.address(args), _downloads(args), username=user, password=password)
    app.run()
    return 0

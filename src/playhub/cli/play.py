"""``playhub play``: the player's app (no subcommand) and scriptable player commands.

    playhub play                                  the terminal lobby: store, library, rooms, games, reviews
    playhub play register                         create a player account (asks for the password if needed)
    playhub play games                            list the store
    playhub play show <game>                      one game's details and reviews
    playhub play download <game> [--version V]    download or update a game (progress bar)
    playhub play library                          games installed on this computer
    playhub play rooms                            open rooms
    playhub play review <game> --score N [--comment TEXT]

The subcommands use the same client library as the app. ``<game>`` is a game's name, display name or id.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from playhub.client import Client, ServerAddress, resolve_address
from playhub.packages import PackageError
from playhub.protocol.errors import PlayHubError
from playhub.tui.format import installed_text, newer, players_text, score_text, when
from playhub.tui.format import safe_console_markup as safe
from playhub.wire.framing import Framing

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
def _address(args: argparse.Namespace) -> ServerAddress:
    return resolve_address("lobby", args.host, args.port, args.data_dir)


def _credentials(args: argparse.Namespace) -> tuple[str | None, str | None]:
    return (
        args.user or os.environ.get("PLAYHUB_USER") or None,
        args.password or os.environ.get("PLAYHUB_PASSWORD"),
    )


def _downloads(args: argparse.Namespace) -> Path:
    from playhub.client.library import default_downloads_root

    return Path(args.downloads) if args.downloads else default_downloads_root()


def _fill_defaults(args: argparse.Namespace) -> None:
    for key in ("host", "port", "data_dir", "user", "password", "downloads"):
        if not hasattr(args, key):
            setattr(args, key, None)


class CommandError(Exception):
    """A problem to report in one line, with exit status 1."""


def _run(
    args: argparse.Namespace, command: Callable[[Client, argparse.Namespace, Console], Awaitable[None]]
) -> int:
    _fill_defaults(args)
    console = Console()
    err = Console(stderr=True)
    try:
        asyncio.run(_connected(args, command, console))
    except CommandError as exc:
        err.print(f"[red]error:[/red] {safe(exc)}")
        return 1
    except PlayHubError as exc:
        err.print(f"[red]error:[/red] {safe(exc.message)} (code {int(exc.code)})")
        return 1
    return 0


async def _connected(
    args: argparse.Namespace,
    command: Callable[[Client, argparse.Namespace, Console], Awaitable[None]],
    console: Console,
) -> None:
    user, password = _credentials(args)
    if not user or not password:
        raise CommandError("give --user and --password (or set PLAYHUB_USER and PLAYHUB_PASSWORD)")
    address = _address(args)
    try:
        # Length-prefixed framing lets downloads travel as binary chunk frames.
        client = await Client.connect(
            address.host, address.port, framing=Framing.LENGTH_PREFIXED, timeout=10.0
        )
    except (OSError, TimeoutError) as exc:
        raise CommandError(f"cannot reach the lobby at {address}: {exc}") from exc
    try:
        await client.login_player(user, password)
        await command(client, args, console)
    except (ConnectionError, TimeoutError) as exc:
        raise CommandError(f"the connection to {address} was lost: {exc}") from exc
    finally:
        try:
            await client.request("LOGOUT", timeout=3.0)
        except (PlayHubError, ConnectionError, TimeoutError):
            pass
        await client.close()


async def _find_game(client: Client, wanted: str) -> dict[str, Any]:
    games = (await client.request("LIST_GAMES")).get("games", [])
    low = wanted.lower()
    for game in games:
        if wanted == game.get("game_id") or low == str(game.get("name", "")).lower():
            return dict(game)
    matches = [g for g in games if low == str(g.get("display_name", "")).lower()]
    if len(matches) == 1:
        return dict(matches[0])
    names = ", ".join(sorted(str(g.get("name")) for g in games)) or "none"
    raise CommandError(f"no game '{wanted}' in the store (games: {names})")


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
    with Progress(
        TextColumn("[b]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"{safe(game.get('name'))} {safe(target)}", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            installed = await download_game(
                client, library, str(game["game_id"]), args.version, progress=on_progress
            )
        except PackageError as exc:
            raise CommandError(f"the package could not be installed: {exc}") from exc
    verb = "Updated" if have else "Installed"
    console.print(f"{verb} {safe(game.get('display_name'))} {safe(installed.version)} in {safe(installed.path)}")


def cmd_library(args: argparse.Namespace) -> int:
    _fill_defaults(args)
    user, _ = _credentials(args)
    console = Console()
    if not user:
        Console(stderr=True).print("[red]error:[/red] give --user (or set PLAYHUB_USER): whose library?")
        return 1
    try:
        library = _library(args, user)
    except ValueError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
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
    _fill_defaults(args)
    err = Console(stderr=True)
    user, password = _credentials(args)
    try:
        if not user and sys.stdin.isatty():
            user = input("Player name: ").strip()
        if not password and sys.stdin.isatty():
            import getpass

            password = getpass.getpass("Password: ")
            if getpass.getpass("Password again: ") != password:
                err.print("[red]error:[/red] the passwords differ")
                return 1
    except (EOFError, KeyboardInterrupt):
        return 1
    if not user or not password:
        err.print("[red]error:[/red] give --user and --password (or set PLAYHUB_USER and PLAYHUB_PASSWORD)")
        return 1
    address = _address(args)
    try:
        asyncio.run(_register(address, user, password))
    except (OSError, TimeoutError) as exc:
        err.print(f"[red]error:[/red] cannot reach the lobby at {safe(address)}: {safe(exc)}")
        return 1
    except PlayHubError as exc:
        err.print(f"[red]error:[/red] {safe(exc.message)} (code {int(exc.code)})")
        return 1
    Console().print(f"Registered player '{user}' on {address.host}:{address.port}. Now run: playhub play")
    return 0


async def _register(address: ServerAddress, user: str, password: str) -> None:
    client = await Client.connect(address.host, address.port, timeout=10.0)
    try:
        await client.register_player(user, password)
        try:
            await client.request("LOGOUT", timeout=3.0)
        except (PlayHubError, ConnectionError, TimeoutError):
            pass
    finally:
        await client.close()


# --- the app -------------------------------------------------------------------------------------------------
def run_app(args: argparse.Namespace) -> int:
    from playhub.tui.app import PlayerApp

    if not sys.stdin.isatty() or not sys.stdout.isatty():
        print("playhub play needs a terminal; use its subcommands from scripts (see --help)", file=sys.stderr)
        return 2
    user, password = _credentials(args)
    app = PlayerApp(_address(args), _downloads(args), username=user, password=password)
    app.run()
    return 0

"""The scriptable ``playhub dev`` actions: each runs once, prints a sentence, a table or JSON, and exits.

    playhub dev register --user ann --password s3cret-pw
    playhub dev publish games/tictactoe --version 1.2.0
    playhub dev games --json

Exit statuses as in ``playhub.cli.common``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.prompt import Prompt

from playhub import packages
from playhub.cli.common import (
    DEV,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    escape,
    match_game,
    print_error,
    run,
    transfer_progress,
)
from playhub.cli.dev.views import games_table, reviews_view, versions_table
from playhub.client import Client, ConnectionLost
from playhub.client.publishing import check_folder, find_my_game, publish_folder
from playhub.client.settings import CLIENT
from playhub.protocol.errors import Conflict

Body = Callable[[Client, Console], Awaitable[int]]


def credentials(args: argparse.Namespace, console: Console) -> tuple[str, str]:
    """Flags, else environment, else a prompt when run in a terminal; a script without them gets exit status 2."""
    user, password = DEV.credentials(args)
    if (not user or not password) and sys.stdin.isatty():
        user = user or Prompt.ask("Username", console=console)
        password = password or Prompt.ask("Password", password=True, console=console)
    if not user or not password:
        raise CliError(
            f"no credentials: pass --user and --password or set {DEV.user_env} and {DEV.password_env}",
            EXIT_USAGE,
        )
    return user, password


async def find_game(client: Client, ref: str) -> dict[str, Any]:
    """One of this developer's games, by name or game_id."""
    game = match_game((await client.request("LIST_MY_GAMES", {}))["games"], ref)
    if game is None:
        raise CliError(f"you have no game named '{ref}' (see 'playhub dev games')")
    return game


def _action(args: argparse.Namespace, body: Body) -> int:
    """Log in, run ``body`` on the connection, report how it went."""
    address = DEV.address(args)

    async def main() -> int:
        console = Console()
        async with DEV.session(address, credentials(args, console)) as client:
            return await body(client, console)

    return run(main(), address)


def cmd_register(args: argparse.Namespace) -> int:
    address = DEV.address(args)

    async def main() -> int:
        console = Console()
        user, password = credentials(args, console)
        async with DEV.session(address, None) as client:
            await client.register_dev(user, password)
        console.print(f"registered developer '{user}'")
        return EXIT_OK

    return run(main(), address)


def cmd_login(args: argparse.Namespace) -> int:
    async def body(client: Client, out: Console) -> int:
        out.print(f"logged in as '{client.username}': credentials accepted")
        return EXIT_OK

    return _action(args, body)


def cmd_publish(args: argparse.Namespace) -> int:
    try:
        check_folder(args.folder, args.version)  # local problems are reported before connecting anywhere
    except packages.PackageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    address = DEV.address(args)
    return run(_publish(args, address), address)


async def _publish(args: argparse.Namespace, address: Any) -> int:
    folder: Path = args.folder
    out = Console()
    login = credentials(args, out)
    show = not args.no_progress and not args.json
    bar = transfer_progress(Console(stderr=True), "uploading") if show else None
    task = bar.add_task("upload", total=None) if bar is not None else None

    def on_progress(done: int, total: int) -> None:
        if bar is not None and task is not None:
            bar.start()  # shown from the first byte on, not while the archive is being built
            bar.update(task, completed=done, total=total)

    client = await DEV.connect(address)
    try:
        await client.login_dev(*login)
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
        for attempt in range(1, CLIENT.publish_attempts + 1):
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
                result = {"game_id": game["game_id"], "version": version, "is_latest": True}
                break
            except (ConnectionLost, ConnectionError):
                if attempt == CLIENT.publish_attempts:
                    raise
                dropped = True
                Console(stderr=True).print(
                    f"connection lost; reconnecting to {escape(str(address))} (the upload resumes)"
                )
                await asyncio.sleep(attempt)
                await client.close()
                client = await DEV.connect(address)
                await client.login_dev(*login)
    finally:
        await client.close()
    result["created"] = existing is None  # relative to this command, whatever attempt created the game
    if args.json:
        out.print_json(json.dumps(result))
    else:
        what = "new game" if result["created"] else "new version"
        out.print(
            f"published {what}: {manifest.name} {result['version']} (game_id {result['game_id']})",
            highlight=False,
        )
    return EXIT_OK


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

    return _action(args, body)


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

    return _action(args, body)


def cmd_reviews(args: argparse.Namespace) -> int:
    async def body(client: Client, out: Console) -> int:
        game = await find_game(client, args.game)
        answer = await client.request("MY_GAME_REVIEWS", {"game_id": game["game_id"]})
        if args.json:
            out.print_json(json.dumps(answer))
        else:
            out.print(reviews_view(game["name"], answer))
        return EXIT_OK

    return _action(args, body)


def _set_status(args: argparse.Namespace, status: str) -> int:
    async def body(client: Client, out: Console) -> int:
        game = await find_game(client, args.game)
        await client.request("SET_GAME_STATUS", {"game_id": game["game_id"], "status": status})
        word = (
            "delisted (hidden from the store; files and versions kept)" if status == "OFFLINE" else "listed"
        )
        out.print(f"{game['name']} is now {word}")
        return EXIT_OK

    return _action(args, body)


def cmd_delist(args: argparse.Namespace) -> int:
    return _set_status(args, "OFFLINE")


def cmd_relist(args: argparse.Namespace) -> int:
    return _set_status(args, "ONLINE")


def cmd_init(args: argparse.Namespace) -> int:
    if not packages.NAME_RE.fullmatch(args.name):
        print_error(
            f"'{args.name}' is not a valid game name: use 2-64 lowercase letters, digits, '_' or '-', starting with "
            "a letter or digit"
        )
        return EXIT_USAGE
    try:
        from playhub.templates import create_game
    except ImportError as exc:
        print_error(f"game templates are not available in this installation ({exc})")
        return EXIT_USAGE
    dest = args.dir if args.dir is not None else Path(args.name)
    if (dest.is_dir() and any(dest.iterdir())) or (dest.exists() and not dest.is_dir()):
        print_error(f"'{dest}' already exists; choose another --dir")
        return EXIT_USAGE
    try:
        created = create_game(dest, args.name, args.game_type)
    except (OSError, ValueError) as exc:
        print_error(f"could not create the game: {exc}")
        return EXIT_USAGE
    Console().print(
        f"created {args.game_type} game '{escape(str(args.name))}' in {escape(str(created))}\n"
        f"next: edit it, then 'playhub dev publish {escape(str(created))}'",
        highlight=False,
    )
    return EXIT_OK

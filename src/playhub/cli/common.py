"""What ``playhub dev`` and ``playhub play`` share: the server each talks to, the one error type, the one runner
(event loop, connection, error messages, exit statuses) and the one way a command names a game.

Exit status of every scriptable command: 0 done, 1 refused by the server or no connection, 2 bad usage or a local
problem (folder, manifest) where the command says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
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

from playhub import packages
from playhub.client import Client, ConnectionLost, ServerAddress, resolve_address
from playhub.client.discovery import Side
from playhub.client.settings import CLIENT
from playhub.protocol.errors import PlayHubError

# Server strings (names, descriptions, reviews, error messages) are typed by other people: every one printed goes
# through this, which removes terminal control sequences and escapes Rich markup.
from playhub.tui.format import safe_console_markup as escape
from playhub.wire.framing import Framing

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A problem reported to the user as one line, with the exit status to use."""

    def __init__(self, message: str, status: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Door:
    """The listener a command talks to, and where its address and credentials come from."""

    side: Side
    label: str  # how messages name the server
    user_env: str
    password_env: str

    def address(self, args: argparse.Namespace) -> ServerAddress:
        return resolve_address(self.side, opt(args, "host"), opt(args, "port"), opt(args, "data_dir"))

    def credentials(self, args: argparse.Namespace) -> tuple[str | None, str | None]:
        """``--user``/``--password``, else the door's environment variables (None where neither is set)."""
        return (
            opt(args, "user") or os.environ.get(self.user_env) or None,
            opt(args, "password") or os.environ.get(self.password_env) or None,
        )

    async def connect(self, address: ServerAddress) -> Client:
        try:
            # Length-prefixed framing lets uploads and downloads travel as binary chunk frames.
            return await Client.connect(address.host, address.port, framing=Framing.LENGTH_PREFIXED)
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (str(exc) or "timed out")
            raise CliError(
                f"cannot reach the {self.label} at {address}: {reason}. "
                "Is 'playhub serve' running? Set --host/--port or --data-dir."
            ) from None

    @contextlib.asynccontextmanager
    async def session(
        self, address: ServerAddress, login: tuple[str, str] | None, *, logout: bool = False
    ) -> AsyncIterator[Client]:
        """A connection, logged in with ``login`` when given; closed (after a best-effort LOGOUT) on the way out."""
        client = await self.connect(address)
        try:
            if login is not None:
                await (client.login_dev if self.side == "dev" else client.login_player)(*login)
            yield client
        finally:
            if logout and client.token and not client.closed:
                with contextlib.suppress(PlayHubError, ConnectionError, TimeoutError):
                    await client.request("LOGOUT", timeout=CLIENT.logout_timeout_s)
            await client.close()


DEV = Door("dev", "developer server", "PLAYHUB_DEV_USER", "PLAYHUB_DEV_PASSWORD")
LOBBY = Door("lobby", "lobby", "PLAYHUB_USER", "PLAYHUB_PASSWORD")


def opt(args: argparse.Namespace, name: str) -> Any:
    """An option that a subcommand may not define (options are accepted before and after the subcommand)."""
    return getattr(args, name, None)


def print_error(message: str, label: str = "error") -> None:
    Console(stderr=True).print(f"[red]{label}:[/] {escape(message)}", highlight=False)


def describe(exc: PlayHubError) -> str:
    return f"{exc.message} (code {int(exc.code)})"


def run(main: Coroutine[Any, Any, int | None], address: ServerAddress | None = None) -> int:
    """Run one command's coroutine to the end: every failure becomes one line on stderr and an exit status."""
    try:
        return asyncio.run(main) or EXIT_OK
    except CliError as exc:
        print_error(str(exc))
        return exc.status
    except PlayHubError as exc:
        print_error(describe(exc), "refused")
        return EXIT_REFUSED
    except packages.PackageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except (ConnectionLost, ConnectionError, TimeoutError) as exc:
        where = f" to {address}" if address is not None else ""
        print_error(f"lost the connection{where}: {exc or 'no answer in time'}")
        return EXIT_REFUSED


def match_game(games: list[dict[str, Any]], ref: str) -> dict[str, Any] | None:
    """The game ``ref`` names in a listing: its game_id, its name (any case), or a display name only it has."""
    low = ref.lower()
    for game in games:
        if ref == game.get("game_id") or low == str(game.get("name", "")).lower():
            return dict(game)
    matches = [g for g in games if low == str(g.get("display_name", "")).lower()]
    return dict(matches[0]) if len(matches) == 1 else None


def transfer_progress(console: Console, label: str = "{task.description}") -> Progress:
    """The progress bar of an upload or a download."""
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )

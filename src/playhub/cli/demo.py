"""``playhub demo``: the platform with the sample games already in the store, for a first run.

It starts the same server as ``playhub serve`` (same options), then publishes every game folder of ``--games-dir``
(the sample games by default) through the developer port as the demo developer account, and prints how to play.
Publishing is idempotent: a version that is already in the store is not uploaded again, so the demo can be stopped
and started on the same data directory as often as wanted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from playhub.cli import serve
from playhub.sdk.hosts import dial_host
from playhub.settings import Settings

log = logging.getLogger("playhub.demo")

DEMO_DEVELOPER = "demo"
DEMO_PASSWORD = "playhub-demo"
# The sample games sit next to ``src/`` in a source checkout.
SAMPLE_GAMES = Path(__file__).resolve().parents[3] / "games"


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    version: str
    status: str  # "published", "already published", or "skipped: <reason>"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    # Take every option of ``playhub serve`` so that both commands accept the same flags.
    scratch = argparse.ArgumentParser(add_help=False).add_subparsers()
    serve.register(scratch)
    p = sub.add_parser(
        "demo",
        parents=[scratch.choices["serve"]],
        conflict_handler="resolve",
        help="run the server with the sample games in the store (first run)",
        description="Run the PlayHub server like 'playhub serve', with the sample games published by the demo "
        f"developer account ('{DEMO_DEVELOPER}' / '{DEMO_PASSWORD}'), then show how to play. Safe to run again "
        "on the same data directory: versions already in the store are not published twice.",
    )
    p.add_argument(
        "--games-dir",
        type=Path,
        default=SAMPLE_GAMES,
        help=f"folder whose subfolders (each with a manifest.json) are published (default: {SAMPLE_GAMES})",
    )
    p.add_argument(
        "--demo-password",
        default=DEMO_PASSWORD,
        help=f"password of the demo developer account (default: {DEMO_PASSWORD})",
    )
    p.set_defaults(func=run)


def game_folders(games_dir: Path) -> list[Path]:
    if not games_dir.is_dir():
        return []
    return sorted(p for p in games_dir.iterdir() if (p / "manifest.json").is_file())


def _version_key(text: str | None) -> tuple[int, int, int]:
    from playhub.packages import PackageError, parse_version

    try:
        return parse_version(text or "")
    except PackageError:
        return (-1, -1, -1)


async def publish_samples(
    host: str, dev_port: int, games_dir: Path, password: str = DEMO_PASSWORD
) -> list[Outcome]:
    """Publish each game folder as the demo developer, skipping versions the store already has."""
    from playhub.client import Client
    from playhub.client.publishing import publish_folder
    from playhub.packages import PackageError
    from playhub.protocol.errors import Conflict, PlayHubError, Unauthorized

    folders = await asyncio.to_thread(game_folders, games_dir)
    if not folders:
        return []
    outcomes: list[Outcome] = []
    async with await Client.connect(host, dev_port) as dev:
        try:
            await dev.register_dev(DEMO_DEVELOPER, password)
        except Conflict:
            try:
                await dev.login_dev(DEMO_DEVELOPER, password)  # an earlier demo run created it
            except Unauthorized:
                reason = f"the account '{DEMO_DEVELOPER}' exists with another password (see --demo-password)"
                return [Outcome(f.name, "-", f"skipped: {reason}") for f in folders]
        mine = {g["name"]: g for g in (await dev.request("LIST_MY_GAMES", {}))["games"]}
        for folder in folders:
            try:
                manifest = json.loads(await asyncio.to_thread((folder / "manifest.json").read_text, "utf-8"))
                name, version = str(manifest["name"]), str(manifest.get("version") or "1.0.0")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                outcomes.append(Outcome(folder.name, "?", f"skipped: unreadable manifest.json ({exc})"))
                continue
            latest = mine.get(name, {}).get("latest_version")
            if latest and _version_key(latest) >= _version_key(version):
                outcomes.append(Outcome(name, str(latest), "already published"))
                continue
            try:
                out = await publish_folder(dev, folder, version)
            except (PackageError, PlayHubError) as exc:
                outcomes.append(Outcome(name, version, f"skipped: {exc}"))
                continue
            outcomes.append(Outcome(name, out["version"], "published"))
    return outcomes


def banner(
    settings: Settings,
    dev_port: int,
    lobby_port: int,
    outcomes: list[Outcome],
    games_dir: Path,
    password: str = DEMO_PASSWORD,
) -> str:
    host = settings.advertised_host
    data_dir = Path(settings.data_dir)
    default_dir = Path("playhub-data")
    env = "" if data_dir == default_dir else f"PLAYHUB_DATA_DIR={data_dir} "
    lines = [
        "",
        "PlayHub demo is running.",
        f"  developer port {host}:{dev_port}   lobby port {host}:{lobby_port}   data in {data_dir}",
        f"  demo developer account: {DEMO_DEVELOPER} / "
        + (DEMO_PASSWORD if password == DEMO_PASSWORD else "(the --demo-password you gave)"),
        "",
        "In the store:" if outcomes else f"No game folders found in {games_dir} (see --games-dir).",
    ]
    for o in outcomes:
        lines.append(f"  {o.name:<12} {o.version:<8} {o.status}")
    lines += [
        "",
        "To play, open two more terminals and run in each:",
        f"    {env}playhub play",
        "  1. register a player (a different name in each terminal) and log in;",
        "  2. in the store, pick a game and download it;",
        "  3. one player creates a room for it, the other joins that room;",
        "  4. the room's host starts the game and the others accept the vote: the game starts for everyone",
        "     (a window for Connect Four, the terminal for Rock Paper Scissors and Pig).",
        "  Rock Paper Scissors and Connect Four are for 2 players; Pig needs 3 (open a third terminal).",
        "  After a match, each player can review the game.",
        "",
        f"To publish your own game: playhub dev init my-game, then playhub dev publish my-game "
        f"(log in as {DEMO_DEVELOPER} or register your own developer account).",
        "Ctrl-C stops the server.",
        "",
    ]
    return "\n".join(lines)


async def demo(settings: Settings, games_dir: Path, password: str) -> None:
    from playhub.server.app import PlayHubApp

    app = PlayHubApp(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, app.request_stop)
    await app.start()
    connect_host = dial_host(settings.host)
    try:
        outcomes = await publish_samples(connect_host, app.dev_port, games_dir, password)
    except Exception as exc:  # the server stays useful without the samples; say why they are missing
        log.error("could not publish the sample games: %s", exc)
        outcomes = []
    serve.remember(app)
    print(banner(settings, app.dev_port, app.lobby_port, outcomes, games_dir, password), flush=True)
    try:
        await app.serve_until_stopped()
    finally:
        serve.forget(app)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    serve.install_event_loop()
    try:
        asyncio.run(demo(serve.settings_from_args(args), args.games_dir, args.demo_password))
    except OSError as exc:
        log.error("cannot start: %s (is another server using the port?)", exc)
        return 1
    return 0

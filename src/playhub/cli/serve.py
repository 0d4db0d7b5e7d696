"""``playhub serve``: run the platform (developer and lobby listeners) until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from playhub.settings import Settings

if TYPE_CHECKING:
    from playhub.server.app import PlayHubApp

_DEFAULTS = Settings()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve",
        help="run the PlayHub server",
        description="Run the PlayHub server: the developer listener (publishing) and the lobby listener (store, "
        "rooms) in one process. Writes runtime_ports.json into the data directory so clients can find it.",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("playhub-data"),
        help="where the database, packages and logs live (default: ./playhub-data)",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1; 0.0.0.0 for all)"
    )
    p.add_argument(
        "--public-host",
        default=None,
        help="address advertised to clients in runtime_ports.json and room answers (default: --host; when --host "
        "is 0.0.0.0: public_host/public_hosts of config.json in the data folder that this machine owns, else the "
        "address of the interface that reaches the network)",
    )
    p.add_argument(
        "--dev-port", type=int, default=5501, help="developer listener port, 0 = any free (default 5501)"
    )
    p.add_argument(
        "--lobby-port", type=int, default=5502, help="lobby listener port, 0 = any free (default 5502)"
    )
    p.add_argument(
        "--max-frame-bytes",
        type=int,
        default=_DEFAULTS.max_frame_bytes,
        help=f"largest accepted message (default {_DEFAULTS.max_frame_bytes})",
    )
    p.add_argument(
        "--vote-timeout",
        type=float,
        default=_DEFAULTS.vote_timeout_s,
        help=f"seconds a start vote waits for answers (default {_DEFAULTS.vote_timeout_s:g})",
    )
    p.add_argument(
        "--disconnect-grace",
        type=float,
        default=_DEFAULTS.disconnect_grace_s,
        help=f"seconds a dropped player keeps a room seat (default {_DEFAULTS.disconnect_grace_s:g})",
    )
    p.add_argument(
        "--fast-hash", action="store_true", help="cheap password hashing, for tests and benchmarks only"
    )
    p.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="set any numeric setting of docs/settings.md, e.g. --set max_rooms_per_ip=100 (repeatable)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> Settings:
    from playhub.server.addresses import resolve_public_host

    public_host, source = resolve_public_host(args.host, args.public_host, Path(args.data_dir))
    if public_host is not None:
        logging.getLogger("playhub").info("advertising %s to players (from %s)", public_host, source)
    s = Settings(
        data_dir=args.data_dir,
        host=args.host,
        public_host=public_host,
        dev_port=args.dev_port,
        lobby_port=args.lobby_port,
        max_frame_bytes=args.max_frame_bytes,
        vote_timeout_s=args.vote_timeout,
        disconnect_grace_s=args.disconnect_grace,
    )
    if args.fast_hash:
        s = dataclasses.replace(s, argon2_time_cost=1, argon2_memory_kib=1024)
    return dataclasses.replace(s, **parse_overrides(getattr(args, "set", None) or []))


def parse_overrides(items: list[str]) -> dict[str, int | float]:
    """``NAME=VALUE`` pairs for numeric settings; an unknown name or a bad value is a usage error."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    out: dict[str, int | float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        field = fields.get(name.strip())
        kind = type(getattr(_DEFAULTS, name.strip(), None))
        if not sep or field is None or kind not in (int, float):
            raise SystemExit(
                f"--set {item}: expected NAME=VALUE with NAME a numeric setting of docs/settings.md"
            )
        try:
            out[field.name] = kind(value)
        except ValueError:
            raise SystemExit(f"--set {item}: {value!r} is not a valid {kind.__name__}") from None
    return out


def install_event_loop() -> str:
    """Use uvloop where it is installed; the platform works the same on the stock loop."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


async def serve(settings: Settings) -> None:
    from playhub.server.app import PlayHubApp

    app = PlayHubApp(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, app.request_stop)
    await app.start()
    remember(app)
    try:
        await app.serve_until_stopped()
    finally:
        forget(app)


def remember(app: PlayHubApp) -> None:
    """Write last_server.json so that `playhub play` and `playhub dev` find this server from any folder."""
    from playhub.client.discovery import write_last_server

    s = app.settings
    write_last_server(
        {
            "developer_port": app.dev_port,
            "lobby_port": app.lobby_port,
            "dev_host": s.advertised_host,
            "lobby_host": s.advertised_host,
            "data_dir": str(Path(s.data_dir).resolve()),
            "pid": os.getpid(),
        }
    )


def forget(app: PlayHubApp) -> None:
    from playhub.client.discovery import forget_last_server

    forget_last_server(os.getpid())


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    loop_name = install_event_loop()
    logging.getLogger("playhub").info("event loop: %s", loop_name)
    try:
        asyncio.run(serve(settings_from_args(args)))
    except OSError as exc:
        logging.getLogger("playhub").error("cannot start: %s (is another server using the port?)", exc)
        return 1
    return 0

"""``playhub``: one command with a subcommand per role (serve, dev, play)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from playhub import __version__

# Each module defines ``register(subparsers)`` adding its subcommand with ``func=`` set to its entry point.
SUBCOMMANDS = ["serve", "dev", "play", "demo", "admin"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="playhub",
        description="PlayHub: publish, browse, download and play small multiplayer games.",
        epilog="Run 'playhub <command> --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"playhub {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name in SUBCOMMANDS:
        if importlib.util.find_spec(f"playhub.cli.{name}") is not None:
            importlib.import_module(f"playhub.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

"""``playhub dev``: the developer console (interactive menus) and the same actions as scriptable subcommands.

Without an action, ``playhub dev`` opens a numbered-menu console: register or log in, publish a new game, publish a
new version of one of your games, look at your games (versions, status, scores), delist or relist, log out.

With an action it runs once and exits, for scripts and CI::

    playhub dev register --user ann --password s3cret-pw
    playhub dev publish games/tictactoe --version 1.2.0
    playhub dev games --json

The actions live in ``actions``, the console in ``console``, the tables both show in ``views``; what ``dev`` shares
with ``play`` (error type, runner, game lookup) in ``playhub.cli.common``. Exit status: 0 done, 1 refused by the
server or no connection, 2 bad usage or a local problem (folder, manifest).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from playhub import packages
from playhub.cli.common import DEV
from playhub.cli.dev.actions import (
    cmd_delist,
    cmd_games,
    cmd_init,
    cmd_login,
    cmd_publish,
    cmd_register,
    cmd_relist,
    cmd_reviews,
    cmd_versions,
)
from playhub.cli.dev.console import run_interactive

_EPILOG = f"""\
server address: --host/--port, else ${{PLAYHUB_DEV_HOST}}/${{PLAYHUB_DEV_PORT}} (or seed 003's DEV_CONNECT_HOST/PORT),
else the runtime_ports.json in --data-dir (or $PLAYHUB_DATA_DIR, default ./playhub-data), else 127.0.0.1:5501.
credentials for actions: --user/--password, else ${DEV.user_env}/${DEV.password_env}, else a prompt when run in a terminal.

examples:
  playhub dev                                   interactive console
  playhub dev init mygame --type cli            start a new game folder from a template
  playhub dev publish ./mygame                  publish it (a new game, or the suggested next version)
  playhub dev publish ./mygame --version 2.0.0  publish a chosen version
  playhub dev games                             your games with status, latest version and scores
  playhub dev versions mygame                   the versions of one game
  playhub dev delist mygame / relist mygame     hide it from the store / list it again
"""


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
    g.add_argument("--user", default=argparse.SUPPRESS, help=f"developer username (or ${DEV.user_env})")
    g.add_argument("--password", default=argparse.SUPPRESS, help=f"developer password (or ${DEV.password_env})")
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

"""The game client launcher's checks and environment (no server needed)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from playhub.tui.launcher import PLAYHUB_IMPORT_ROOT, GameStart, LaunchError, plan_launch, run_game_client

START = GameStart("duel-1", "duel", "1.2.0", "127.0.0.1", 40001, "t" * 64, "g1")


def installed(tmp_path: Path, **manifest: object) -> Path:
    folder = tmp_path / "alice" / "duel" / "1.2.0"
    folder.mkdir(parents=True)
    data = {"name": "duel", "type": "cli", "entry_client": "client.py", **manifest}
    (folder / "manifest.json").write_text(json.dumps(data))
    (folder / "client.py").write_text("import os, sys\nprint(os.environ['GAME_PORT'])\nsys.exit(0)\n")
    return folder


def test_plan_has_the_contract_environment(tmp_path: Path) -> None:
    folder = installed(tmp_path)
    plan = plan_launch(folder, START, "alice", base_env={"PATH": "/bin", "PYTHONPATH": "/extra"})
    assert plan.argv == [sys.executable, "client.py"] and plan.cwd == folder and plan.terminal
    env = plan.env
    assert (env["GAME_HOST"], env["GAME_PORT"], env["ROOM_ID"]) == ("127.0.0.1", "40001", "duel-1")
    assert (env["GAME_NAME"], env["GAME_VERSION"]) == ("duel", "1.2.0")
    assert env["PLAYER_USERNAME"] == env["PLAYER_NAME"] == "alice"
    assert env["PLAYHUB_TICKET"] == "t" * 64
    assert env["PYTHONPATH"] == PLAYHUB_IMPORT_ROOT + os.pathsep + "/extra"
    assert env["PATH"] == "/bin"
    assert not plan_launch(installed(tmp_path / "gui", type="GUI"), START, "alice").terminal


@pytest.mark.parametrize(
    ("manifest", "remove", "fragment"),
    [
        ({}, "manifest.json", "no manifest.json"),
        ({"entry_client": ""}, None, "no entry_client"),
        ({"entry_client": "../../evil.py"}, None, "outside its folder"),
        ({"entry_client": "missing.py"}, None, "missing.py is missing"),
    ],
)
def test_broken_copies_are_explained(
    tmp_path: Path, manifest: dict, remove: str | None, fragment: str
) -> None:
    folder = installed(tmp_path, **manifest)
    if remove:
        (folder / remove).unlink()
    with pytest.raises(LaunchError) as info:
        plan_launch(folder, START, "alice")
    assert fragment in str(info.value)


def test_not_installed_says_to_download(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="not installed: download it"):
        plan_launch(tmp_path / "nothing", START, "alice")


async def test_run_reports_exit_code_and_stderr_tail(tmp_path: Path) -> None:
    folder = installed(tmp_path)
    (folder / "client.py").write_text("import sys\nprint('no route to host', file=sys.stderr)\nsys.exit(2)\n")
    outcome = await run_game_client(plan_launch(folder, START, "alice"), inherit_terminal=False)
    assert outcome.exit_code == 2 and not outcome.ok
    assert outcome.error_tail.endswith("no route to host")
    ok = installed(tmp_path / "ok")
    outcome = await run_game_client(plan_launch(ok, START, "alice"), inherit_terminal=False)
    assert outcome.ok and outcome.error_tail == ""
    assert (ok.parent / "client-duel-1.log").read_text().strip() == "40001"

"""``playhub demo``: a real server process with the sample games in the store, idempotent across restarts."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
from pathlib import Path

from playhub.cli.demo import DEMO_DEVELOPER, DEMO_PASSWORD, banner, publish_samples
from playhub.client import Client
from playhub.settings import Settings
from tests.games_helpers import GAMES
from tests.helpers import Harness, subprocess_env


async def run_demo(data_dir: Path, *extra: str) -> tuple[asyncio.subprocess.Process, str, dict]:
    """Start ``playhub demo`` and wait for its banner; returns the process, the banner and runtime_ports.json."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "playhub",
        "demo",
        "--data-dir",
        str(data_dir),
        "--dev-port",
        "0",
        "--lobby-port",
        "0",
        "--fast-hash",
        *extra,
        env=subprocess_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    out: list[str] = []
    try:
        async with asyncio.timeout(30):
            while "Ctrl-C stops the server." not in "".join(out):
                line = await proc.stdout.readline()
                assert line, "demo exited early:\n" + "".join(out)
                out.append(line.decode())
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    ports = json.loads((data_dir / "runtime_ports.json").read_text())
    return proc, "".join(out), ports


async def stop(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.communicate(), 15)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0


async def test_demo_populates_the_store_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, text, ports = await run_demo(data)
    try:
        for name in ("rps", "connect4", "pig"):
            assert f"{name}" in text
        assert text.count("published") >= 3 and "already" not in text
        assert "playhub play" in text and f"PLAYHUB_DATA_DIR={data}" in text
        async with await Client.connect("127.0.0.1", ports["lobby_port"]) as player:
            await player.register_player("newcomer", "secret-pw")
            games = (await player.request("LIST_GAMES", {}))["games"]
            assert {g["name"] for g in games} >= {"rps", "connect4", "pig"}
    finally:
        assert await stop(proc) == 0

    # A restart on the same data directory publishes nothing again.
    proc, text, ports = await run_demo(data)
    try:
        assert text.count("already published") == 3
        async with await Client.connect("127.0.0.1", ports["developer_port"]) as dev:
            await dev.login_dev(DEMO_DEVELOPER, DEMO_PASSWORD)
            mine = (await dev.request("LIST_MY_GAMES", {}))["games"]
            assert len(mine) == 3
            for g in mine:
                versions = (await dev.request("LIST_VERSIONS", {"game_id": g["game_id"]}))["versions"]
                assert [v["version"] for v in versions] == ["1.0.0"]
    finally:
        assert await stop(proc) == 0


async def test_publish_samples_new_versions_and_bad_folders(hub: Harness, tmp_path: Path) -> None:
    games = tmp_path / "games"
    shutil.copytree(GAMES / "rps", games / "rps", ignore=shutil.ignore_patterns("__pycache__"))
    (games / "broken").mkdir()
    (games / "broken" / "manifest.json").write_text("{not json")
    (games / "notes").mkdir()  # no manifest: not a game, ignored
    out = await publish_samples("127.0.0.1", hub.app.dev_port, games)
    assert [(o.name, o.version, o.status) for o in out][1] == ("rps", "1.0.0", "published")
    assert out[0].name == "broken" and out[0].status.startswith("skipped: unreadable manifest.json")

    # A newer version in the folder is published on the next run; the same one is not.
    manifest = json.loads((games / "rps" / "manifest.json").read_text())
    manifest["version"] = "1.1.0"
    (games / "rps" / "manifest.json").write_text(json.dumps(manifest))
    out = await publish_samples("127.0.0.1", hub.app.dev_port, games)
    assert ("rps", "1.1.0", "published") in [(o.name, o.version, o.status) for o in out]
    out = await publish_samples("127.0.0.1", hub.app.dev_port, games)
    assert ("rps", "1.1.0", "already published") in [(o.name, o.version, o.status) for o in out]

    # A game of that name owned by someone else is skipped with the server's reason, not a crash.
    other = await hub.developer("rival")
    manifest.update(name="taken", version="1.0.0")
    (games / "taken").mkdir()
    for f in (games / "rps").iterdir():
        if f.is_file():
            shutil.copy(f, games / "taken" / f.name)
    (games / "taken" / "manifest.json").write_text(json.dumps(manifest))
    from playhub.client.publishing import publish_folder

    await publish_folder(other, games / "taken")
    out = await publish_samples("127.0.0.1", hub.app.dev_port, games)
    taken = next(o for o in out if o.name == "taken")
    assert taken.status.startswith("skipped:")

    out = await publish_samples("127.0.0.1", hub.app.dev_port, games, password="not-the-password")
    assert out and all("exists with another password" in o.status for o in out)
    assert await publish_samples("127.0.0.1", hub.app.dev_port, tmp_path / "nothing-here") == []


def test_banner_without_games() -> None:
    text = banner(Settings(), 5501, 5502, [], Path("/nowhere"))
    assert "No game folders found in /nowhere" in text and "PLAYHUB_DATA_DIR" not in text

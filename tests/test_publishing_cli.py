"""``playhub dev``: the interactive console driven through its real prompts, and the scriptable actions."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

import pytest

from playhub.store import catalog
from tests.helpers import Harness, subprocess_env
from tests.publishing_helpers import make_game_folder


async def run_dev(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> tuple[int, str, str]:
    full_env = subprocess_env()
    for key in (
        "PLAYHUB_DEV_USER",
        "PLAYHUB_DEV_PASSWORD",
        "PLAYHUB_DEV_HOST",
        "PLAYHUB_DEV_PORT",
        "DEV_CONNECT_HOST",
        "DEV_CONNECT_PORT",
        "PLAYHUB_DATA_DIR",
    ):
        full_env.pop(key, None)
    full_env["COLUMNS"] = "200"  # wide tables: nothing wrapped in the assertions
    full_env.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "playhub",
        "dev",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=full_env,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode is not None
    text_out, text_err = out.decode(), err.decode()
    assert "Traceback" not in text_out + text_err, text_out + text_err
    return proc.returncode, text_out, text_err


async def game_status(hub: Harness, name: str) -> tuple[str, str | None]:
    game = await hub.app.db.run(catalog.get_game_by_name, name)
    assert game is not None
    return game.status, game.latest_version


async def test_interactive_console_end_to_end(hub: Harness, tmp_path: Path) -> None:
    # Text that looks like rich markup is shown as it is, never interpreted (or crashing the console).
    snake = make_game_folder(
        tmp_path, "snake", description="Eat [apples] [/oops] fast", display_name="Snake [/x]"
    )
    broken = make_game_folder(tmp_path, "broken", entry_server=None, display_name=None)
    answers = [
        "2",
        "ann",
        "secret-pw",  # register (and log in)
        "1",
        str(broken),  # publish a new game: refused locally, back to the menu
        "1",
        str(snake),
        "",  # publish a new game: version 1.0.0 (the default)
        "9",
        "²",
        "abc",  # invalid choices re-prompt
        "2",
        "1",
        "",
        "1.0.0",
        "y",
        "",  # new version of snake: 1.0.0 is refused, retry with 1.0.1
        "3",
        "1",  # my games -> versions of snake
        "4",
        "1",
        "y",  # delist snake
        "5",  # log out
        "1",
        "ann",
        "wrong-pw",  # a failed login keeps us at the welcome menu
        "3",  # quit
    ]
    code, out, err = await run_dev(
        "--host", "127.0.0.1", "--port", str(hub.app.dev_port), stdin="\n".join(answers) + "\n"
    )
    assert code == 0, out + err
    assert "Registered and logged in as ann" in out
    assert "missing key(s): display_name, entry_server" in out
    assert "Published new game: snake 1.0.0" in out
    assert out.count("Please enter a number from 0 to 5") == 3
    assert "suggested next: 1.0.1" in out
    assert "not newer than the latest version 1.0.0 (code 104)" in out
    assert "Published new version: snake 1.0.1" in out
    assert "Versions of snake" in out and "1.0.0" in out
    assert "Eat [apples] [/oops] fast" in out and "Snake [/x]" in out
    assert "snake is now delisted" in out
    assert "Logged out ann" in out
    assert "wrong username or password (code 101)" in out
    assert out.rstrip().endswith("Bye.")
    assert await game_status(hub, "snake") == ("OFFLINE", "1.0.1")


async def test_interactive_console_relist_and_end_of_input(hub: Harness, tmp_path: Path) -> None:
    snake = make_game_folder(tmp_path, "snake")
    dev = await hub.developer("ann")
    from playhub.client.publishing import publish_folder

    await publish_folder(dev, snake)
    await dev.request(
        "SET_GAME_STATUS",
        {"game_id": (await dev.request("LIST_MY_GAMES", {}))["games"][0]["game_id"], "status": "OFFLINE"},
    )
    await dev.close()
    answers = ["4", "1", "y"]  # logged in from the environment; then stdin ends at the menu
    code, out, _ = await run_dev(
        "--port",
        str(hub.app.dev_port),
        stdin="\n".join(answers) + "\n",
        env={"PLAYHUB_DEV_USER": "ann", "PLAYHUB_DEV_PASSWORD": "secret-pw"},
    )
    assert "Logged in as ann" in out
    assert code == 0 and "snake is now listed" in out and "Bye." in out
    assert await game_status(hub, "snake") == ("ONLINE", "1.0.0")


async def test_scriptable_actions(hub: Harness, tmp_path: Path) -> None:
    snake = make_game_folder(tmp_path, "snake")
    data = ["--data-dir", str(hub.app.data_dir)]  # the address comes from runtime_ports.json
    creds = {"PLAYHUB_DEV_USER": "ann", "PLAYHUB_DEV_PASSWORD": "secret-pw"}
    code, out, _ = await run_dev("register", *data, env=creds)
    assert code == 0 and "registered developer 'ann'" in out
    code, out, _ = await run_dev("login", "--user", "ann", "--password", "secret-pw", *data)
    assert code == 0 and "credentials accepted" in out
    code, out, err = await run_dev("publish", str(snake), *data, env=creds)
    assert code == 0 and "published new game: snake 1.0.0" in out, err
    code, out, err = await run_dev("publish", str(snake), "--version", "1.0.0", *data, env=creds)
    assert code == 1 and "code 104" in err
    code, out, _ = await run_dev("publish", str(snake), "--json", *data, env=creds)
    assert code == 0 and json.loads(out)["version"] == "1.0.1" and json.loads(out)["created"] is False
    code, out, _ = await run_dev("games", "--json", *data, env=creds)
    games = json.loads(out)
    assert code == 0 and [(g["name"], g["latest_version"]) for g in games] == [("snake", "1.0.1")]
    code, out, _ = await run_dev("versions", "snake", "--json", *data, env=creds)
    assert code == 0 and [v["version"] for v in json.loads(out)] == ["1.0.0", "1.0.1"]
    code, out, _ = await run_dev("delist", "snake", *data, env=creds)
    assert code == 0 and "delisted" in out
    assert await game_status(hub, "snake") == ("OFFLINE", "1.0.1")
    code, out, _ = await run_dev("relist", games[0]["game_id"], *data, env=creds)  # by id works too
    assert code == 0 and await game_status(hub, "snake") == ("ONLINE", "1.0.1")
    code, out, _ = await run_dev("games", *data, env=creds)
    assert code == 0 and "snake" in out and "1.0.1" in out
    code, _, err = await run_dev("versions", "nope", *data, env=creds)
    assert code == 1 and "no game named 'nope'" in err
    code, _, err = await run_dev("login", "--password", "wrong-pw", *data, env={"PLAYHUB_DEV_USER": "ann"})
    assert code == 1 and "code 101" in err
    code, _, err = await run_dev("games", *data)
    assert code == 2 and "PLAYHUB_DEV_USER" in err
    code, _, err = await run_dev("publish", str(tmp_path / "missing"), *data, env=creds)
    assert code == 2 and "does not exist" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "env", "source"),
    [
        (["--port", "{port}"], {}, "from flags"),
        ([], {"PLAYHUB_DEV_HOST": "127.0.0.1", "PLAYHUB_DEV_PORT": "{port}"}, "from env"),
        ([], {"DEV_CONNECT_HOST": "127.0.0.1", "DEV_CONNECT_PORT": "{port}"}, "from env"),
    ],
)
async def test_connection_failure_names_the_address_and_its_source(
    args: list[str], env: dict[str, str], source: str
) -> None:
    port = str(_free_port())
    code, _, err = await run_dev(
        "games",
        *[a.format(port=port) for a in args],
        env={k: v.format(port=port) for k, v in env.items()}
        | {"PLAYHUB_DEV_USER": "ann", "PLAYHUB_DEV_PASSWORD": "secret-pw"},
    )
    assert code == 1 and f"127.0.0.1:{port} ({source})" in " ".join(err.split())


async def test_init_uses_the_templates(tmp_path: Path) -> None:
    dest = tmp_path / "newgame"
    code, out, err = await run_dev("init", "newgame", "--type", "cli", "--dir", str(dest))
    try:
        import playhub.templates  # noqa: F401
    except ImportError:
        assert code == 2 and "templates are not available" in err
    else:
        assert code == 0, err
        assert (dest / "manifest.json").is_file()
    code, _, err = await run_dev("init", "Bad Name")
    assert code == 2 and "not a valid game name" in err


async def test_help_explains() -> None:
    code, out, _ = await run_dev("--help")
    assert code == 0
    for word in ("publish", "delist", "relist", "versions", "init", "PLAYHUB_DEV_USER", "runtime_ports.json"):
        assert word in out


async def test_interactive_console_reconnects_with_its_session(hub: Harness) -> None:
    env = subprocess_env()
    env["COLUMNS"] = "200"
    for key in ("PLAYHUB_DEV_USER", "PLAYHUB_DEV_PASSWORD"):
        env.pop(key, None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "playhub",
        "dev",
        "--port",
        str(hub.app.dev_port),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    seen = b""

    async def until(text: bytes) -> None:
        nonlocal seen
        async with asyncio.timeout(30):
            while text not in seen:
                block = await proc.stdout.read(4096)  # type: ignore[union-attr]
                assert block, seen.decode()
                seen += block

    proc.stdin.write(b"2\nann\nsecret-pw\n")
    await until(b"Developer menu (ann)")
    await until(b"Choose:")
    for conn in list(hub.app._connections):
        conn.abort()  # the server drops the console's connection while it waits at the menu
    proc.stdin.write(b"3\n0\n")
    await proc.stdin.drain()
    proc.stdin.close()
    rest, err = await asyncio.wait_for(proc.communicate(), 30)
    out = (seen + rest).decode()
    assert proc.returncode == 0, out + err.decode()
    assert "You have no games yet" in out and "Lost the connection" not in out and "Traceback" not in out

"""Names compare folded (NFKC + case folding) everywhere, and display texts refuse terminal control characters."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from playhub.names import find_unsafe
from playhub.protocol.errors import Conflict, InvalidRequest
from playhub.store import accounts as accounts_repo
from playhub.store import catalog as catalog_sql
from playhub.store.db import migrate, migrations
from tests.helpers import Harness
from tests.publishing_helpers import create_game


async def test_register_refuses_a_folded_duplicate_and_login_folds(hub: Harness) -> None:
    await (await hub.lobby()).register_player("Alice", "secret-pw")
    for other in ("alice", "ALICE"):
        with pytest.raises(Conflict):
            await (await hub.lobby()).register_player(other, "secret-pw")
    c = await hub.lobby()
    out = await c.login_player("aLiCe", "secret-pw")
    assert out["username"] == "Alice"
    # Developers are their own namespace.
    await (await hub.dev()).register_dev("alice", "secret-pw")


@pytest.mark.parametrize(
    "field,value",
    [
        ("description", "nice\x1b[2Jgame"),
        ("description", "evil \u202egnp.exe"),
        ("display_name", "Tab\tname"),
        ("display_name", "C1\x9bname"),
        ("display_name", "iso\u2066late"),
    ],
)
async def test_control_characters_in_texts_are_100(hub: Harness, field: str, value: str) -> None:
    dev = await hub.developer()
    with pytest.raises(InvalidRequest) as info:
        await create_game(dev, "tetris", **{field: value})
    assert "control character" in info.value.message
    game_id = await create_game(dev, "tetris", description="line one\nline two\twith a tab")
    with pytest.raises(InvalidRequest):
        await dev.request("UPDATE_GAME_META", {"game_id": game_id, field: value})


def test_find_unsafe() -> None:
    assert find_unsafe("plain é ü 名前") is None
    assert find_unsafe("a\nb", multiline=True) is None
    assert find_unsafe("a\nb") == "\n"
    assert find_unsafe("\x1b[31m") == "\x1b"
    assert find_unsafe("x\u202ey") == "\u202e"


def test_migration_backfills_keys_of_an_older_database(tmp_path: Path) -> None:
    """A database that already reached a later migration number gets the name keys late; names that collide once
    folded keep working, the oldest one owning the folded name."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    scripts = [m for m in migrations() if m[0] != 2]
    for number, _name, script in scripts:
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    for name in ("Alice", "alice", "bob"):
        conn.execute(
            "INSERT INTO accounts (role, username, password_hash, created_at) VALUES ('player', ?, 'x', 0)", (name,)
        )
    conn.close()
    from playhub.store.db import _connect

    conn = _connect(path)
    migrate(conn)
    assert "unpacked_bytes" in {r[1] for r in conn.execute("PRAGMA table_info(versions)")}
    assert accounts_repo.find(conn, "player", "ALICE").username == "Alice"  # type: ignore[union-attr]
    assert accounts_repo.find(conn, "player", "BOB").username == "bob"  # type: ignore[union-attr]
    assert accounts_repo.create(conn, "player", "ALICE", "x") is None
    # Rows inserted without a key (tools, raw SQL) get one from the trigger.
    conn.execute(
        "INSERT INTO games (id, developer_id, name, display_name, description, game_type, max_players, status, "
        "created_at, updated_at) VALUES ('g1', 1, 'pong', 'Pong', '', 'cli', 2, 'ONLINE', 0, 0)"
    )
    assert catalog_sql.get_game_by_name(conn, "PONG").id == "g1"  # type: ignore[union-attr]
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO games (id, developer_id, name, display_name, description, game_type, max_players, status, "
            "created_at, updated_at) VALUES ('g2', 1, 'Pong', 'Pong', '', 'cli', 2, 'ONLINE', 0, 0)"
        )
    conn.close()

"""Store test helpers: publish games by writing catalogue rows and package files directly.

The upload commands live in the publishing area; these helpers produce the same end state (a ``games`` row, a
``versions`` row, ``blobs.archive`` holding the original zip and ``blobs.version_dir`` the unpacked files) so store
tests do not depend on them. ``record_play`` stands in for the lobby writing a ``plays`` row when a game starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import sqlite3
import time
import zipfile
from pathlib import Path
from typing import Any

from playhub.packages import ZipLimits, parse_version, safe_extract
from playhub.server.app import PlayHubApp
from playhub.store import accounts


def build_package(
    folder: Path, name: str, version: str, *, payload_bytes: int = 0, max_players: int = 2, **manifest: Any
) -> Path:
    """A real package zip with a valid manifest; ``payload_bytes`` of random data make it as big as needed."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"{name}-{version}-{secrets.token_hex(3)}.zip"
    data = {
        "name": name,
        "display_name": manifest.pop("display_name", name.title()),
        "type": manifest.pop("type", "cli"),
        "max_players": max_players,
        "entry_server": "server.py",
        "entry_client": "client.py",
        "description": manifest.pop("description", f"{name} for testing"),
        "version": version,
        **manifest,
    }
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(data))
        zf.writestr("server.py", "print('server')\n")
        zf.writestr("client.py", f"print('client {version}')\n")
        if payload_bytes:
            # Random bytes stored uncompressed, so the archive really is that large.
            zf.writestr(zipfile.ZipInfo("assets/blob.bin"), os.urandom(payload_bytes), zipfile.ZIP_STORED)
    return archive


def _insert(
    conn: sqlite3.Connection,
    developer: str,
    name: str,
    version: str,
    manifest: dict[str, Any],
    size: int,
    checksum: str,
    status: str,
) -> str:
    dev = accounts.find(conn, "developer", developer)
    dev_id = dev.id if dev else accounts.create(conn, "developer", developer, "not-a-real-hash")
    now = time.time()
    row = conn.execute("SELECT id FROM games WHERE name = ?", (name,)).fetchone()
    if row is None:
        game_id = secrets.token_hex(8)
        conn.execute(
            "INSERT INTO games (id, developer_id, name, display_name, description, game_type, max_players, "
            "min_players, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                game_id,
                dev_id,
                name,
                manifest["display_name"],
                manifest["description"],
                manifest["type"],
                manifest["max_players"],
                manifest.get("min_players"),
                status,
                now,
                now,
            ),
        )
    else:
        game_id = row[0]
    major, minor, patch = parse_version(version)
    conn.execute(
        "INSERT INTO versions (game_id, version, major, minor, patch, size_bytes, checksum, manifest, uploaded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (game_id, version, major, minor, patch, size, checksum, json.dumps(manifest), now),
    )
    conn.execute(
        "UPDATE games SET latest_version = ?, status = ?, updated_at = ? WHERE id = ?",
        (version, status, now, game_id),
    )
    return game_id


async def publish(
    app: PlayHubApp,
    name: str,
    version: str = "1.0.0",
    *,
    developer: str = "devA",
    status: str = "ONLINE",
    payload_bytes: int = 0,
    **manifest: Any,
) -> str:
    """Publish ``name`` at ``version`` (creating the game if needed) and return its game_id."""
    folder = app.data_dir.parent / "packages"
    archive = await asyncio.to_thread(
        build_package, folder, name, version, payload_bytes=payload_bytes, **manifest
    )
    with zipfile.ZipFile(archive) as zf:
        data = json.loads(zf.read("manifest.json"))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    size = archive.stat().st_size
    game_id = await app.db.run(_insert, developer, name, version, data, size, digest, status)
    target = app.blobs.archive(game_id, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(archive, target)
    await asyncio.to_thread(safe_extract, target, app.blobs.version_dir(game_id, version), ZipLimits())
    app.events.emit("catalog_changed", game_id)
    return game_id


async def create_game_without_version(app: PlayHubApp, name: str, developer: str = "devA") -> str:
    def insert(conn: sqlite3.Connection) -> str:
        dev = accounts.find(conn, "developer", developer)
        dev_id = dev.id if dev else accounts.create(conn, "developer", developer, "not-a-real-hash")
        game_id = secrets.token_hex(8)
        now = time.time()
        conn.execute(
            "INSERT INTO games (id, developer_id, name, display_name, description, game_type, max_players, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'cli', 2, ?, ?)",
            (game_id, dev_id, name, name.title(), "no versions yet", now, now),
        )
        return game_id

    game_id = await app.db.run(insert)
    app.events.emit("catalog_changed", game_id)
    return game_id


async def set_status(app: PlayHubApp, game_id: str, status: str) -> None:
    def update(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE games SET status = ?, updated_at = ? WHERE id = ?", (status, time.time(), game_id)
        )

    await app.db.run(update)
    app.events.emit("catalog_changed", game_id)


async def record_play(app: PlayHubApp, game_id: str, player: str, version: str = "1.0.0") -> None:
    """What the lobby writes when a room of this game starts with ``player`` in it."""

    def insert(conn: sqlite3.Connection) -> None:
        acc = accounts.find(conn, "player", player)
        assert acc is not None, f"no player {player}"
        conn.execute(
            "INSERT INTO plays (game_id, player_id, room_id, version, started_at) VALUES (?, ?, ?, ?, ?)",
            (game_id, acc.id, secrets.token_hex(4), version, time.time()),
        )

    await app.db.run(insert)

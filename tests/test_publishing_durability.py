"""A published version is on stable storage before UPLOAD_END answers: files, folders, archive, then the commit."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from playhub.server.app import PlayHubApp
from playhub.store import catalog as catalog_sql
from tests.helpers import Harness, settings_for_tests
from tests.publishing_helpers import create_game, manifest, upload, zip_bytes


async def test_publish_fsyncs_every_file_and_folder_before_a_full_sync_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = PlayHubApp(settings_for_tests(tmp_path / "data"))
    await app.start()
    hub = Harness(app)
    events: list[tuple[str, Any]] = []
    real_fsync, real_insert = os.fsync, catalog_sql.insert_version

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def insert_version(conn: sqlite3.Connection, *args: Any, **kwargs: Any) -> bool:
        events.append(("commit", conn.execute("PRAGMA synchronous").fetchone()[0]))
        return real_insert(conn, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(catalog_sql, "insert_version", insert_version)
    try:
        dev = await hub.developer()
        game_id = await create_game(dev, "tetris")
        data = zip_bytes(
            {"server.py": "print(1)\n", "client.py": "print(2)\n", "assets/a/b.txt": "x"},
            manifest_data=manifest("tetris"),
        )
        await upload(dev, game_id, "1.0.0", data)
    finally:
        monkeypatch.undo()
        await hub.close()
    blobs = app.blobs
    commit = next(i for i, e in enumerate(events) if e[0] == "commit")
    assert events[commit][1] == 2  # synchronous=FULL: the WAL is synced before the commit returns
    before = {Path(p) for kind, p in events[:commit] if kind == "fsync"}
    version = blobs.version_dir(game_id, "1.0.0")
    # Files were flushed in the staging folder, then renamed: compare by name relative to the package root.
    stage = {p.name for p in before if "stage-" in str(p)}
    assert {"manifest.json", "server.py", "client.py", "b.txt", "a", "assets"} <= stage
    assert any(str(p).endswith(".part") for p in before)  # the archive, before its rename
    assert blobs.game_dir(game_id).resolve() in before  # the folder holding the renamed version and archive
    assert blobs.root.resolve() in before  # a new game's folder is itself a new name in uploadedGame/
    assert (version / "server.py").is_file()
    # A clean shutdown checkpoints the WAL into the database file.
    wal = app.data_dir / "playhub.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0

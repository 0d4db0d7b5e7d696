"""P2 on the player's machine: download_game into the LocalLibrary, updates, corruption, interruption and resume."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from playhub.client import ConnectionLost
from playhub.client.library import LocalLibrary, default_downloads_root, download_game
from playhub.protocol.errors import BadState, ChecksumMismatch, NotFound
from tests.store_helpers import publish, set_status


def _leftovers(library: LocalLibrary, name: str) -> list[str]:
    """Anything in the game folder besides installed versions."""
    folder = library.game_dir(name)
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name not in library.versions(name))


async def test_download_installs_and_updates(hub, tmp_path: Path) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    alice = await hub.player("alice")
    library = LocalLibrary(tmp_path / "downloads", "alice")
    assert library.installed() == {} and library.installed_version("rps") is None
    seen: list[tuple[int, int]] = []
    got = await download_game(alice, library, game, progress=lambda done, total: seen.append((done, total)))
    assert (got.name, got.version) == ("rps", "1.0.0")
    assert got.path == tmp_path / "downloads" / "alice" / "rps" / "1.0.0"
    assert got.manifest["name"] == "rps" and (got.path / "client.py").read_text() == "print('client 1.0.0')\n"
    assert seen and seen[-1][0] == seen[-1][1] == app.blobs.archive(game, "1.0.0").stat().st_size
    assert _leftovers(library, "rps") == []
    # Already up to date: returns the installed copy without downloading.
    assert await download_game(alice, library, game) == got

    listing = (await alice.request("LIST_GAMES"))["games"]
    assert library.updates(listing) == {}
    await publish(app, "rps", "1.1.0")
    listing = (await alice.request("LIST_GAMES"))["games"]
    assert library.updates(listing) == {"rps": "1.1.0"}
    newer = await download_game(alice, library, game)
    assert newer.version == "1.1.0"
    assert library.versions("rps") == ["1.0.0", "1.1.0"]
    assert library.installed()["rps"].version == "1.1.0"
    assert library.updates(listing) == {}
    # An older version can be fetched on purpose.
    library.remove("rps", "1.0.0")
    assert library.versions("rps") == ["1.1.0"]
    assert (await download_game(alice, library, game, "1.0.0")).version == "1.0.0"
    library.remove("rps")
    assert library.installed() == {}


async def test_corrupted_download_is_refused_and_keeps_the_old_version(hub, tmp_path: Path) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    alice = await hub.player("alice")
    library = LocalLibrary(tmp_path / "dl", "alice")
    await download_game(alice, library, game)
    await publish(app, "rps", "1.1.0", payload_bytes=50_000)
    # Damage the stored archive after its versions row (size, checksum) was written.
    path = app.blobs.archive(game, "1.1.0")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch) as err:
        await download_game(alice, library, game)
    assert err.value.code == 121
    assert library.installed_version("rps") == "1.0.0"
    assert (library.version_dir("rps", "1.0.0") / "client.py").read_text() == "print('client 1.0.0')\n"
    assert _leftovers(library, "rps") == []


async def test_unusable_archive_is_not_installed(hub, tmp_path: Path) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    # A package whose bytes match the catalogue but that is not a zip at all.
    path = app.blobs.archive(game, "1.0.0")
    junk = b"this is not a zip archive" * 100
    path.write_bytes(junk)

    def fix_row(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE versions SET size_bytes = ?, checksum = ? WHERE game_id = ?",
            (len(junk), hashlib.sha256(junk).hexdigest(), game),
        )

    await app.db.run(fix_row)
    alice = await hub.player("alice")
    library = LocalLibrary(tmp_path / "dl", "alice")
    from playhub.packages import PackageError

    with pytest.raises(PackageError):
        await download_game(alice, library, game)
    assert library.installed() == {} and _leftovers(library, "rps") == []


async def test_interrupted_download_resumes(make_hub, tmp_path: Path) -> None:
    hub = await make_hub(download_chunk_size=16 * 1024)
    app = hub.app
    game = await publish(app, "big", "1.0.0")
    first = await hub.player("alice")
    library = LocalLibrary(tmp_path / "dl", "alice")
    await download_game(first, library, game)
    # Large enough that socket and reader buffers (a few MB) cannot hold the rest of the stream when the cut comes.
    await publish(app, "big", "2.0.0", payload_bytes=12_000_000)
    size = app.blobs.archive(game, "2.0.0").stat().st_size

    def cut(done: int, total: int) -> None:
        if done > 400_000:
            first.writer.transport.abort()  # the network goes away mid-download

    with pytest.raises(ConnectionLost):
        await download_game(first, library, game, progress=cut)
    assert library.installed_version("big") == "1.0.0"  # the old version is untouched
    part = library.part_path("big", "2.0.0")
    assert part.exists() and library.resume_path("big", "2.0.0").exists()
    assert 400_000 < part.stat().st_size < size

    again = await hub.lobby()
    await again.login_player("alice", "secret-pw")
    seen: list[int] = []
    got = await download_game(again, library, game, progress=lambda done, total: seen.append(done))
    assert seen[0] > 400_000  # it continued where it stopped
    assert got.version == "2.0.0" and library.installed_version("big") == "2.0.0"
    assert (got.path / "assets" / "blob.bin").stat().st_size == 12_000_000
    assert _leftovers(library, "big") == []


async def test_two_players_on_one_machine_hold_different_versions(hub, tmp_path: Path) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    alice = await hub.player("alice")
    bob = await hub.player("bob")
    root = tmp_path / "shared-downloads"
    lib_a, lib_b = LocalLibrary(root, "alice"), LocalLibrary(root, "bob")
    await download_game(alice, lib_a, game)
    await publish(app, "rps", "2.0.0")
    await download_game(bob, lib_b, game)
    assert lib_a.installed_version("rps") == "1.0.0"
    assert lib_b.installed_version("rps") == "2.0.0"
    assert (lib_a.installed()["rps"].path / "client.py").read_text() == "print('client 1.0.0')\n"
    assert (lib_b.installed()["rps"].path / "client.py").read_text() == "print('client 2.0.0')\n"
    listing = (await alice.request("LIST_GAMES"))["games"]
    assert lib_a.updates(listing) == {"rps": "2.0.0"} and lib_b.updates(listing) == {}


async def test_download_refusals_leave_nothing_behind(hub, tmp_path: Path) -> None:
    app = hub.app
    game = await publish(app, "rps", "1.0.0")
    alice = await hub.player("alice")
    library = LocalLibrary(tmp_path / "dl", "alice")
    with pytest.raises(NotFound):
        await download_game(alice, library, game, "3.0.0")
    with pytest.raises(NotFound):
        await download_game(alice, library, "no-such-game")
    await set_status(app, game, "OFFLINE")
    with pytest.raises(BadState):
        await download_game(alice, library, game)
    assert library.installed() == {} and _leftovers(library, "rps") == []


def test_library_refuses_unsafe_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("..", ".", "../x", "a/b", "a\\b", ""):
        with pytest.raises(ValueError):
            LocalLibrary(tmp_path, bad)
    assert LocalLibrary(tmp_path, ".bob").base == tmp_path / ".bob"  # a valid username
    library = LocalLibrary(tmp_path, "alice")
    for bad in ("../bob", ".staging-x", ".."):
        with pytest.raises(ValueError):
            library.game_dir(bad)
    with pytest.raises(ValueError):
        library.version_dir("rps", "1.0")
    assert library.versions("missing") == [] and library.installed() == {}
    monkeypatch.setenv("PLAYHUB_DOWNLOADS", str(tmp_path / "elsewhere"))
    assert default_downloads_root() == tmp_path / "elsewhere"
    monkeypatch.delenv("PLAYHUB_DOWNLOADS")
    assert default_downloads_root() == Path("downloads")


async def test_same_download_twice_at_once_installs_once(hub, tmp_path: Path) -> None:
    import asyncio

    game = await publish(hub.app, "rps", "1.0.0", payload_bytes=200_000)
    alice = await hub.player("alice")
    library = LocalLibrary(tmp_path / "dl", "alice")
    first, second = await asyncio.gather(
        download_game(alice, library, game), download_game(alice, library, game)
    )
    assert first == second and library.versions("rps") == ["1.0.0"]
    assert _leftovers(library, "rps") == []


async def test_stale_resume_record_starts_over(make_hub, tmp_path: Path) -> None:
    import json

    hub = await make_hub(download_chunk_size=16 * 1024)
    game = await publish(hub.app, "big", "1.0.0", payload_bytes=12_000_000)
    first = await hub.player("alice")
    library = LocalLibrary(tmp_path / "dl", "alice")

    def cut(done: int, total: int) -> None:
        if done > 400_000:
            first.writer.transport.abort()

    with pytest.raises(ConnectionLost):
        await download_game(first, library, game, progress=cut)
    record_path = library.resume_path("big", "1.0.0")
    record = json.loads(record_path.read_text())
    # The package changed since (another checksum): the next attempt must not glue two packages together.
    record_path.write_text(json.dumps({**record, "checksum": "0" * 64}))
    again = await hub.lobby()
    await again.login_player("alice", "secret-pw")
    seen: list[int] = []
    got = await download_game(again, library, game, progress=lambda done, total: seen.append(done))
    assert seen[0] == 0 and got.version == "1.0.0"
    assert _leftovers(library, "big") == []


async def test_download_over_length_prefixed_framing(hub, tmp_path: Path) -> None:
    from playhub.wire import Framing

    game = await publish(hub.app, "rps", "1.0.0", payload_bytes=300_000)
    client = await hub.lobby(Framing.LENGTH_PREFIXED)
    await client.register_player("alice", "secret-pw")
    library = LocalLibrary(tmp_path / "dl", "alice")
    got = await download_game(client, library, game)
    assert (got.path / "assets" / "blob.bin").stat().st_size == 300_000

"""Files a match sees: its own run folder outside the data folder, and nothing of the data folder itself.

::

    <game_run_dir or tmp>/playhub-rooms-<hash>/        root, 0711: enter by exact name only, no listing
        lib/playhub/sdk/...                          root, 0555/0444: the SDK, shared by every match (PYTHONPATH)
        <room>-<n>/                                  root:<match gid>, 0750: only this match's uid enters
            game/                                    root, 0555/0444 (or hard links to root-owned 0644 files):
                                                     a read-only copy of the version's files; the server's cwd
            home/                                    <match uid>, 0700: HOME and TMPDIR, the only writable place
            secret                                   <match uid>, 0400: the room secret (PLAYHUB_ROOM_SECRET_FILE)

``<hash>`` is derived from the data folder, so several PlayHubs on one host keep apart. The room folder belongs to
root, so a game can neither rename nor replace its own ``game/`` copy. The data folder is 0700 and the database 0600:
a game uid cannot enter it, and so cannot read the database, the packages of other games or the logs.

All functions block (file system work): call them from a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import playhub

_SDK_SOURCE = Path(playhub.__file__).resolve().parent
DB_FILES = ("playhub.sqlite3", "playhub.sqlite3-wal", "playhub.sqlite3-shm", "playhub.sqlite3-journal")


class UnsafeRunFolder(Exception):
    """The run folder's parent is not what PlayHub created (wrong owner, a link, a file)."""


def instance_key(data_dir: Path) -> str:
    """A short name for this PlayHub instance, stable across restarts (its data folder)."""
    return hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]


def runs_root(game_run_dir: Path | None, data_dir: Path) -> Path:
    base = Path(game_run_dir) if game_run_dir is not None else Path(tempfile.gettempdir())
    return base / f"playhub-rooms-{instance_key(data_dir)}"


def protect_data_dir(data_dir: Path) -> None:
    """Data folder 0700, database files 0600 (also fixes a data folder made by an older version)."""
    os.chmod(data_dir, 0o700)
    for name in DB_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(data_dir / name, 0o600)


def _own_dir(path: Path, mode: int) -> None:
    """Create ``path`` (one level) or accept it only if it is a real folder of ours; then set ``mode``."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, mode)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise UnsafeRunFolder(f"{path} exists and is not a folder owned by PlayHub's user")
    os.chmod(path, mode)


def ensure_root(root: Path) -> Path:
    """The instance's run folder (0711) with the shared read-only SDK in ``lib/``; returns the lib path."""
    root.parent.mkdir(parents=True, exist_ok=True)
    _own_dir(root, 0o711)
    lib = root / "lib"
    if not (lib / "playhub" / "sdk" / "__init__.py").is_file():
        staging = Path(tempfile.mkdtemp(prefix=".lib-", dir=root))
        pkg = staging / "playhub"
        pkg.mkdir()
        # Only the SDK (stdlib-only) and the package marker: game servers get nothing else of PlayHub.
        shutil.copyfile(_SDK_SOURCE / "__init__.py", pkg / "__init__.py")
        shutil.copytree(
            _SDK_SOURCE / "sdk", pkg / "sdk", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        _freeze(staging)
        if lib.exists():
            _remove_tree(lib)
        os.replace(staging, lib)
    return lib


def _freeze(top: Path) -> None:
    """Make a tree read-only for everyone: folders 0555, files 0444 (0555 when executable)."""
    for dirpath, _dirnames, filenames in os.walk(top, topdown=False):
        for name in filenames:
            p = os.path.join(dirpath, name)
            mode = os.lstat(p).st_mode
            if stat.S_ISREG(mode):
                os.chmod(p, 0o555 if mode & 0o111 else 0o444)
        os.chmod(dirpath, 0o555)


def _remove_tree(path: Path) -> None:
    """rmtree that also works on read-only folders when PlayHub is not root."""

    def unlock(func, p, _exc):  # type: ignore[no-untyped-def]
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
        with contextlib.suppress(FileNotFoundError):
            func(p)

    if path.exists() or path.is_symlink():
        shutil.rmtree(path, onerror=unlock)


def _copy_version(src: Path, dst: Path) -> None:
    """A read-only copy of the version's files. Root-owned files that nobody else may write are hard-linked
    (instant, no disk: the game uid cannot change them); anything else is copied."""
    root = os.geteuid() == 0
    same_fs = os.stat(src).st_dev == os.stat(dst.parent).st_dev
    os.mkdir(dst, 0o755)
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        out = dst if rel == "." else dst / rel
        for d in dirnames:
            if not os.path.islink(os.path.join(dirpath, d)):
                os.mkdir(out / d, 0o755)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            s = os.path.join(dirpath, name)
            st = os.lstat(s)
            if not stat.S_ISREG(st.st_mode):
                continue  # uploads contain no links or devices; never follow one
            t = out / name
            if root and same_fs and st.st_uid == 0 and not st.st_mode & 0o022:
                try:
                    os.link(s, t)
                    continue
                except OSError:
                    pass
            shutil.copyfile(s, t, follow_symlinks=False)
            os.chmod(t, 0o555 if st.st_mode & 0o111 else 0o444)
    for dirpath, _dirnames, _filenames in os.walk(dst, topdown=False):
        os.chmod(dirpath, 0o555)


@dataclass(frozen=True, slots=True)
class RunDir:
    path: Path  # <root>/<room>-<n>
    game: Path  # read-only copy of the version; the server's cwd
    home: Path  # writable: HOME and TMPDIR
    secret_file: Path
    lib: Path  # the SDK, for PYTHONPATH


def prepare(root: Path, name: str, version_dir: Path, uid: int, gid: int, secret: str) -> RunDir:
    """Create one match's run folder (see the module doc). ``uid``/``gid`` own ``home`` and ``secret``."""
    lib = ensure_root(root)
    path = root / name
    if path.exists() or path.is_symlink():
        _remove_tree(path)
    os.mkdir(path, 0o700)
    try:
        game, home, secret_file = path / "game", path / "home", path / "secret"
        _copy_version(version_dir, game)
        os.mkdir(home, 0o700)
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o400)
        try:
            os.write(fd, secret.encode())
        finally:
            os.close(fd)
        if os.geteuid() == 0:
            os.chown(home, uid, gid)
            os.chown(secret_file, uid, gid)
            os.chown(path, 0, gid)
            os.chmod(path, 0o750)
    except BaseException:
        _remove_tree(path)
        raise
    return RunDir(path, game, home, secret_file, lib)


def remove(run: RunDir) -> None:
    _remove_tree(run.path)


def remove_root(root: Path) -> None:
    """Remove the instance's whole run folder (startup, after leftovers are killed)."""
    with contextlib.suppress(OSError):
        st = os.lstat(root)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid():
            _remove_tree(root)

"""Game packages: the manifest contract, version strings, and safe zip handling.

Used by the server (publishing), the developer client (local checks before sending) and the player client (unpacking
downloads), so all three apply the same rules.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

GAME_TYPES = ("cli", "gui", "multi")
REQUIRED_KEYS = ("name", "display_name", "type", "max_players", "entry_server", "entry_client", "description")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{1,63}")
_VERSION_RE = re.compile(r"(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})")


class PackageError(ValueError):
    """A package or manifest that cannot be accepted; the message says what to fix."""


# --- versions --------------------------------------------------------------------------------------------------------
def parse_version(text: str) -> tuple[int, int, int]:
    """``major.minor.patch`` with no leading zeros; raises PackageError otherwise."""
    m = _VERSION_RE.fullmatch(text)
    if not m:
        raise PackageError(f"version '{text}' is not of the form major.minor.patch (for example 1.0.0)")
    return int(m[1]), int(m[2]), int(m[3])


def is_version(text: str) -> bool:
    return _VERSION_RE.fullmatch(text) is not None


def next_version(latest: str | None) -> str:
    """The suggested next version: 1.0.0 for a new game, else the patch bump."""
    if latest is None:
        return "1.0.0"
    major, minor, patch = parse_version(latest)
    return f"{major}.{minor}.{patch + 1}"


# --- manifest --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Manifest:
    name: str
    display_name: str
    type: str
    max_players: int
    min_players: int
    entry_server: str
    entry_client: str
    description: str
    raw: dict[str, Any]


def _safe_entry(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PackageError(f"manifest key '{key}' must be a non-empty string path")
    path = PurePosixPath(value.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", value):
        raise PackageError(f"manifest key '{key}' must be a relative path inside the package")
    return str(path)


def validate_manifest(data: Any, max_players_limit: int = 64) -> Manifest:
    """Check a decoded manifest; the error names every missing or invalid key at once."""
    if not isinstance(data, dict):
        raise PackageError("manifest.json must contain a JSON object")
    problems: list[str] = []
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        problems.append("missing key(s): " + ", ".join(missing))
    name = data.get("name")
    if "name" in data and (not isinstance(name, str) or not NAME_RE.fullmatch(name)):
        problems.append(
            "'name' must be 2-64 characters of lowercase letters, digits, '_' or '-', starting alphanumeric"
        )
    for key in ("display_name", "description"):
        if key in data and (not isinstance(data[key], str) or not data[key].strip()):
            problems.append(f"'{key}' must be a non-empty string")
    gtype = data.get("type")
    if "type" in data and (not isinstance(gtype, str) or gtype.lower() not in GAME_TYPES):
        problems.append(f"'type' must be one of {', '.join(GAME_TYPES)}")
    maxp = data.get("max_players")
    if "max_players" in data and (type(maxp) is not int or not 1 <= maxp <= max_players_limit):
        problems.append(f"'max_players' must be an integer from 1 to {max_players_limit}")
    minp = data.get("min_players", maxp)
    if "min_players" in data and (type(minp) is not int or minp < 1 or (type(maxp) is int and minp > maxp)):
        problems.append("'min_players' must be an integer from 1 to max_players")
    entries = {}
    for key in ("entry_server", "entry_client"):
        if key in data:
            try:
                entries[key] = _safe_entry(data[key], key)
            except PackageError as exc:
                problems.append(str(exc).removeprefix("manifest "))
    if problems:
        raise PackageError("invalid manifest.json: " + "; ".join(problems))
    return Manifest(
        name=name,  # type: ignore[arg-type]
        display_name=data["display_name"].strip(),
        type=gtype.lower(),  # type: ignore[union-attr]
        max_players=maxp,  # type: ignore[arg-type]
        min_players=minp if type(minp) is int else maxp,  # type: ignore[arg-type]
        entry_server=entries["entry_server"],
        entry_client=entries["entry_client"],
        description=data["description"].strip(),
        raw=data,
    )


def read_manifest_file(folder: Path, max_players_limit: int = 64) -> Manifest:
    path = folder / "manifest.json"
    if not folder.is_dir():
        raise PackageError(f"folder '{folder}' does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackageError(f"'{folder}' has no manifest.json at its root") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PackageError(f"manifest.json is not valid JSON: {exc}") from None
    return validate_manifest(data, max_players_limit)


# --- zip archives ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ZipLimits:
    max_unpacked_bytes: int = 1 << 30
    max_files: int = 5_000
    max_ratio: int = 200  # a member that expands more than this per stored byte is treated as a bomb


def _check_member(info: zipfile.ZipInfo) -> PurePosixPath:
    name = info.filename
    if "\x00" in name:
        raise PackageError(f"archive member {name!r} has a NUL byte in its name")
    norm = name.replace("\\", "/")
    path = PurePosixPath(norm)
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm) or path.is_absolute():
        raise PackageError(f"archive member '{name}' has an absolute path")
    if ".." in path.parts:
        raise PackageError(f"archive member '{name}' escapes the package folder (zip-slip)")
    mode = (info.external_attr >> 16) & 0xFFFF
    if mode and (
        stat.S_ISLNK(mode)
        or stat.S_ISCHR(mode)
        or stat.S_ISBLK(mode)
        or stat.S_ISFIFO(mode)
        or stat.S_ISSOCK(mode)
    ):
        raise PackageError(
            f"archive member '{name}' is a link or device file, which packages may not contain"
        )
    return path


def inspect_zip(archive: Path, limits: ZipLimits, max_players_limit: int = 64) -> Manifest:
    """Check an archive without extracting it: structure, paths, links, sizes, counts, manifest."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(f"the package is not a valid zip archive: {exc}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_files:
            raise PackageError(
                f"the package has {len(infos)} entries, more than the limit of {limits.max_files}"
            )
        total = 0
        for info in infos:
            _check_member(info)
            total += info.file_size
            if info.compress_size and info.file_size > limits.max_ratio * max(info.compress_size, 1024):
                raise PackageError(f"archive member '{info.filename}' expands suspiciously (zip bomb)")
        if total > limits.max_unpacked_bytes:
            raise PackageError(
                f"the package unpacks to {total} bytes, more than the limit of {limits.max_unpacked_bytes}"
            )
        try:
            data = json.loads(zf.read("manifest.json"))
        except KeyError:
            raise PackageError("the package has no manifest.json at its root") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise PackageError(f"manifest.json is not valid JSON: {exc}") from None
        except zipfile.BadZipFile as exc:
            raise PackageError(f"the package is corrupt: {exc}") from None
    return validate_manifest(data, max_players_limit)


def safe_extract(archive: Path, dest: Path, limits: ZipLimits) -> None:
    """Extract into ``dest`` (which must not exist), enforcing the limits on the bytes actually written.

    Declared sizes in a zip can lie, so the running total is counted while writing, not trusted from the headers.
    """
    dest.mkdir(parents=True)
    root = dest.resolve()
    written = 0
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > limits.max_files:
            raise PackageError(f"the package has more than {limits.max_files} entries")
        for info in infos:
            rel = _check_member(info)
            target = (root / rel).resolve()
            if target != root and root not in target.parents:
                raise PackageError(f"archive member '{info.filename}' escapes the package folder")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 16):
                        written += len(chunk)
                        if written > limits.max_unpacked_bytes:
                            raise PackageError(
                                f"the package unpacks to more than {limits.max_unpacked_bytes} bytes"
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
                raise PackageError(f"the package is corrupt at '{info.filename}': {exc}") from None
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(target, (mode | 0o600) & 0o755 if mode else 0o644)


def zip_folder(folder: Path, archive: Path, exclude: tuple[str, ...] = ("__pycache__", ".git")) -> int:
    """Pack a game folder (manifest at the root) into ``archive``; returns its size."""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if any(part in exclude or part.endswith(".pyc") for part in rel.parts):
                continue
            if path.is_symlink():
                raise PackageError(f"'{rel}' is a symbolic link; packages may not contain links")
            if path.is_file():
                zf.write(path, rel.as_posix())
    return archive.stat().st_size


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

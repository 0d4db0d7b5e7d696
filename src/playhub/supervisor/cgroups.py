"""One cgroup per match: every process of the match, however it detached (setsid, double fork), is in it, the
limits (memory, processes, CPU) hold for the match as a whole, and ending the match kills the cgroup.

Layout: ``<mount>/<PlayHub's own cgroup>/<game_cgroup_name>/<instance>/<room>-<n>`` in every hierarchy used, where
``<instance>`` is derived from the data folder so several PlayHubs on one host do not touch each other's matches.

- cgroup v2 (the unified hierarchy): membership, ``cgroup.kill`` (Linux 5.14+), and ``memory.max``, ``pids.max``,
  ``cpu.max`` for the controllers the hierarchy offers;
- cgroup v1 ``pids``, ``memory`` and ``cpu`` hierarchies for the limits v2 does not offer (hybrid hosts);
- none usable (not root, no cgroup file system, ``game_cgroups = "off"``): ``detect`` returns None and the supervisor
  falls back to killing by uid (see ``accounts.kill_uid``) and by process group.

All methods block (file system writes): call them from a thread. The child joins its cgroup between fork and exec
(``join_paths``), before it drops its privileges, so it never runs a single instruction of game code outside it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("playhub.supervisor")

CGROUP_ROOT = Path("/sys/fs/cgroup")
_V1_CONTROLLERS = ("pids", "memory", "cpu")
_CPU_PERIOD_US = 100_000
_KILL_ROUNDS = 200


@dataclass(frozen=True, slots=True)
class CgroupLimits:
    memory_bytes: int = 0
    processes: int = 0
    cpus: float = 0.0


@dataclass(slots=True)
class _Hierarchy:
    version: int  # 1 or 2
    base: Path  # <mount>/<own cgroup>/<name>/<instance>
    controllers: frozenset[str]  # the limits this hierarchy enforces for us


def _mounts(mountinfo: str) -> list[tuple[str, Path, str, str]]:
    """(fstype, mount point, root inside the hierarchy, super options) of every cgroup mount."""
    found = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        parts, rparts = left.split(), right.split()
        if len(parts) < 5 or len(rparts) < 3 or rparts[0] not in ("cgroup", "cgroup2"):
            continue
        found.append((rparts[0], Path(parts[4]), parts[3], rparts[2]))
    return found


def _own_paths(proc_cgroup: str) -> dict[str, str]:
    """Controller (or "" for v2, or "name=x") -> this process's cgroup path, from /proc/self/cgroup."""
    paths = {}
    for line in proc_cgroup.splitlines():
        _id, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if not controllers:
            paths[""] = path
        for c in controllers.split(","):
            paths[c] = path
    return paths


def _under(mount: Path, mount_root: str, own: str) -> Path:
    """Where PlayHub's own cgroup ``own`` appears under a mount whose root is ``mount_root``."""
    rel = os.path.relpath(own, mount_root) if own.startswith(mount_root) else "."
    return (mount / rel).resolve() if rel != "." else mount


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _pids(folder: Path) -> list[int]:
    try:
        return [int(x) for x in (folder / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


@dataclass(slots=True)
class RoomCgroup:
    """The cgroup (one folder per hierarchy) of one match."""

    name: str
    folders: list[Path]
    killable: Path | None  # the v2 folder when it has cgroup.kill
    limited: dict[str, Path] = field(default_factory=dict)  # limit -> folder that enforces it

    def join_paths(self) -> list[str]:
        """The ``cgroup.procs`` files the child writes "0" to (itself) before it execs."""
        return [str(f / "cgroup.procs") for f in self.folders]

    def pids(self) -> list[int]:
        seen: set[int] = set()
        for folder in self.folders:
            seen.update(_pids(folder))
        return sorted(seen)

    def signal_all(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def kill(self) -> bool:
        """Kill every process of the match and wait until none is left. True when the cgroup is empty."""
        if self.killable is not None:
            with contextlib.suppress(OSError):
                _write(self.killable / "cgroup.kill", "1")
        for round_ in range(_KILL_ROUNDS):
            pids = self.pids()
            if not pids:
                return True
            if self.killable is None or round_ > 5:
                for pid in pids:  # no cgroup.kill: repeat until the fork rate (bounded by pids.max) gives up
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
            time.sleep(min(0.001 * (round_ + 1), 0.02))
        log.error("cgroup %s still has processes after %d rounds of SIGKILL", self.name, _KILL_ROUNDS)
        return False

    def remove(self) -> None:
        for folder in self.folders:
            for attempt in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or attempt == 49:
                        log.warning("cannot remove cgroup %s: %s", folder, exc)
                        break
                    # A killed task leaves the cgroup a moment after it is reaped.
                    time.sleep(0.005)


class CgroupManager:
    def __init__(self, hierarchies: list[_Hierarchy], limits: CgroupLimits) -> None:
        self.hierarchies = hierarchies
        self.limits = limits

    @property
    def description(self) -> str:
        return ", ".join(
            f"v{h.version} {h.base} ({','.join(sorted(h.controllers)) or 'membership'})"
            for h in self.hierarchies
        )

    @classmethod
    def detect(
        cls, name: str, instance: str, limits: CgroupLimits, root: Path = CGROUP_ROOT
    ) -> CgroupManager | None:
        """The hierarchies this process can create match cgroups in (blocking), or None when there is none."""
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
            own = _own_paths(Path("/proc/self/cgroup").read_text())
        except OSError:
            return None
        hierarchies: list[_Hierarchy] = []
        v1_needed = set(_V1_CONTROLLERS)
        for fstype, mount, mount_root, _options in _mounts(mountinfo):
            if fstype != "cgroup2" or not str(mount).startswith(str(root)):
                continue
            h = cls._try(
                _Hierarchy(2, _under(mount, mount_root, own.get("", "/")) / name / instance, frozenset())
            )
            if h is not None:
                hierarchies.append(h)
                v1_needed -= h.controllers
            break
        for fstype, mount, mount_root, options in _mounts(mountinfo):
            if fstype != "cgroup" or not str(mount).startswith(str(root)):
                continue
            present = {c for c in options.split(",") if c in v1_needed}
            if not present:
                continue
            ctrl = sorted(present)[0]
            h = cls._try(
                _Hierarchy(
                    1, _under(mount, mount_root, own.get(ctrl, "/")) / name / instance, frozenset(present)
                )
            )
            if h is not None:
                hierarchies.append(h)
                v1_needed -= h.controllers
        if not hierarchies:
            return None
        return cls(hierarchies, limits)

    @classmethod
    def _try(cls, h: _Hierarchy) -> _Hierarchy | None:
        """Create the instance folder (for v2, with the controllers it can delegate) to learn whether this hierarchy
        is usable; None when it is not writable. The folder is removed again if no match is in it: it is made anew
        at the first match, so that instances which never start a match leave nothing behind."""
        try:
            cls._make_base(h)
        except OSError:
            return None
        with contextlib.suppress(OSError):
            h.base.rmdir()  # fails, as it should, when leftover matches are in it (reap takes care of them)
        return h

    @staticmethod
    def _make_base(h: _Hierarchy) -> None:
        h.base.mkdir(parents=True, exist_ok=True)
        if h.version == 1:
            return
        wanted = {"memory", "pids", "cpu"}
        # A controller reaches the match cgroups only if every level from PlayHub's own cgroup down enables it. A
        # level that holds processes refuses (v2's "no internal processes" rule); v2 then gives membership and
        # cgroup.kill only, and the v1 hierarchies supply the limits when the host has them.
        for folder in (h.base.parent.parent, h.base.parent, h.base):
            try:
                offered = set((folder / "cgroup.controllers").read_text().split()) & wanted
            except OSError:
                continue
            for c in sorted(offered):
                with contextlib.suppress(OSError):
                    _write(folder / "cgroup.subtree_control", f"+{c}")
        try:
            enabled = set((h.base / "cgroup.subtree_control").read_text().split()) & wanted
        except OSError:
            enabled = set()
        h.controllers = frozenset(enabled)

    def create(self, room: str) -> RoomCgroup:
        """A fresh cgroup for one match, with the per-match limits (blocking)."""
        folders: list[Path] = []
        killable: Path | None = None
        limited: dict[str, Path] = {}
        lim = self.limits
        try:
            for h in self.hierarchies:
                if not h.base.is_dir():
                    controllers = h.controllers
                    self._make_base(h)
                    if h.version == 2:
                        h.controllers &= controllers  # never more than what detect() planned around
                folder = h.base / room
                folder.mkdir(exist_ok=False)
                folders.append(folder)
                if h.version == 2 and (folder / "cgroup.kill").exists():
                    killable = folder
                for c in h.controllers:
                    if c == "memory" and lim.memory_bytes > 0:
                        limit_file = "memory.max" if h.version == 2 else "memory.limit_in_bytes"
                        _write(folder / limit_file, str(lim.memory_bytes))
                        if h.version == 2:
                            with contextlib.suppress(OSError):
                                _write(folder / "memory.swap.max", "0")
                        limited["memory"] = folder
                    elif c == "pids" and lim.processes > 0:
                        _write(folder / "pids.max", str(lim.processes))
                        limited["pids"] = folder
                    elif c == "cpu" and lim.cpus > 0:
                        quota = max(1000, int(lim.cpus * _CPU_PERIOD_US))
                        if h.version == 2:
                            _write(folder / "cpu.max", f"{quota} {_CPU_PERIOD_US}")
                        else:
                            _write(folder / "cpu.cfs_period_us", str(_CPU_PERIOD_US))
                            _write(folder / "cpu.cfs_quota_us", str(quota))
                        limited["cpu"] = folder
        except OSError:
            RoomCgroup(room, folders, killable).remove()
            raise
        return RoomCgroup(room, folders, killable, limited)

    def reap(self) -> int:
        """Kill and remove every match cgroup this instance left behind (startup; blocking). Returns pids killed."""
        rooms: dict[str, list[Path]] = {}
        for h in self.hierarchies:
            with contextlib.suppress(OSError):
                for entry in h.base.iterdir():
                    if entry.is_dir():
                        rooms.setdefault(entry.name, []).append(entry)
        killed = 0
        for room, folders in rooms.items():
            killable = next((f for f in folders if (f / "cgroup.kill").exists()), None)
            cg = RoomCgroup(room, folders, killable)
            n = len(cg.pids())
            cg.kill()
            cg.remove()
            if n:
                log.warning("killed %d leftover process(es) of match cgroup %s", n, room)
            killed += n
        self.close()
        return killed

    def close(self) -> None:
        """Remove this instance's folders when no match is left in them (shutdown)."""
        for h in self.hierarchies:
            with contextlib.suppress(OSError):
                h.base.rmdir()  # the shared <game_cgroup_name> level stays: other instances may be using it

"""A pool of unprivileged uids, one per running match, shared by every PlayHub on the host.

Each uid has a lock file in a host-wide folder; a match holds an exclusive ``flock`` on its uid's file from before its
game server starts until every process of that uid is gone. ``flock`` locks belong to the open file, not to the
process, so two supervisors in one process exclude each other too, and the kernel drops the lock when its holder
dies. The file's content records the holder; a lock file that is free but not empty was left by a holder that died,
so its uid may still run processes: they are killed before the uid is used again.

Only root can switch uids; without root there is no pool (``UidPool.available`` is False) and game servers run as
PlayHub's own user (see docs/security.md for what that leaves).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("playhub.supervisor")

DEFAULT_LOCK_DIR = Path("/run/playhub/game-uids")
_KILL_ROUNDS = (
    50  # a fork loop cannot outrun repeated SIGKILL for long: its fork rate is bounded by pids limits
)


class PoolExhausted(Exception):
    """Every uid of the pool is in use."""


@dataclass(slots=True)
class GameAccount:
    uid: int
    gid: int
    _fd: int | None  # the open lock file (None: no pool, the game runs as PlayHub's own user)

    @property
    def isolated(self) -> bool:
        return self._fd is not None


def uids_processes(uids: set[int]) -> dict[int, list[int]]:
    """Pids per uid (real or effective) among ``uids``, from /proc (blocking)."""
    found: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as f:
                status = f.read(4096)
            # A zombie is already dead (nothing to kill, it holds nothing but its pid until its parent reaps it).
            if b"\nState:\tZ" in status or b"\nState:\tX" in status:
                continue
            fields = status[status.index(b"\nUid:") :].split(None, 3)
            real, effective = int(fields[1]), int(fields[2])
        except (OSError, ValueError, IndexError):
            continue
        for uid in {real, effective} & uids:
            found.setdefault(uid, []).append(int(entry.name))
    return found


def kill_uid(uid: int) -> int:
    """SIGKILL every process running as ``uid`` until none is left (blocking). Returns how many were killed.

    This is how a match ends when there is no cgroup: the uid is the match's alone, so "every process of the uid"
    is exactly "every process of the match", setsid and double-fork included."""
    if uid == 0 or uid == os.getuid():
        raise ValueError("refusing to kill every process of PlayHub's own user")
    killed = 0
    for round_ in range(_KILL_ROUNDS):
        pids = uids_processes({uid}).get(uid, [])
        if not pids:
            return killed
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        time.sleep(0.002 * (round_ + 1))
    log.error("processes of uid %d keep appearing after %d rounds of SIGKILL", uid, _KILL_ROUNDS)
    return killed


class UidPool:
    """Allocates uids ``base .. base+count-1`` by lock file (blocking methods: call them from a thread)."""

    def __init__(self, base: int, count: int, lock_dir: Path | None) -> None:
        self.base = base
        self.count = count
        self.lock_dir = lock_dir or DEFAULT_LOCK_DIR
        self.available = os.geteuid() == 0 and count > 0
        self._next = 0  # rotate through the pool so a uid is not reused at once

    def _ensure_dir(self) -> None:
        self.lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = self.lock_dir.lstat()
        if st.st_uid != 0:
            raise PermissionError(f"uid lock folder {self.lock_dir} is not owned by root")
        os.chmod(self.lock_dir, 0o700)

    def _try_lock(self, uid: int) -> int | None:
        path = self.lock_dir / f"{uid}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd

    def acquire(self, holder: str) -> GameAccount:
        """A uid no other match on the host uses, with nothing running as it. Raises PoolExhausted."""
        if not self.available:
            return GameAccount(os.getuid(), os.getgid(), None)
        self._ensure_dir()
        for i in range(self.count):
            uid = self.base + (self._next + i) % self.count
            fd = self._try_lock(uid)
            if fd is None:
                continue
            try:
                stale = os.pread(fd, 256, 0)
                if stale:
                    # Its last holder died without releasing it: whatever still runs as this uid is a leftover.
                    n = kill_uid(uid)
                    if n:
                        log.warning(
                            "killed %d leftover process(es) of uid %d (%s)",
                            n,
                            uid,
                            stale.decode(errors="replace"),
                        )
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {holder}".encode(), 0)
            except BaseException:
                os.close(fd)
                raise
            self._next = (self._next + i + 1) % self.count
            return GameAccount(uid, uid, fd)
        raise PoolExhausted(f"all {self.count} game uids from {self.base} are in use")

    def release(self, account: GameAccount) -> None:
        """Give the uid back. The caller has made sure nothing runs as it any more."""
        fd, account._fd = account._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # empty: released cleanly, nothing to reap
        finally:
            os.close(fd)  # drops the flock

    def reap_free(self) -> int:
        """Kill processes of every uid of the pool that no live match holds (startup; blocking). Returns pids killed."""
        if not self.available or not self.lock_dir.is_dir():
            return 0
        uids = set(range(self.base, self.base + self.count))
        running = uids_processes(uids)
        killed = 0
        for uid in sorted(running):
            fd = self._try_lock(uid)
            if fd is None:
                continue  # a live match (of this or another PlayHub) holds it
            try:
                killed += kill_uid(uid)
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)
        if killed:
            log.warning("killed %d leftover game process(es) running as pool uids", killed)
        return killed

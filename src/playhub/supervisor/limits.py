"""Resource limits applied in the child between fork and exec (``preexec_fn``).

The function runs in the forked child, so it only calls ``setrlimit`` (async-signal-safe enough for CPython's use).
A limit of 0 means "leave as inherited".

RLIMIT_NPROC is special on Linux: it caps the number of tasks (processes and threads) of the whole *user*, not of the
child. A fixed cap would make a game server unable to start a thread as soon as the account runs that many tasks
elsewhere, so the cap is what the user runs now plus ``processes``: the game server may add that many. It does not
bind root.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Limits:
    memory_bytes: int = 0  # RLIMIT_AS: address space
    cpu_seconds: int = 0  # RLIMIT_CPU: SIGXCPU then SIGKILL
    open_files: int = 0  # RLIMIT_NOFILE
    processes: int = 0  # RLIMIT_NPROC
    file_bytes: int = 0  # RLIMIT_FSIZE: largest file it may write (SIGXFSZ past it)


def tasks_of_user(uid: int | None = None) -> int:
    """Processes and threads the user runs now, from /proc (blocking: a few ms; call from a thread)."""
    uid = os.getuid() if uid is None else uid
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            with open(f"/proc/{entry.name}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Threads:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError):
            continue
    return total


def for_spawn(limits: Limits) -> Limits:
    """The limits for one spawn: RLIMIT_NPROC relative to what the user runs now (blocking; call from a thread)."""
    if limits.processes <= 0 or os.getuid() == 0:
        return limits
    return replace(limits, processes=tasks_of_user() + limits.processes)


def _lower(kind: int, value: int) -> None:
    if value <= 0:
        return
    soft, hard = resource.getrlimit(kind)
    # Never raise above the inherited hard limit (that needs privileges and would fail).
    new_hard = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(kind, (new_hard, new_hard))


def preexec(
    limits: Limits, cgroup_procs: Sequence[str] = (), uid: int | None = None, gid: int | None = None
) -> Callable[[], None]:
    """The child's last steps before exec, in this order: join the match's cgroup (needs root), lower the limits,
    then drop to the match's uid/gid with no supplementary groups (nothing after that can undo it)."""
    procs = [p.encode() for p in cgroup_procs]

    def apply() -> None:
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")  # "0": the writing process itself
            finally:
                os.close(fd)
        _lower(resource.RLIMIT_AS, limits.memory_bytes)
        _lower(resource.RLIMIT_CPU, limits.cpu_seconds)
        _lower(resource.RLIMIT_NOFILE, limits.open_files)
        _lower(resource.RLIMIT_NPROC, limits.processes)
        _lower(resource.RLIMIT_FSIZE, limits.file_bytes)
        os.umask(0o077)  # what the game writes in its home is its own
        if uid is not None and gid is not None and uid != os.getuid():
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)

    return apply

"""Resource limits applied in the child between fork and exec (``preexec_fn``).

The function runs in the forked child, so it only calls ``setrlimit`` (async-signal-safe enough for CPython's use).
A limit of 0 means "leave as inherited". RLIMIT_NPROC counts every process of the user on Linux, so on a shared
account it is a ceiling for the whole user, not only for the game server; it does not bind root.
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    memory_bytes: int = 0  # RLIMIT_AS: address space
    cpu_seconds: int = 0  # RLIMIT_CPU: SIGXCPU then SIGKILL
    open_files: int = 0  # RLIMIT_NOFILE
    processes: int = 0  # RLIMIT_NPROC


def _lower(kind: int, value: int) -> None:
    if value <= 0:
        return
    soft, hard = resource.getrlimit(kind)
    # Never raise above the inherited hard limit (that needs privileges and would fail).
    new_hard = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(kind, (new_hard, new_hard))


def preexec(limits: Limits) -> Callable[[], None]:
    def apply() -> None:
        _lower(resource.RLIMIT_AS, limits.memory_bytes)
        _lower(resource.RLIMIT_CPU, limits.cpu_seconds)
        _lower(resource.RLIMIT_NOFILE, limits.open_files)
        _lower(resource.RLIMIT_NPROC, limits.processes)

    return apply

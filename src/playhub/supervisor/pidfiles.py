"""One pid file per running game server, so a PlayHub that died without cleaning up can do it at its next start.

A pid alone is not proof: pids are reused. A leftover process is killed only when its process group is the recorded
one *and* its environment carries the recorded ``ROOM_ID`` (which PlayHub set), i.e. it really is that game server or
one of its children.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

log = logging.getLogger("playhub.supervisor")


def write(folder: Path, room_id: str, pid: int, pgid: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{room_id}-{pid}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"room_id": room_id, "pid": pid, "pgid": pgid}), encoding="utf-8")
    os.replace(tmp, path)
    return path


def remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _pgid_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[2])  # field 5 overall: pgrp
    except (IndexError, ValueError):
        return None


def _environ_has(pid: int, entry: str) -> bool:
    try:
        data = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return entry.encode() in data.split(b"\0")


def group_members(pgid: int, room_id: str) -> list[int]:
    """Pids in process group ``pgid`` whose environment says they belong to ``room_id``."""
    found = []
    marker = f"ROOM_ID={room_id}"
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if _pgid_of(pid) == pgid and _environ_has(pid, marker):
            found.append(pid)
    return found


def reap(folder: Path) -> int:
    """Kill every leftover game server recorded in ``folder`` (blocking: call from a thread). Returns pids killed."""
    if not folder.is_dir():
        return 0
    killed = 0
    for path in sorted(folder.glob("*.json")):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            room_id, pgid = str(info["room_id"]), int(info["pgid"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable pid file %s", path)
            remove(path)
            continue
        for pid in group_members(pgid, room_id):
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
                log.warning("killed leftover game server of room %s (pid %d)", room_id, pid)
            except ProcessLookupError:
                pass
        remove(path)
    for stale in folder.glob("*.tmp"):
        remove(stale)
    return killed

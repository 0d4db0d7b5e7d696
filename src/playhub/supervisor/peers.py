"""Who is at the other end of a local TCP connection: the owner uid and socket inode from /proc/net/tcp(6), and the
processes that hold that socket.

The lobby uses it for seed 003's unauthenticated ``{"kind": "game_finished"}`` line: the line counts only when the
connection comes from the room's own game server (its uid when each match has one, else one of its processes).
All functions block (they read /proc): call them from a thread.
"""

from __future__ import annotations

import ipaddress
import os
import sys


def _addr(hex_addr: str) -> tuple[str, int]:
    host_hex, _, port_hex = hex_addr.partition(":")
    raw = bytes.fromhex(host_hex)
    # The kernel prints each 32-bit word of the address in host byte order.
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(raw)), int(port_hex, 16)


def _norm(host: str) -> str:
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def socket_owner(peer: tuple[str, int], local: tuple[str, int]) -> tuple[int, int] | None:
    """(uid, inode) of the socket whose local end is ``peer`` and remote end is ``local``: the other side of a
    connection that this process accepted from ``peer`` on ``local``. None when it is not on this machine."""
    want = ((_norm(peer[0]), int(peer[1])), (_norm(local[0]), int(local[1])))
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as f:
                next(f, None)  # header
                for line in f:
                    fields = line.split()
                    if len(fields) < 10:
                        continue
                    try:
                        here, there = _addr(fields[1]), _addr(fields[2])
                        if ((_norm(here[0]), here[1]), (_norm(there[0]), there[1])) == want:
                            return int(fields[7]), int(fields[9])
                    except ValueError:
                        continue
        except OSError:
            continue
    return None


def holds_socket(pid: int, inode: int) -> bool:
    target = f"socket:[{inode}]"
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False


def descendants(pid: int) -> set[int]:
    """``pid`` and every process below it (by parent pid)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                data = f.read()
            ppid = int(data[data.rfind(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p not in found:
            found.add(p)
            todo.extend(children.get(p, []))
    return found

"""Asking the player at the terminal without missing what the game server says meanwhile.

A terminal client that blocks in ``input()`` notices that the match ended (the opponent left, the server stopped)
only after the player typed something. ``ask`` waits for a line on stdin *or* a message from the server, whichever
comes first, so the client can show the end of the match at once.
"""

from __future__ import annotations

import os
import select
import sys

from playhub.sdk.jsonl import LineSocket


class ServerSpoke(Exception):  # noqa: N818 - a signal to the caller, not an error
    """The game server sent a message (or closed the connection) while the player was being asked."""


def _pending(conn: LineSocket) -> bool:
    return b"\n" in conn._buf or conn._eof


def ask(conn: LineSocket, prompt: str) -> str | None:
    """Print ``prompt`` and return the line the player types (None at end of input). Raises ``ServerSpoke`` as soon
    as the server has something to say instead: read it with ``conn.recv()``."""
    if _pending(conn):
        raise ServerSpoke
    if os.name != "posix":  # select() cannot wait on a console there: plain input()
        try:
            return input(prompt)
        except EOFError:
            return None
    sys.stdout.write(prompt)
    sys.stdout.flush()
    fd = sys.stdin.fileno()
    while True:
        # Our own buffer, not sys.stdin's: select() cannot see lines that Python already read ahead.
        line = _take_line()
        if line is not None:
            return line
        if _stdin_eof:
            return _take_rest()
        readable, _, _ = select.select([fd, conn.sock], [], [])
        if fd in readable:
            _fill(fd)
        elif conn.sock in readable:
            sys.stdout.write("\n")
            raise ServerSpoke


_stdin_buf = bytearray()
_stdin_eof = False


def _fill(fd: int) -> None:
    global _stdin_eof
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        chunk = b""
    if chunk:
        _stdin_buf.extend(chunk)
    else:
        _stdin_eof = True


def _take_line() -> str | None:
    nl = _stdin_buf.find(b"\n")
    if nl < 0:
        return None
    line = bytes(_stdin_buf[:nl])
    del _stdin_buf[: nl + 1]
    return line.decode("utf-8", "replace").rstrip("\r")


def _take_rest() -> str | None:
    if not _stdin_buf:
        return None
    rest = bytes(_stdin_buf)
    _stdin_buf.clear()
    return rest.decode("utf-8", "replace")

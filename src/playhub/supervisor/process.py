"""Spawn a game server, wait until it accepts TCP connections, watch it, and stop it with its whole process group.

The supervisor knows processes, ports, files and limits; it knows nothing about rooms, votes or players beyond the
values it puts in the environment. The room service owns the decisions (when to start, what an exit means).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from playhub.settings import Settings
from playhub.supervisor import pidfiles
from playhub.supervisor.env import GameEnv, build_env
from playhub.supervisor.limits import Limits, for_spawn, preexec

log = logging.getLogger("playhub.supervisor")

# Readiness polling: a Python server takes ~40 ms to start, so poll often at first; a connect on loopback is cheap,
# and the wait also wakes at once if the process dies.
_POLL_FIRST_S = 0.005
_POLL_MAX_S = 0.025


class SpawnFailed(Exception):
    """The game server crashed at start or never accepted connections; the message ends with its log tail."""


@dataclass(frozen=True, slots=True)
class ExitInfo:
    exit_code: int  # negative: killed by that signal (asyncio's convention)
    stopped: bool  # True when PlayHub asked it to stop


def _probe_host(bind_host: str) -> str:
    if bind_host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind_host == "::":
        return "::1"
    return bind_host


def free_port(bind_host: str) -> int:
    """A port that is free right now on ``bind_host`` (the kernel picks it)."""
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((bind_host or "0.0.0.0", 0))
        return int(s.getsockname()[1])


def read_tail(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read()
    except OSError:
        return ""
    return data.decode("utf-8", "replace").strip()


class GameServer:
    """One running game-server process (the leader of its own process group)."""

    def __init__(
        self,
        room_id: str,
        proc: asyncio.subprocess.Process,
        port: int,
        log_path: Path,
        pidfile: Path,
        stop_grace_s: float,
    ) -> None:
        self.room_id = room_id
        self.proc = proc
        self.pid = proc.pid
        self.pgid = proc.pid  # start_new_session: the child leads its own group
        self.port = port
        self.log_path = log_path
        self.pidfile = pidfile
        self.stop_grace_s = stop_grace_s
        self.started_at = time.time()
        self.stopping = False
        self._exit: asyncio.Task[ExitInfo] = asyncio.create_task(self._watch())

    async def _watch(self) -> ExitInfo:
        code = await self.proc.wait()
        # The leader is gone; children it left in the group go with it (the room ends with its server).
        self._kill_group(signal.SIGKILL)
        await asyncio.to_thread(pidfiles.remove, self.pidfile)
        log.info("game server of room %s (pid %d) exited with %s", self.room_id, self.pid, code)
        return ExitInfo(code, self.stopping)

    @property
    def running(self) -> bool:
        return not self._exit.done()

    async def wait(self) -> ExitInfo:
        """Wait for the process to end (shielded: cancelling the waiter does not stop the watch)."""
        return await asyncio.shield(self._exit)

    def _kill_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    async def stop(self, grace_s: float | None = None) -> ExitInfo:
        """SIGTERM the whole group, then SIGKILL it after ``grace_s``; returns once the leader is gone."""
        grace = self.stop_grace_s if grace_s is None else grace_s
        if self.running:
            self.stopping = True
            self._kill_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._exit), grace)
            except TimeoutError:
                self._kill_group(signal.SIGKILL)
        return await self.wait()


class Supervisor:
    def __init__(self, settings: Settings, data_dir: Path) -> None:
        self.settings = settings
        self.logs_dir = data_dir / "logs" / "rooms"
        self.pid_dir = data_dir / "run" / "game-servers"
        self.work_root = data_dir / "rooms"
        self.limits = Limits(
            memory_bytes=settings.game_server_memory_bytes,
            cpu_seconds=settings.game_server_cpu_seconds,
            open_files=settings.game_server_open_files,
            processes=settings.game_server_processes,
            file_bytes=settings.game_server_file_bytes,
        )
        self._servers: set[GameServer] = set()

    def reap_leftovers(self) -> int:
        """Kill game servers left by a previous run that died without cleaning up (blocking; run in a thread)."""
        killed = pidfiles.reap(self.pid_dir)
        if self.work_root.is_dir():
            shutil.rmtree(self.work_root, ignore_errors=True)
        return killed

    def log_path(self, room_id: str) -> Path:
        return self.logs_dir / f"{room_id}.log"

    def _prepare(self, room_id: str, command: list[str]) -> tuple[Path, Path, int, Limits]:
        """Blocking work before a spawn: folders, the log header, an open log descriptor, this spawn's limits."""
        limits = for_spawn(self.limits)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        home = self.work_root / room_id
        home.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(room_id)
        # The log takes every match of the room; keep it under the file-size limit by moving the old one aside.
        with contextlib.suppress(FileNotFoundError):
            if self.limits.file_bytes > 0 and log_path.stat().st_size > self.limits.file_bytes // 2:
                os.replace(log_path, log_path.with_suffix(".log.1"))
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(fd, f"--- {stamp} starting {' '.join(command)}\n".encode())
        return home, log_path, fd, limits

    async def spawn(
        self,
        *,
        room_id: str,
        game_name: str,
        version: str,
        folder: Path,
        entry_server: str,
        players: list[str],
        room_secret: str,
        lobby_port: int,
    ) -> GameServer:
        """Start ``python <entry_server>`` in ``folder`` and return once it accepts connections.

        Raises SpawnFailed (after killing it) when it exits first or does not listen within the ready timeout.
        """
        s = self.settings
        entry = folder / entry_server
        if not entry.is_file():
            raise SpawnFailed(f"the package has no entry_server file '{entry_server}'")
        bind_host = s.host
        port = free_port(bind_host)
        command = [sys.executable, entry_server, f"--room={room_id}"]  # seed 003 passes the room id as an argument
        home, log_path, fd, limits = await asyncio.to_thread(self._prepare, room_id, command)
        env = build_env(
            GameEnv(
                game_host=bind_host or "0.0.0.0",
                game_port=port,
                room_id=room_id,
                game_name=game_name,
                game_version=version,
                lobby_host=s.advertised_host,
                lobby_port=lobby_port,
                lobby_connect_host=_probe_host(s.host),
                lobby_connect_port=lobby_port,
                room_secret=room_secret,
                players=tuple(players),
                home=home,
            )
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                cwd=str(folder),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=fd,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=preexec(limits),
            )
        except OSError as exc:
            raise SpawnFailed(f"cannot start the game server: {exc}") from None
        finally:
            os.close(fd)
        pidfile = await asyncio.to_thread(pidfiles.write, self.pid_dir, room_id, proc.pid, proc.pid)
        server = GameServer(room_id, proc, port, log_path, pidfile, s.game_server_stop_grace_s)
        self._servers.add(server)
        server._exit.add_done_callback(lambda _t: self._servers.discard(server))
        try:
            await self._wait_ready(server, _probe_host(bind_host))
        except SpawnFailed:
            await server.stop(0.2)
            raise
        except BaseException:
            await asyncio.shield(server.stop(0.2))
            raise
        log.info("game server of room %s ready on port %d (pid %d)", room_id, port, server.pid)
        return server

    async def _wait_ready(self, server: GameServer, host: str) -> None:
        s = self.settings
        deadline = time.monotonic() + s.game_server_ready_timeout_s
        delay = _POLL_FIRST_S
        while True:
            if not server.running:
                info = await server.wait()
                raise SpawnFailed(
                    f"the game server exited with code {info.exit_code} before accepting connections"
                    + await self._tail(server)
                )
            try:
                _r, w = await asyncio.wait_for(asyncio.open_connection(host, server.port), 0.5)
            except (OSError, TimeoutError):
                pass
            else:
                w.close()
                with contextlib.suppress(OSError):
                    await w.wait_closed()
                return
            if time.monotonic() >= deadline:
                raise SpawnFailed(
                    f"the game server did not accept connections on port {server.port} within "
                    f"{s.game_server_ready_timeout_s:g} s" + await self._tail(server)
                )
            # Wake early if the process dies meanwhile, otherwise poll again after a short, growing pause.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(server._exit), delay)
            delay = min(delay * 1.5, _POLL_MAX_S)

    async def _tail(self, server: GameServer) -> str:
        tail = await asyncio.to_thread(read_tail, server.log_path, self.settings.game_server_log_tail_bytes)
        return f"; last log lines:\n{tail}" if tail else "; its log is empty"

    async def forget_room(self, room_id: str) -> None:
        """Remove a closed room's working folder (its log stays for the operator)."""
        await asyncio.to_thread(shutil.rmtree, self.work_root / room_id, True)

    @property
    def running(self) -> list[GameServer]:
        return [srv for srv in self._servers if srv.running]

    async def stop_all(self, grace_s: float | None = None) -> None:
        servers = self.running
        if servers:
            await asyncio.gather(*(srv.stop(grace_s) for srv in servers), return_exceptions=True)

"""Spawn a game server, wait until it accepts TCP connections, watch it, and stop it with everything it started.

Each match (one run of a room's game server) gets, when PlayHub runs as root: a uid of its own from the pool
(``accounts``), a cgroup (``cgroups``), and a run folder with a read-only copy of the version (``sandbox``). When the
server's main process ends, the whole match ends with it: its cgroup is killed (or, without cgroups, every process of
its uid), its run folder removed and its uid given back.

The supervisor knows processes, ports, files and limits; it knows nothing about rooms, votes or players beyond the
values it puts in the environment. The room service owns the decisions (when to start, what an exit means).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playhub.sdk.hosts import dial_host
from playhub.settings import Settings
from playhub.supervisor import peers, pidfiles, sandbox
from playhub.supervisor.accounts import GameAccount, PoolExhausted, UidPool, kill_uid, uids_processes
from playhub.supervisor.cgroups import CgroupLimits, CgroupManager, RoomCgroup
from playhub.supervisor.env import GameEnv, launch_args
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


class ChildProcess:
    """A started game-server process whose exit is awaited without blocking the event loop: through a pidfd the loop
    watches, or (kernels without pidfd) a thread of its own. Same surface as asyncio's Process: ``pid``,
    ``returncode`` (negative: killed by that signal) and ``wait()``."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.returncode: int | None = None
        loop = asyncio.get_running_loop()
        self._done: asyncio.Future[int] = loop.create_future()
        try:
            fd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            threading.Thread(target=self._wait_in_thread, args=(loop,), name=f"wait-{self.pid}", daemon=True).start()
        else:
            loop.add_reader(fd, self._on_exit, loop, fd)

    def _on_exit(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        loop.remove_reader(fd)
        os.close(fd)
        self._set(self.popen.wait())  # readable = exited: this reaps it at once

    def _wait_in_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        code = self.popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(self._set, code)

    def _set(self, code: int) -> None:
        self.returncode = code
        if not self._done.done():
            self._done.set_result(code)

    async def wait(self) -> int:
        return await asyncio.shield(self._done)


@dataclass(slots=True)
class Match:
    """What one match holds besides its main process: a uid, a cgroup, a run folder. Blocking methods."""

    name: str
    account: GameAccount
    cgroup: RoomCgroup | None
    run: sandbox.RunDir | None
    pool: UidPool
    released: bool = field(default=False)

    def signal(self, sig: int) -> None:
        """Signal every process of the match (all of its cgroup, or all of its uid)."""
        if self.cgroup is not None:
            self.cgroup.signal_all(sig)
        elif self.account.isolated:
            for pid in uids_processes({self.account.uid}).get(self.account.uid, []):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)

    def pids(self) -> list[int]:
        if self.cgroup is not None:
            return self.cgroup.pids()
        if self.account.isolated:
            return uids_processes({self.account.uid}).get(self.account.uid, [])
        return []

    def release(self) -> None:
        """Kill whatever is left of the match, then give back its cgroup, run folder and uid (idempotent)."""
        if self.released:
            return
        self.released = True
        if self.cgroup is not None:
            self.cgroup.kill()
        if self.account.isolated:
            kill_uid(self.account.uid)  # also catches anything that escaped the cgroup
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.run is not None:
            with contextlib.suppress(OSError):
                sandbox.remove(self.run)
        self.pool.release(self.account)


class GameServer:
    """One running game-server process (the leader of its own process group) and its match."""

    def __init__(
        self,
        room_id: str,
        proc: ChildProcess,
        port: int,
        log_path: Path,
        pidfile: Path,
        stop_grace_s: float,
        match: Match | None = None,
    ) -> None:
        self.room_id = room_id
        self.match = match
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
        # The leader is gone; everything it started goes with it (the room ends with its server): its process
        # group, and its whole cgroup or uid, which also holds children that left the group (setsid, double fork).
        self._kill_group(signal.SIGKILL)
        await asyncio.to_thread(self._release)
        log.info("game server of room %s (pid %d) exited with %s", self.room_id, self.pid, code)
        return ExitInfo(code, self.stopping)

    @property
    def running(self) -> bool:
        return not self._exit.done()

    async def wait(self) -> ExitInfo:
        """Wait for the process to end (shielded: cancelling the waiter does not stop the watch)."""
        return await asyncio.shield(self._exit)

    def _release(self) -> None:
        if self.match is not None:
            self.match.release()
        pidfiles.remove(self.pidfile)

    def _kill_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    async def _signal_match(self, sig: int) -> None:
        self._kill_group(sig)
        if self.match is not None:
            await asyncio.to_thread(self.match.signal, sig)

    async def stop(self, grace_s: float | None = None) -> ExitInfo:
        """SIGTERM the whole group, then SIGKILL it after ``grace_s``; returns once the leader is gone."""
        grace = self.stop_grace_s if grace_s is None else grace_s
        if self.running:
            self.stopping = True
            await self._signal_match(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._exit), grace)
            except TimeoutError:
                self._kill_group(signal.SIGKILL)
        return await self.wait()


# Where a uid of the pool may find an interpreter when the running one lives somewhere it cannot enter (a venv
# under /root, say): the standard PATH, not PlayHub's own.
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def runnable_by_others(path: str) -> bool:
    """Can a user that is neither the owner nor in the group (a pool uid) execute ``path``? Checks every folder on
    the way (search bit) and the file itself (read and execute), after resolving links."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or (st.st_mode & 0o005) != 0o005:
        return False
    folder = os.path.dirname(real)
    while True:
        try:
            if not os.stat(folder).st_mode & 0o001:
                return False
        except OSError:
            return False
        parent = os.path.dirname(folder)
        if parent == folder:
            return True
        folder = parent


class Supervisor:
    def __init__(self, settings: Settings, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.logs_dir = data_dir / "logs" / "rooms"
        self.pid_dir = data_dir / "run" / "game-servers"
        self.work_root = data_dir / "rooms"  # folders of older versions, removed at startup
        self.run_root = sandbox.runs_root(settings.game_run_dir, data_dir)
        self.uids = UidPool(settings.game_uid_base, settings.game_uid_count, settings.game_uid_lock_dir)
        self.cgroups: CgroupManager | None = None
        self._cgroups_detected = False
        self._python: str | None = None
        self._match_numbers = itertools.count(1)
        self.limits = Limits(
            memory_bytes=settings.game_server_memory_bytes,
            cpu_seconds=settings.game_server_cpu_seconds,
            open_files=settings.game_server_open_files,
            processes=settings.game_server_processes,
            file_bytes=settings.game_server_file_bytes,
        )
        self._servers: set[GameServer] = set()

    @property
    def isolated(self) -> bool:
        """True when each match runs as a uid of its own (PlayHub runs as root)."""
        return self.uids.available

    def _detect_cgroups(self) -> CgroupManager | None:
        if not self._cgroups_detected:
            self._cgroups_detected = True
            s = self.settings
            if s.game_cgroups != "off":
                limits = CgroupLimits(s.game_room_memory_bytes, s.game_room_processes, s.game_room_cpus)
                self.cgroups = CgroupManager.detect(
                    s.game_cgroup_name, sandbox.instance_key(self.data_dir), limits
                )
            if self.cgroups is not None:
                log.info("one cgroup per match: %s", self.cgroups.description)
            else:
                log.warning(
                    "no usable cgroup file system: a match's processes are tracked by uid and process group"
                )
        return self.cgroups

    def python(self) -> str:
        """The game servers' interpreter (blocking the first time: it looks at the file system)."""
        if self._python is None:
            chosen = self.settings.game_server_python
            if not chosen:
                if not self.isolated or runnable_by_others(sys.executable):
                    chosen = sys.executable
                else:
                    found = shutil.which("python3", path=_SYSTEM_PATH)
                    chosen = found if found and runnable_by_others(found) else sys.executable
                    if chosen != sys.executable:
                        log.info(
                            "game servers run with %s (the game uids cannot execute %s)",
                            chosen,
                            sys.executable,
                        )
            self._python = chosen
        return self._python

    def reap_leftovers(self) -> int:
        """At startup (blocking; run in a thread): lock down the data folder, and kill game servers left by a
        previous run that died without cleaning up: by pid file, by cgroup, and by pool uid."""
        sandbox.protect_data_dir(self.data_dir)
        killed = pidfiles.reap(self.pid_dir)
        cgroups = self._detect_cgroups()
        if cgroups is not None:
            killed += cgroups.reap()
        killed += self.uids.reap_free()
        sandbox.remove_root(self.run_root)
        if self.work_root.is_dir():
            shutil.rmtree(self.work_root, ignore_errors=True)
        return killed

    def log_path(self, room_id: str) -> Path:
        return self.logs_dir / f"{room_id}.log"

    def _open_log(self, room_id: str, command: list[str]) -> tuple[Path, int]:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(room_id)
        # The log takes every match of the room; keep it under the file-size limit by moving the old one aside.
        with contextlib.suppress(FileNotFoundError):
            if self.limits.file_bytes > 0 and log_path.stat().st_size > self.limits.file_bytes // 2:
                os.replace(log_path, log_path.with_suffix(".log.1"))
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(fd, f"--- {stamp} starting {' '.join(command)}\n".encode())
        return log_path, fd

    def _prepare(self, room_id: str, folder: Path, secret: str) -> tuple[Match, Limits, str]:
        """Blocking work before a spawn: a uid, a cgroup, the run folder, this spawn's limits, the interpreter."""
        python = self.python()
        cgroups = self._detect_cgroups()
        name = f"{room_id}-{next(self._match_numbers)}"
        try:
            account = self.uids.acquire(name)
        except PoolExhausted as exc:
            raise SpawnFailed(f"no free game uid: {exc}") from None
        match = Match(name, account, None, None, self.uids)
        try:
            if cgroups is not None:
                try:
                    match.cgroup = cgroups.create(name)
                except OSError as exc:
                    log.warning("match %s runs without a cgroup: %s", name, exc)
            try:
                match.run = sandbox.prepare(self.run_root, name, folder, account.uid, account.gid, secret)
            except (OSError, sandbox.UnsafeRunFolder) as exc:
                raise SpawnFailed(f"cannot prepare the match's run folder: {exc}") from None
            # With a uid of its own, RLIMIT_NPROC counts the match alone; otherwise it is relative to the user.
            limits = self.limits if account.isolated else for_spawn(self.limits)
        except BaseException:
            match.release()
            raise
        return match, limits, python

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
        """Start ``python <entry_server>`` in a read-only copy of ``folder`` and return once it accepts connections.

        Raises SpawnFailed (after killing it and releasing its match) when it cannot start, exits first or does not
        listen within the ready timeout.
        """
        s = self.settings
        entry = folder / entry_server
        if not await asyncio.to_thread(entry.is_file):
            raise SpawnFailed(f"the package has no entry_server file '{entry_server}'")
        bind_host = s.host
        port = free_port(bind_host)
        match, limits, python = await asyncio.to_thread(self._prepare, room_id, folder, room_secret)
        assert match.run is not None
        argv, env = launch_args(
            GameEnv(
                game_host=bind_host or "0.0.0.0",
                game_port=port,
                room_id=room_id,
                game_name=game_name,
                game_version=version,
                lobby_host=s.advertised_host,
                lobby_port=lobby_port,
                lobby_connect_host=dial_host(s.host),
                lobby_connect_port=lobby_port,
                secret_file=match.run.secret_file,
                players=tuple(players),
                home=match.run.home,
                sdk_path=str(match.run.lib),
            ),
            python,
            entry_server,
        )
        try:
            log_path, fd = await asyncio.to_thread(self._open_log, room_id, argv)
        except OSError as exc:
            await asyncio.to_thread(match.release)
            raise SpawnFailed(f"cannot open the room log: {exc}") from None
        popen_args: dict[str, Any] = {
            "cwd": str(match.run.game),
            "env": env,
            "stdin": subprocess.DEVNULL,
            "stdout": fd,
            "stderr": subprocess.STDOUT,
            "start_new_session": True,
            "preexec_fn": preexec(
                limits,
                match.cgroup.join_paths() if match.cgroup is not None else (),
                match.account.uid if match.account.isolated else None,
                match.account.gid if match.account.isolated else None,
            ),
        }
        # Fork and exec in a thread: the parent waits until the child has exec'd, and joining a cgroup between the
        # two can take the kernel an RCU grace period (milliseconds) that the event loop must not spend blocked.
        start = asyncio.ensure_future(asyncio.to_thread(subprocess.Popen, argv, **popen_args))
        try:
            popen = await asyncio.shield(start)
        except (OSError, subprocess.SubprocessError) as exc:
            # A missing interpreter (OSError), or a failure between fork and exec: joining the cgroup, lowering a
            # limit, switching to the match's uid (SubprocessError, "Exception occurred in preexec_fn").
            await asyncio.to_thread(match.release)
            raise SpawnFailed(f"cannot start the game server with {python}: {exc}") from None
        except asyncio.CancelledError:
            # The fork goes on in its thread: whatever it started must not outlive the cancelled spawn.
            with contextlib.suppress(Exception):
                started = await start
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(started.pid, signal.SIGKILL)
                await asyncio.to_thread(started.wait)
            await asyncio.to_thread(match.release)
            raise
        finally:
            os.close(fd)
        proc = ChildProcess(popen)
        pidfile = await asyncio.to_thread(pidfiles.write, self.pid_dir, room_id, proc.pid, proc.pid)
        server = GameServer(room_id, proc, port, log_path, pidfile, s.game_server_stop_grace_s, match)
        self._servers.add(server)
        server._exit.add_done_callback(lambda _t: self._servers.discard(server))
        try:
            await self._wait_ready(server, dial_host(bind_host))
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
        await asyncio.to_thread(self._tidy)

    def _tidy(self) -> None:
        """Remove this instance's now empty cgroup folders and run folder (shutdown)."""
        if self.cgroups is not None and not self._servers:
            self.cgroups.close()
        if not self._servers:
            sandbox.remove_root(self.run_root)

    def owns_connection(self, server: GameServer, peer: tuple[str, int], local: tuple[str, int]) -> bool:
        """Is the TCP connection ``peer`` -> ``local`` (as the lobby sees it) one of ``server``'s match's sockets?
        (blocking: reads /proc)"""
        found = peers.socket_owner(peer, local)
        if found is None:
            return False
        uid, inode = found
        match = server.match
        if match is not None and match.account.isolated:
            return uid == match.account.uid  # the uid is the match's alone
        candidates = set(match.pids() if match is not None else ()) | peers.descendants(server.pid)
        return any(peers.holds_socket(pid, inode) for pid in candidates)

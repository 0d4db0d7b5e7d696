"""Shared test helpers: in-process servers, server subprocesses, clients."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from playhub.client import Client
from playhub.server.app import PlayHubApp
from playhub.settings import Settings
from playhub.wire import Framing

SRC = Path(__file__).resolve().parents[1] / "src"
REPO = SRC.parent


def settings_for_tests(data_dir: Path, **overrides: object) -> Settings:
    """Settings for tests: free ports, cheap password hashing, short timeouts."""
    base = Settings(
        data_dir=data_dir,
        host="127.0.0.1",
        dev_port=0,
        lobby_port=0,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        vote_timeout_s=5.0,
        disconnect_grace_s=2.0,
        # Every test client comes from 127.0.0.1: the per-IP registration throttle is tested on its own.
        register_max_per_ip=0,
        presence_batch_s=0.0,  # one push per change, so tests can expect exact deltas (batching has its own test)
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


class Harness:
    """A running in-process server plus client factories."""

    def __init__(self, app: PlayHubApp) -> None:
        self.app = app
        self.clients: list[Client] = []

    async def dev(self, framing: Framing = Framing.NDJSON) -> Client:
        c = await Client.connect("127.0.0.1", self.app.dev_port, framing=framing)
        self.clients.append(c)
        return c

    async def lobby(self, framing: Framing = Framing.NDJSON) -> Client:
        c = await Client.connect("127.0.0.1", self.app.lobby_port, framing=framing)
        self.clients.append(c)
        return c

    async def developer(self, name: str = "dev1", password: str = "secret-pw") -> Client:
        c = await self.dev()
        await c.register_dev(name, password)
        return c

    async def player(self, name: str = "alice", password: str = "secret-pw") -> Client:
        c = await self.lobby()
        await c.register_player(name, password)
        return c

    async def raw(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    async def close(self) -> None:
        for c in self.clients:
            await c.close()
        await self.app.stop()


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class ServerProcess:
    """``playhub serve`` in a real subprocess, for restart and kill tests."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.dev_port = 0
        self.lobby_port = 0

    def start(self, timeout: float = 15.0) -> ServerProcess:
        ports = self.data_dir / "runtime_ports.json"
        if ports.exists():
            ports.unlink()
        self.log = open(self.data_dir.parent / f"{self.data_dir.name}-server.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "playhub",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--dev-port",
                "0",
                "--lobby-port",
                "0",
                "--fast-hash",
                *self.extra,
            ],
            env=subprocess_env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ports.exists():
                try:
                    info = json.loads(ports.read_text())
                    self.dev_port, self.lobby_port = info["developer_port"], info["lobby_port"]
                    return self
                except (ValueError, KeyError):
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            time.sleep(0.05)
        raise TimeoutError("server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise
        self.log.close()
        return self.proc.returncode

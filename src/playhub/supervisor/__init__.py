"""Game-server processes: spawn, readiness, exit watching, resource limits, logs, teardown, orphan cleanup."""

from playhub.supervisor.process import ExitInfo, GameServer, SpawnFailed, Supervisor

__all__ = ["ExitInfo", "GameServer", "SpawnFailed", "Supervisor"]

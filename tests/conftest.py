from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from playhub.server.app import PlayHubApp
from tests.helpers import Harness, settings_for_tests


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Servers started by tests record themselves in last_server.json: keep that out of the real home folder."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Harness]:
    """A real PlayHub server on free ports in this event loop, with a fresh data directory."""
    app = PlayHubApp(settings_for_tests(tmp_path / "data"))
    await app.start()
    harness = Harness(app)
    try:
        yield harness
    finally:
        await harness.close()


@pytest.fixture
async def make_hub(tmp_path: Path) -> AsyncIterator[object]:
    """Factory for servers with custom settings: ``await make_hub(vote_timeout_s=1)``."""
    started: list[Harness] = []

    async def factory(**overrides: object) -> Harness:
        app = PlayHubApp(settings_for_tests(tmp_path / f"data{len(started)}", **overrides))
        await app.start()
        started.append(Harness(app))
        return started[-1]

    try:
        yield factory
    finally:
        for harness in started:
            await harness.close()

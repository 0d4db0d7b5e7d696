"""Docs follow code: every command and status code the server implements is in docs/protocol.md."""

from __future__ import annotations

import re

from playhub.protocol.codes import Code
from playhub.server.handlers import AREAS
from tests.helpers import REPO

DOC = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")


def test_every_command_is_documented() -> None:
    names = {cmd.name for area in AREAS for cmd in area.routes.commands}
    missing = sorted(name for name in names if f"`{name}`" not in DOC)
    assert not missing, f"document these commands in docs/protocol.md: {missing}"


def test_every_message_name_the_server_uses_is_documented() -> None:
    # Command and push names are the server's only ALL_CAPS string literals with an underscore (ROOM_UPDATED, ...).
    names: set[str] = set()
    for folder in ("server", "services"):
        for path in (REPO / "src" / "playhub" / folder).rglob("*.py"):
            names |= set(re.findall(r'"([A-Z]+(?:_[A-Z]+)+)"', path.read_text(encoding="utf-8")))
    assert {"ROOM_UPDATED", "DOWNLOAD_CHUNK", "VOTE_REQUEST", "GAME_ENDED", "PLAYER_PRESENCE"} <= names
    missing = sorted(name for name in names if not re.search(rf"\b{name}\b", DOC))
    assert not missing, f"document these messages in docs/protocol.md: {missing}"


def test_every_status_code_is_documented() -> None:
    for code in Code:
        assert re.search(rf"^\| {int(code)}\s*\| {code.name}", DOC, re.M), f"code {int(code)} {code.name}"

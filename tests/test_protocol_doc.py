"""Docs follow code: every command, push, push field and status code the server implements is in docs/protocol.md.

The lists come from the registries the server itself uses: the command catalogue (``Routes`` of every area) and the
push registry (``protocol.pushes.PUSHES``), not from scanning the sources.
"""

from __future__ import annotations

import re

import msgspec

from playhub.protocol.codes import Code
from playhub.protocol.pushes import PUSHES
from playhub.server.handlers import AREAS
from tests.helpers import REPO

DOC = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")


def test_every_command_is_documented() -> None:
    names = {cmd.name for area in AREAS for cmd in area.routes.commands}
    assert {"LOGIN_PLAYER", "UPLOAD_BEGIN", "DOWNLOAD_BEGIN", "START_ROOM"} <= names
    missing = sorted(name for name in names if f"`{name}`" not in DOC)
    assert not missing, f"document these commands in docs/protocol.md: {missing}"


def test_every_push_is_documented() -> None:
    assert {"ROOM_UPDATED", "DOWNLOAD_CHUNK", "VOTE_REQUEST", "GAME_ENDED", "PLAYER_PRESENCE"} <= set(PUSHES)
    missing = sorted(name for name in PUSHES if not re.search(rf"\b{name}\b", DOC))
    assert not missing, f"document these pushes in docs/protocol.md: {missing}"


def test_every_push_field_is_documented() -> None:
    missing = []
    for name, push in PUSHES.items():
        for field in msgspec.structs.fields(push):
            # The field appears quoted in the push's payload description: "field" or `field`.
            if not re.search(rf'["`]{field.encode_name}["`]', DOC):
                missing.append(f"{name}.{field.encode_name}")
    assert not missing, f"document these push fields in docs/protocol.md: {missing}"


def test_every_status_code_is_documented() -> None:
    for code in Code:
        assert re.search(rf"^\| {int(code)}\s*\| {code.name}", DOC, re.M), f"code {int(code)} {code.name}"

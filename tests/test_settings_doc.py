"""Docs follow code: every setting is documented in docs/settings.md."""

from __future__ import annotations

import dataclasses

from playhub.settings import Settings
from tests.helpers import REPO


def test_every_setting_is_documented() -> None:
    text = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    missing = [f.name for f in dataclasses.fields(Settings) if f"`{f.name}`" not in text]
    assert not missing, f"add these settings to docs/settings.md: {missing}"

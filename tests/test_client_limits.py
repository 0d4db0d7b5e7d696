"""The client side stays bounded and documented: pending answers are forgotten once answered, every client limit is
listed in docs/settings.md."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sized

from playhub.client.settings import ClientSettings
from tests.helpers import REPO


def test_every_client_setting_is_documented() -> None:
    text = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    client_part = text[text.index("## Client") :]
    missing = [f.name for f in dataclasses.fields(ClientSettings) if f"`{f.name}`" not in client_part]
    assert not missing, f"add these client settings to docs/settings.md, section Client: {missing}"


def _sizes(client: object) -> dict[str, int]:
    """The size of every container the client holds (its bookkeeping of requests and subscriptions)."""
    return {
        name: len(value)
        for name, value in vars(client).items()
        if isinstance(value, Sized) and not isinstance(value, str | bytes)
    }


async def test_request_bookkeeping_stays_bounded(hub) -> None:  # type: ignore[no-untyped-def]
    client = await hub.player("boundy")
    await client.request("WHOAMI")
    before = _sizes(client)
    for _ in range(40):
        await asyncio.gather(*(client.request("WHOAMI") for _ in range(25)))
    after = _sizes(client)
    grown = {name: (before[name], size) for name, size in after.items() if size > before.get(name, 0)}
    assert not grown, f"grew after 1,000 answered requests: {grown}"
    # An answer without an id (to a frame the server could not read) while nothing is in flight is dropped, and
    # the next request still gets its own answer.
    await client.send_raw(b"{]\n")
    await asyncio.sleep(0.05)
    assert (await client.request("WHOAMI"))["username"] == "boundy"
    assert _sizes(client) == before

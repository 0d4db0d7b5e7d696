"""An acknowledged chat message survives kill -9 of a real server process; channels, members, nicknames and read
markers survive a restart; rooms' channels and guests do not."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from playhub.client import Client
from playhub.client.chat import ChatClient
from playhub.protocol.errors import PlayHubError
from tests.helpers import ServerProcess


def test_acknowledged_messages_survive_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = ServerProcess(data).start()

    async def chat_then_kill() -> dict[int, str]:
        users = []
        for name in ("ann", "ben", "cat"):
            c = await Client.connect("127.0.0.1", server.lobby_port)
            await c.register_player(name, "secret-pw")
            users.append(ChatClient(c))
        await users[0].join("vault")
        await users[1].join("vault")
        await users[0].set_nickname("Annie")
        acked: dict[int, str] = {}
        killed = asyncio.Event()

        async def send(chat: ChatClient, text: str) -> None:
            try:
                msg = await chat.send("vault" if chat is not users[2] else "general", text)
            except (PlayHubError, ConnectionError):
                return  # refused (flood control) or cut by the kill: never acknowledged
            if not killed.is_set():
                acked[msg.id] = text
                if len(acked) == 20:  # kill while the rest are still in flight
                    killed.set()
                    server.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]

        # Pipelined: every send goes out at once, so they share commits (group commit).
        await asyncio.gather(*(send(u, f"{u.client.username} #{i} ✓") for i in range(10) for u in users))
        for u in users:
            await u.client.close()
        return acked

    async def read_back() -> tuple[dict[int, str], str | None, list[str]]:
        c = await Client.connect("127.0.0.1", server.lobby_port)
        await c.login_player("ann", "secret-pw")
        chat = ChatClient(c)
        opened = await chat.open()
        stored = {m.id: m.text for ch in ("vault", "general") for m in await chat.all_history(ch)}
        await c.close()
        return stored, opened.nickname, [ch.channel for ch in opened.channels]

    try:
        acked = asyncio.run(chat_then_kill())
        server.proc.wait(10)  # type: ignore[union-attr]
        assert len(acked) >= 20
        server.start()
        stored, nickname, channels = asyncio.run(read_back())
        missing = {i: t for i, t in acked.items() if stored.get(i) != t}
        assert not missing, f"acknowledged but lost after kill -9: {missing}"
        assert nickname == "Annie" and channels == ["general", "vault"]
    finally:
        server.kill()

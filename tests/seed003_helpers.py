"""A scripted seed-003 client: exactly the lines seed 003's developer and player clients send, over TCP NDJSON.

Like the originals, every request opens its own connection, sends one JSON line, reads one line back and closes;
``Subscription`` is the player client's room stream (``subscribe_room`` kept open, ``room_update`` lines read).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any


async def call(port: int, obj: dict[str, Any], *, limit: int = 1 << 26) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=limit)
    try:
        writer.write((json.dumps(obj, ensure_ascii=False) + "\n").encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 20)
        assert line, f"no answer to {obj.get('kind')}"
        return json.loads(line)  # type: ignore[no-any-return]
    finally:
        writer.close()


def zip_folder_b64(folder: Path) -> str:
    """What the developer client uploads: every file of the folder, relative paths, deflated, base64."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                z.write(path, path.relative_to(folder).as_posix())
    return base64.b64encode(buf.getvalue()).decode()


def install(resp: dict[str, Any], downloads: Path, player: str, name: str) -> Path:
    """What the player client does with download_game's answer: old versions removed, the zip extracted into
    downloads/<player>/<game>/<version>/."""
    base = downloads / player / name
    if base.exists():
        shutil.rmtree(base)
    dest = base / resp["version"]
    dest.mkdir(parents=True)
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(resp["zip_b64"]))) as z:
        z.extractall(dest)
    return dest


class Seed003Client:
    """One seed-003 user: the port of its server, its token after login."""

    def __init__(self, port: int, username: str, password: str = "secret-pw") -> None:
        self.port = port
        self.username = username
        self.password = password
        self.token: str | None = None

    async def req(self, kind: str, **fields: Any) -> dict[str, Any]:
        msg: dict[str, Any] = {"kind": kind}
        if self.token is not None:
            msg["token"] = self.token
        msg.update(fields)
        return await call(self.port, msg)

    async def register_and_login(self) -> Seed003Client:
        creds = {"username": self.username, "password": self.password}
        reg = await call(self.port, {"kind": "register", **creds})
        assert reg["ok"], reg
        resp = await call(self.port, {"kind": "login", **creds})
        assert resp["ok"], resp
        assert resp["user"] == self.username
        self.token = resp["token"]
        return self


class Subscription:
    """The player client's room stream: ``subscribe_room`` on a connection that stays open."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, first: dict[str, Any]
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.first = first
        self.room: dict[str, Any] | None = first.get("room")

    @classmethod
    async def open(cls, client: Seed003Client, room_id: str) -> Subscription:
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        line = {"kind": "subscribe_room", "token": client.token, "room_id": room_id}
        writer.write((json.dumps(line) + "\n").encode())
        await writer.drain()
        first = json.loads(await asyncio.wait_for(reader.readline(), 10))
        return cls(reader, writer, first)

    async def next_update(self, timeout: float = 15.0) -> dict[str, Any]:
        while True:
            line = await asyncio.wait_for(self.reader.readline(), timeout)
            assert line, "the subscription was closed"
            msg = json.loads(line)
            assert set(msg) == {"event", "room"} and msg["event"] == "room_update", msg
            self.room = msg["room"]
            return self.room

    async def until(self, predicate: Any, timeout: float = 20.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                room = await self.next_update(timeout)
                if predicate(room):
                    return room

    async def close(self) -> None:
        self.writer.close()

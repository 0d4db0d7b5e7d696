"""Helpers for the publishing tests: game folders, hostile archives, raw uploads."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from playhub.client import Client


def manifest(name: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "display_name": name.title(),
        "type": "cli",
        "max_players": 2,
        "entry_server": "server.py",
        "entry_client": "client.py",
        "description": f"The {name} game.",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def make_game_folder(root: Path, name: str, *, extra_bytes: int = 0, **overrides: Any) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(manifest(name, **overrides)), encoding="utf-8")
    (folder / "server.py").write_text("print('server')\n", encoding="utf-8")
    (folder / "client.py").write_text("print('client')\n", encoding="utf-8")
    if extra_bytes:
        # Incompressible content so the archive really is this large.
        (folder / "assets.bin").write_bytes(hashlib.shake_256(name.encode()).digest(extra_bytes))
    return folder


def zip_bytes(files: dict[str, bytes | str], *, manifest_data: dict[str, Any] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if manifest_data is not None:
            zf.writestr("manifest.json", json.dumps(manifest_data))
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def good_package(name: str, **overrides: Any) -> bytes:
    return zip_bytes(
        {"server.py": "print(1)\n", "client.py": "print(2)\n"}, manifest_data=manifest(name, **overrides)
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def create_game(client: Client, name: str, **extra: Any) -> str:
    payload = {
        "name": name,
        "description": f"The {name} game.",
        "game_type": "cli",
        "max_players": 2,
        **extra,
    }
    return (await client.request("CREATE_GAME", payload))["game_id"]


async def begin(client: Client, game_id: str, version: str, data: bytes, **extra: Any) -> dict[str, Any]:
    payload = {
        "game_id": game_id,
        "version": version,
        "size_bytes": len(data),
        "checksum": sha256(data),
        **extra,
    }
    return await client.request("UPLOAD_BEGIN", payload)


async def send_chunks(client: Client, upload_id: str, data: bytes, chunk: int, start_seq: int = 0) -> int:
    seq = start_seq
    for off in range(start_seq * chunk, len(data), chunk):
        piece = base64.b64encode(data[off : off + chunk]).decode()
        await client.request("UPLOAD_CHUNK", {"upload_id": upload_id, "seq": seq, "data_b64": piece})
        seq += 1
    return seq


async def upload(client: Client, game_id: str, version: str, data: bytes) -> dict[str, Any]:
    """A whole upload the plain way (one chunk answered at a time)."""
    b = await begin(client, game_id, version, data)
    await send_chunks(client, b["upload_id"], data, b["chunk_size"])
    return await client.request("UPLOAD_END", {"upload_id": b["upload_id"]})

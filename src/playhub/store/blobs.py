"""Where published packages and in-progress transfers live on disk.

``<data>/uploadedGame/<game_id>/<version>/``     the unpacked package (what a game server runs)
``<data>/uploadedGame/<game_id>/<version>.zip``  the original archive (what downloads stream)
``<data>/tmp/``                                   upload parts and staging folders, same file system for atomic renames
"""

from __future__ import annotations

from pathlib import Path


class BlobStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "uploadedGame"
        self.tmp = data_dir / "tmp"

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def game_dir(self, game_id: str) -> Path:
        return self.root / game_id

    def version_dir(self, game_id: str, version: str) -> Path:
        return self.root / game_id / version

    def archive(self, game_id: str, version: str) -> Path:
        return self.root / game_id / f"{version}.zip"

    def upload_part(self, upload_id: str) -> Path:
        return self.tmp / f"upload-{upload_id}.part"

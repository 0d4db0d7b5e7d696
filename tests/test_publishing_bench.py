"""Smoke run of the upload benchmark on a small package (the real run is bench/upload_throughput.py, 100 MiB)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import REPO, subprocess_env


def test_upload_benchmark_smoke() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "upload_throughput.py"), "--mb", "4", "--rounds", "1"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for line in (
        "raw TCP copy",
        "PlayHub base64 upload",
        "PlayHub binary upload",
        "ratio base64 upload/raw",
        "ratio binary upload/raw",
        "server RSS (binary)",
    ):
        assert line in out

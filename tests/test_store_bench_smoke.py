"""A short run of the store benchmark, so the suite notices when it breaks (bench/ holds the real numbers)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import REPO, subprocess_env


def test_store_benchmark_smoke() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "store_bench.py"),
            "--seconds",
            "0.3",
            "--rounds",
            "1",
            "--connections",
            "10",
            "--games",
            "50",
            "--big-mb",
            "4",
            "--parallel",
            "10",
            "--parallel-mb",
            "2",
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "52 games" in out, out
    ratios = [float(x) for x in re.findall(r"ratio[^:]*:\s*([0-9.]+)x", out)]
    assert len(ratios) == 4 and all(r > 0.02 for r in ratios), out  # listing x2, base64 and binary download
    growths = [float(x) for x in re.findall(r"MB before, \+([0-9.]+) MB", out)]
    assert len(growths) == 2 and all(g < 100 for g in growths), out  # base64 and binary concurrent downloads

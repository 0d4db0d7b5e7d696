"""Short runs of the core benchmark, so the suite notices when it breaks or PlayHub falls far behind the baseline."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import REPO, subprocess_env


def test_core_benchmark_smoke() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "core_throughput.py"),
            "--seconds",
            "0.5",
            "--rounds",
            "1",
            "--connections",
            "20",
            "--idle",
            "1000",
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    ratio = float(out.split("ratio")[1].split(":")[1].split("x")[0])
    rss = float(out.split("server RSS +")[1].split(" MB")[0])
    # Loose bounds: the suite shares the machine; bench/ and docs/benchmarks.md hold the real numbers.
    assert ratio > 0.2, out
    assert rss < 50, out

"""A short run of the chat benchmark, so the suite notices when it breaks."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import REPO, subprocess_env


def test_chat_benchmark_smoke() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "chat_bench.py"),
            *("--members", "20", "--fanout-messages", "5", "--users", "20", "--group", "5"),
            *("--rate", "500", "--seconds", "1", "--pages", "20"),
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    # Loose bounds: the suite shares the machine; bench/ and docs/benchmarks.md hold the real numbers.
    fan_p99 = float(out.split("fan-out to 20 members: p50 ")[1].split("p99 ")[1].split(" ms")[0])
    assert fan_p99 < 500, out
    assert "0 refused" in out, out
    hist_p50 = float(out.split("history page of 100: p50 ")[1].split(" ms")[0])
    assert hist_p50 < 100, out

"""A short run of the login benchmark, so the suite notices when it breaks or logins fall far behind raw argon2."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import REPO, subprocess_env


def test_login_benchmark_smoke() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "login_bench.py"),
            "--seconds",
            "0.5",
            "--rounds",
            "1",
            "--connections",
            "4",
            "--storm",
            "150",
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    ratio = float(re.search(r"ratio to raw argon2id\s*: ([\d.]+)x", out).group(1))  # type: ignore[union-attr]
    storm = re.search(r"(\d+) sessions resumed with their token in ([\d.]+) s", out)
    assert storm is not None, out
    # Loose bounds: the suite shares the machine; bench/ and docs/benchmarks.md hold the real numbers.
    assert ratio > 0.3, out
    assert int(storm.group(1)) == 150 and float(storm.group(2)) < 10, out

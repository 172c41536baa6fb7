"""The benchmarks run and print their numbers (a smoke test: no timing is asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_the_benchmarks_print_their_numbers():
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"watch reload, save to new plan active \(10 saves\): median \d+ ms, max \d+ ms", result.stdout
    )

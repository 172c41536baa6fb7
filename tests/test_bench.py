"""The benchmarks run and print their numbers (a smoke test: no timing is asserted here)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.conftest import REPO


def test_the_benchmarks_print_their_numbers_and_save_them_with_the_machine(tmp_path, postgres_server):
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "SYNCMAP_TEST_POSTGRES": postgres_server},  # the sql benchmark's server
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"watch reload, save to new plan active \(10 saves\): median \d+ ms, max \d+ ms", result.stdout
    )
    assert re.search(
        r"syncmap plan, 3,000 records vs SQLite CRM +peak RSS +[\d.]+ MB +<= 1,024 MB", result.stdout
    )
    assert re.search(
        r"syncmap plan, 3,000 records vs SQLite CRM, from a PostgreSQL table +peak RSS +[\d.]+ MB",
        result.stdout,
    )
    assert re.search(r"a PostgreSQL table against syncmap's own store +time ratio +[\d.]+ x +<= 1.2", result.stdout)
    assert re.search(
        r"sql connector read, 300 rows from SQLite table +throughput +[\d,]+ records/s", result.stdout
    )
    assert re.search(r"1 job of 10 contacts on the queue +runs per minute, 3 workers +[\d.,]+ runs/min", result.stdout)
    saved = json.loads(out.read_text())
    assert re.search(
        r"rest connector read, 2,000 records from json-server, pages of 1,000 +requests +2 calls +floor 2",
        result.stdout,
    )
    assert saved["smoke"] is True and saved["machine"]["cores"] >= 1
    measured = {(r["benchmark"], r["measure"]) for r in saved["results"]}
    assert ("transform 15 fields, 5,000 records", "ratio") in measured
    # the floor's counts equal syncmap's, or the benchmark fails before printing its ratio
    assert ("syncmap plan vs hand-written floor, 3,000 x 300", "time ratio") in measured
    calls = {
        r["benchmark"].split(": ")[1]: r["value"]
        for r in saved["results"]
        if r["measure"] == "calls made, skip_own_changes"
    }
    # at the floor: one call per 200 writes, a describe and one query (calls are counted, not timed)
    assert calls == {"initial sync": 2 + 2, "1% changed": 1 + 2, "nothing changed": 2}
    assert re.search(
        r"sandbox: initial sync of 300 contacts keyed by a unique External ID +ratio to the floor +[\d.]+ x +<= 1.3",
        result.stdout,
    )
    assert all(r["value"] > 0 for r in saved["results"] if r["unit"] != "%")
    floor = {
        (r["benchmark"].split(": ")[-1], r["measure"]): r["value"]
        for r in saved["results"]
        if r["benchmark"].startswith("Salesforce, 3,000 contacts, one-way")
    }
    # one Bulk job and a query; then the 1% in one Collections call; then only the reads
    assert floor[("initial sync", "API requests")] <= 12 and floor[("nothing changed", "API requests")] == 2
    assert floor[("1% changed", "API requests")] == 3

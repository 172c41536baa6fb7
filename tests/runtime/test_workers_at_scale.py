"""Many customers, one scheduler, three workers killed at random, two Salesforce orgs: the
example `examples/scale/run.py` at a size that keeps CI short. Customer jobs made from the shipped
SyncApps template share a PostgreSQL state store; two `syncmap watch` schedulers queue their
runs (a job still has at most one run waiting), three
`syncmap worker` processes run them, and every two seconds one of the workers is killed with
SIGKILL and started again. Every job converges with each person once on both sides, no job ever
had two runs at once (read from the run records), and each org's calls stay within its budget."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "scale" / "run.py"


@pytest.mark.slow
def test_customer_jobs_on_two_orgs_converge_with_workers_killed_at_random(postgres_server):
    daily_calls = 2_000
    ran = subprocess.run(
        [sys.executable, str(EXAMPLE), "--customers", "12", "--people", "12", "--kills", "4", "--schedulers", "2",
         "--daily-calls", str(daily_calls), "--state", postgres_server],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    found = json.loads(ran.stdout)
    assert found["converged"] and found["lost or doubled"] == [] and found["two runs at once"] == []
    assert found["runs"] >= 12  # every job ran, most of them more than once
    for org in found["orgs"]:
        assert 0 < org["calls"] <= org["budget"] == daily_calls - daily_calls // 10
    assert "every job converged" in ran.stderr

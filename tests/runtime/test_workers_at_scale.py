"""Many customers, one scheduler, three workers killed at random: `syncmap watch` queues the
runs of 6 customer jobs sharing a PostgreSQL state store, three `syncmap worker` processes run
them, and every few seconds one of the workers is killed with SIGKILL and started again. Every job
ends as one uninterrupted run leaves it, nothing lost or created twice, and no job ever had two
runs at once (read from the run records)."""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest

from bench.workers import customers
from engine.state import StateStore
from tests.conftest import run_syncmap
from tests.runtime.conftest import fresh_state_database
from tests.runtime.test_crash import crm_rows, make_project, platform_rows

JOBS, RECORDS, WORKERS = 6, 200, 3


def start_worker(folder, state):
    return subprocess.Popen(
        [sys.executable, "-m", "engine", "worker", "--state", state],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.slow
def test_three_workers_killed_at_random_run_every_job_once_at_a_time_to_the_end(tmp_path, postgres_server):
    reference = make_project(tmp_path / "reference", RECORDS)
    assert run_syncmap("apply", str(reference)).returncode == 0
    state = fresh_state_database(postgres_server)
    mappings = customers(tmp_path / "customers", JOBS, RECORDS, state)
    folder = tmp_path / "customers"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "engine", "watch", ".", "--interval", "2s", "--state", state],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    workers = [start_worker(folder, state) for _ in range(WORKERS)]
    chance = random.Random(7)
    try:
        for _ in range(4):  # the bad seconds: a worker killed every 2 s, and started again
            time.sleep(2)
            victim = chance.randrange(WORKERS)
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            workers[victim] = start_worker(folder, state)
        deadline = time.monotonic() + 180
        while any(
            run_syncmap("plan", str(m), "--detailed-exitcode", "--state", state, cwd=m.parent).returncode != 0
            for m in mappings
        ):
            assert time.monotonic() < deadline, "the jobs did not converge"
            time.sleep(2)
    finally:
        for process in [scheduler, *workers]:
            process.send_signal(signal.SIGTERM)
        for process in [scheduler, *workers]:
            process.wait(timeout=60)
    for mapping in mappings:
        assert crm_rows(mapping.parent) == crm_rows(reference.parent), f"{mapping.parent.name}: lost or doubled"
        assert platform_rows(mapping.parent) == platform_rows(reference.parent)
    store = StateStore(state)
    for number in range(1, JOBS + 1):
        finished = [run for run in store.runs(f"customer-{number}") if run["finished_at"]]
        spans = sorted((datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"])) for r in finished)
        assert finished, f"customer-{number} never ran to its end"
        assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans)), (
            f"customer-{number} had two runs at once"
        )
    store.close()

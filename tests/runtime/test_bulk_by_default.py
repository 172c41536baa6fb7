"""Thousands of writes reach Salesforce as one Bulk API 2.0 job with default settings: apply hands
each connector as many writes at once as it declares it takes (a Bulk job's worth for
Salesforce), not a fixed 200 that would never cross the Bulk threshold."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from engine.connectors import Write
from engine.connectors.salesforce.usage import BULK_JOB_CALLS, bulk_job_calls, write_calls
from engine.connectors.sqlite import SqliteConnector
from engine.sandbox import Sandbox
from tests.conftest import SALESFORCE_FROM_ENV, run_syncmap, sandbox_env
from tests.runtime.conftest import leads_project

PEOPLE = 2_500  # above the default Bulk threshold of 2,000


def _project(tmp_path: Path) -> Path:
    return leads_project(tmp_path / "project", "bulk", PEOPLE, SALESFORCE_FROM_ENV)


def test_thousands_of_creates_are_one_bulk_job_and_the_estimate_says_so(tmp_path):
    root = _project(tmp_path)
    with Sandbox() as org:
        environ = sandbox_env(org.instance_url, org.session_id, org.ca_file)
        planned = run_syncmap("plan", "job.yaml", "--format", "json", cwd=root, env=environ)
        assert json.loads(planned.stdout)["api_calls_estimate"]["salesforce"]["writes"] == BULK_JOB_CALLS
        before = org.stats()["by_kind"]
        applied = run_syncmap("apply", "job.yaml", "--format", "json", cwd=root, env=environ, timeout=120)
        assert applied.returncode == 0, applied.stderr
        assert json.loads(applied.stdout)["counts"]["create"] == PEOPLE
        kinds = {k: n - before.get(k, 0) for k, n in org.stats()["by_kind"].items() if n > before.get(k, 0)}
        assert kinds["bulk_ingest"] == 3  # one job: created, uploaded, closed
        assert not any(kind.startswith("collections") for kind in kinds)
        assert org.client().query("SELECT COUNT() FROM Lead")["totalSize"] == PEOPLE


def test_a_smaller_batch_size_on_the_command_line_still_wins(tmp_path):
    root = _project(tmp_path)
    with Sandbox() as org:
        environ = sandbox_env(org.instance_url, org.session_id, org.ca_file)
        applied = run_syncmap("apply", "job.yaml", "--batch-size", "500", cwd=root, env=environ, timeout=120)
        assert applied.returncode == 0, applied.stderr
        kinds = org.stats()["by_kind"]
        assert (
            "bulk_ingest" not in kinds and kinds["collections_create"] == 5 * 3
        )  # 5 hand-overs of 500: 200 + 200 + 100


def test_the_estimate_counts_a_job_per_hand_over():
    # 250,000 creates handed over 100,000 at a time: two full jobs and one for the rest
    # long jobs: a status check more for the first rows done, one more for the pace
    assert bulk_job_calls(100_000) == BULK_JOB_CALLS + 2 and bulk_job_calls(2_500) == BULK_JOB_CALLS
    assert write_calls({("Lead", "create"): 250_000}, 2_000, 200, 100_000) == 3 * bulk_job_calls(100_000)
    # what is left after the full jobs may be small enough for Collections
    assert write_calls({("Lead", "create"): 100_400}, 2_000, 200, 100_000) == bulk_job_calls(100_000) + 2
    assert write_calls({("Lead", "create"): 1_999, ("Lead", "update"): 0}, 2_000, 200, 100_000) == 10


def test_a_sigkill_while_a_bulk_job_runs_loses_and_doubles_nothing(tmp_path):
    """The apply is killed once its Bulk job is uploaded: the journal holds its creates as
    pending, the org goes on processing the job, and the next run finds every record the job
    created (by its match keys) instead of creating it again, then creates what is missing."""
    root = _project(tmp_path)
    with Sandbox() as org:
        environ = sandbox_env(org.instance_url, org.session_id, org.ca_file)
        sf = org.client()
        process = subprocess.Popen(
            [sys.executable, "-m", "engine", "apply", "job.yaml"],
            cwd=root, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while (
            not sf.restful("jobs/ingest")["records"]
            and process.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        assert process.poll() is None, "the apply finished before it could be interrupted"
        process.send_signal(signal.SIGKILL)
        process.wait()

        resumed = run_syncmap("apply", "job.yaml", "--format", "json", cwd=root, env=environ, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        report = json.loads(resumed.stdout)
        assert report["api_calls"]["salesforce"] < 30  # found a record type at a time, not one by one
        emails = Counter(r["Email"] for r in sf.query_all("SELECT Email FROM Lead")["records"])
        assert len(emails) == PEOPLE and set(emails.values()) == {1}  # none lost, none doubled
        again = run_syncmap("plan", "job.yaml", "--detailed-exitcode", cwd=root, env=environ, timeout=120)
        assert again.returncode == 0, again.stdout


def test_creates_of_a_bulk_job_that_cannot_be_followed_are_found_not_sent_again(tmp_path):
    """The org writes the job but its status cannot be read: the run ends with the creates
    unknown, and the next run finds every record by its key instead of creating it again."""
    root = leads_project(tmp_path / "project", "unknown", PEOPLE, {**SALESFORCE_FROM_ENV, "max_retries": 0})
    with Sandbox() as org:
        environ = sandbox_env(org.instance_url, org.session_id, org.ca_file)
        org.set_faults(bulk_status_unavailable=True)
        lost = run_syncmap("apply", "job.yaml", cwd=root, env=environ, timeout=120)
        assert lost.returncode == 1 and "could not be followed to its end" in lost.stdout + lost.stderr
        org.set_faults(bulk_status_unavailable=False)
        sf = org.client()
        deadline = time.monotonic() + 30
        while sf.query("SELECT COUNT() FROM Lead")["totalSize"] < PEOPLE and time.monotonic() < deadline:
            time.sleep(0.1)  # the org goes on writing the job
        resumed = run_syncmap("apply", "job.yaml", "--format", "json", cwd=root, env=environ, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["counts"]["create"] == 0
        emails = Counter(r["Email"] for r in sf.query_all("SELECT Email FROM Lead")["records"])
        assert len(emails) == PEOPLE and set(emails.values()) == {1}


def test_two_applies_at_once_while_a_bulk_job_runs_write_each_record_once(tmp_path):
    """A second apply started while the first one's Bulk job runs waits for the job's lease,
    then finds everything written: one Lead per contact."""
    root = _project(tmp_path)
    with Sandbox() as org:
        environ = sandbox_env(org.instance_url, org.session_id, org.ca_file)
        sf = org.client()
        first = subprocess.Popen(
            [sys.executable, "-m", "engine", "apply", "job.yaml"],
            cwd=root, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while (
            not sf.restful("jobs/ingest")["records"] and first.poll() is None and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        second = run_syncmap(
            "apply", "job.yaml", "--wait", "120", "--format", "json", cwd=root, env=environ, timeout=180
        )
        assert first.wait(timeout=120) == 0, first.stderr.read()
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["counts"]["create"] == 0
        emails = Counter(r["Email"] for r in sf.query_all("SELECT Email FROM Lead")["records"])
        assert len(emails) == PEOPLE and set(emails.values()) == {1}


def test_rows_a_bulk_job_refused_fail_alone_and_are_sent_again_once_fixed(tmp_path):
    """The org refuses some rows of a Bulk job: they fail alone (dead letters, read again), the
    rest are created and linked with their keys, and once fixed the next run creates just them."""
    root = _project(tmp_path)
    unnamed = [f"p{i}" for i in range(0, PEOPLE, 100)]
    with SqliteConnector({"path": "platform.db"}, root) as store:
        store.write("contacts", [Write(f"u{i}", "update", "contacts", i, {"name": ""}) for i in unnamed])
    with Sandbox() as org:
        environ = sandbox_env(org.instance_url, org.session_id, org.ca_file)
        first = run_syncmap("apply", "job.yaml", "--format", "json", cwd=root, env=environ, timeout=120)
        assert first.returncode == 1, first.stderr  # some records failed
        applied = json.loads(first.stdout)["applied"]
        assert (applied["create"], applied["failed"]) == (PEOPLE - len(unnamed), len(unnamed))
        assert {f["error"] for f in json.loads(first.stdout)["failed"]} == {
            "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]"
        }
        failed = run_syncmap("failures", "--format", "json", cwd=root, env=environ)
        assert sorted(letter["record_id"] for letter in json.loads(failed.stdout)) == sorted(unnamed)
        with SqliteConnector({"path": "platform.db"}, root) as store:
            store.write("contacts", [Write(f"n{i}", "update", "contacts", i, {"name": "Named"}) for i in unnamed])
        second = run_syncmap("apply", "job.yaml", "--format", "json", cwd=root, env=environ, timeout=120)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["counts"]["create"] == len(unnamed)  # the rest are linked
        emails = Counter(r["Email"] for r in org.client().query_all("SELECT Email FROM Lead")["records"])
        assert len(emails) == PEOPLE and set(emails.values()) == {1}

"""An org's daily API calls are shared by all its integrations: a run whose writes would spend
the calls kept for the others stops before writing, says why (status, exit code 6), and once the
org's daily count resets the next run converges with nothing doubled."""

from __future__ import annotations

import json
from pathlib import Path

from engine.sandbox import Sandbox
from engine.state import StateStore
from tests.conftest import SALESFORCE_FROM_ENV, run_syncmap, sandbox_env
from tests.runtime.conftest import leads_project

PEOPLE = 300


def _project(tmp_path: Path) -> Path:
    # 30 collection calls for 300 creates, and 6 of the org's 60 daily calls kept for others
    return leads_project(tmp_path / "project", "budgeted", PEOPLE, {**SALESFORCE_FROM_ENV, "batch_size": 10})


def test_a_run_that_would_spend_the_calls_kept_for_others_stops_before_writing(tmp_path):
    root = _project(tmp_path)
    with Sandbox(daily_api_requests=60) as org:
        sf = org.client()
        for _ in range(25):  # the org's other integrations, earlier today
            sf.query("SELECT COUNT() FROM Lead")
        environ = sandbox_env(org.instance_url, org.session_id, org.ca_file)
        stopped = run_syncmap("apply", "job.yaml", cwd=root, env=environ)
        assert stopped.returncode == 6, stopped.stdout + stopped.stderr
        assert stopped.stderr.startswith(
            "error: `salesforce`: the writes of contacts need about 30 API calls, and the org has "
        )
        assert (
            "before the 6 it keeps for others" in stopped.stderr and "nothing was written" in stopped.stderr
        )
        assert "Traceback" not in stopped.stderr
        assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
        (job,) = json.loads(run_syncmap("status", "--format", "json", cwd=root).stdout)
        assert job["status"] == "waiting for API budget"

        org.reset()  # a new day
        planned = run_syncmap("plan", "job.yaml", "--format", "json", cwd=root, env=environ)
        estimate = json.loads(planned.stdout)["api_calls_estimate"]["salesforce"]
        assert estimate["writes"] == PEOPLE // 10
        shown = run_syncmap("plan", "job.yaml", cwd=root, env=environ).stdout
        assert f"API calls an apply would make on salesforce: about {sum(estimate.values())} " in shown
        applied = run_syncmap("apply", "job.yaml", "--format", "json", cwd=root, env=environ)
        assert applied.returncode == 0, applied.stderr
        report = json.loads(applied.stdout)
        assert report["counts"]["create"] == PEOPLE
        made = report["api_calls"]["salesforce"]
        assert abs(sum(estimate.values()) - made) <= made / 10, (estimate, made)  # within 10%
        assert org.client().query("SELECT COUNT() FROM Lead")["totalSize"] == PEOPLE
        (job,) = json.loads(run_syncmap("status", "--format", "json", cwd=root).stdout)
        assert job["status"] == "active"
        settled = run_syncmap("plan", "job.yaml", "--detailed-exitcode", cwd=root, env=environ)
        assert settled.returncode == 0, settled.stdout


def test_the_calls_a_run_under_way_reserved_are_not_spent_twice(tmp_path, state_backend):
    """Runs of other jobs writing to the same org (another worker's, on any machine sharing the
    store) reserve the calls their writes need: a run that would need more than what is left
    after them stops before writing, and goes on once they end and give them back."""
    root = _project(tmp_path)
    if state_backend:
        (root / "syncmap.toml").write_text(f'state = "{state_backend}"\n')
    location = state_backend or root / ".syncmap" / "state.db"
    with Sandbox(daily_api_requests=100) as org:
        environ = sandbox_env(org.instance_url, org.session_id, org.ca_file)
        store = StateStore(location)
        with store.transaction():
            store.reserve_calls(org.instance_url, "other-job", 999, 70)  # 88 left, 30 needed
        store.close()
        stopped = run_syncmap("apply", "job.yaml", cwd=root, env=environ)
        assert stopped.returncode == 6, stopped.stdout + stopped.stderr
        assert "70 of them reserved by runs under way" in stopped.stderr
        assert org.client().query("SELECT COUNT() FROM Lead")["totalSize"] == 0
        (job,) = json.loads(run_syncmap("status", "--format", "json", cwd=root).stdout)
        assert job["status"] == "waiting for API budget"

        store = StateStore(location)
        with store.transaction():
            store.finish_run(999, "done", {})  # the other run ends: its calls are the org's count now
            assert store.reserved_calls(org.instance_url, "budgeted", 0) == 0
        store.close()
        applied = run_syncmap("apply", "job.yaml", cwd=root, env=environ)
        assert applied.returncode == 0, applied.stderr
        assert org.client().query("SELECT COUNT() FROM Lead")["totalSize"] == PEOPLE
        store = StateStore(location)
        assert store.reserved_calls(org.instance_url, "other-job", 0) == 0, "the run gave its calls back"
        store.close()

"""`syncmap status`, `runs`, `pause`, `resume` and `delete [--revert]`, run as a user would, each
in its own process, over the quickstart's two SQLite stores."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.job import Job, Jobs
from tests.conftest import run_syncmap
from tests.runtime.test_crash import make_project


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    return make_project(tmp_path / "quickstart", 60)


def count(folder: Path, table: str) -> int:
    with sqlite3.connect(folder / "crm.db") as db:
        return db.execute(f"SELECT count(*) FROM {table} WHERE deleted = 0").fetchone()[0]


def test_status_and_runs_show_each_job_and_its_history(quickstart):
    folder = quickstart.parent
    assert run_syncmap("status", cwd=folder).stdout.startswith("No jobs yet")
    assert run_syncmap("apply", str(quickstart), cwd=folder).returncode == 0
    assert run_syncmap("apply", str(quickstart), cwd=folder).returncode == 0

    (job,) = json.loads(run_syncmap("status", "--format", "json", cwd=folder).stdout)
    assert (job["job"], job["status"], job["last_run"]["status"]) == ("quickstart", "active", "done")
    assert run_syncmap("status", cwd=folder).stdout.startswith("quickstart")

    history = json.loads(run_syncmap("runs", "quickstart", "--format", "json", cwd=folder).stdout)
    assert len(history) == 2 and history[0]["counts"]["create"] > 0 and history[1]["counts"]["create"] == 0
    assert "nothing to do" in run_syncmap("runs", "quickstart", cwd=folder).stdout.splitlines()[1]
    unknown = run_syncmap("runs", "quickstrat", cwd=folder)
    assert unknown.returncode == 64 and "no runs of `quickstrat`" in unknown.stderr


def test_jobs_are_found_from_anywhere_and_status_names_the_store_and_each_document(quickstart, tmp_path):
    folder, elsewhere = quickstart.parent, tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert run_syncmap("apply", str(quickstart), cwd=folder).returncode == 0
    lost = run_syncmap("status", cwd=elsewhere).stdout
    assert lost.startswith(f"No jobs yet in {elsewhere / '.syncmap' / 'state.db'}") and "--project" in lost
    for project in (str(quickstart), str(folder)):  # a mapping document of the project, or a folder in it
        shown = run_syncmap("status", "--project", project, cwd=elsewhere).stdout
        assert shown.startswith("quickstart") and f"mapping: {quickstart}" in shown
        assert shown.rstrip().endswith(f"(state: {folder / '.syncmap' / 'state.db'})")
    (job,) = json.loads(
        run_syncmap("status", "--project", str(folder), "--format", "json", cwd=elsewhere).stdout
    )
    assert job["mapping"] == str(quickstart)
    assert run_syncmap("runs", "quickstart", "--project", str(folder), cwd=elsewhere).returncode == 0
    assert run_syncmap("conflicts", "quickstart", "--project", str(folder), cwd=elsewhere).returncode == 0
    assert run_syncmap("failures", "--project", str(folder), cwd=elsewhere).stdout == "No failed records.\n"
    assert run_syncmap("pause", "quickstart", "--project", str(folder), cwd=elsewhere).returncode == 0
    assert json.loads(run_syncmap("status", "--format", "json", cwd=folder).stdout)[0]["status"] == "paused"


def test_a_paused_job_does_not_run_until_resumed(quickstart):
    folder = quickstart.parent
    run_syncmap("apply", str(quickstart), cwd=folder)
    assert run_syncmap("pause", "quickstart", cwd=folder).stdout == "quickstart is paused.\n"
    refused = run_syncmap("apply", str(quickstart), cwd=folder)
    assert (
        refused.returncode == 1
        and "quickstart is paused" in refused.stderr
        and "syncmap resume" in refused.stderr
    )
    assert json.loads(run_syncmap("status", "--format", "json", cwd=folder).stdout)[0]["status"] == "paused"
    assert run_syncmap("resume", "quickstart", cwd=folder).returncode == 0
    assert run_syncmap("apply", str(quickstart), cwd=folder).returncode == 0
    typo = run_syncmap("pause", "quickstrat", cwd=folder)
    assert typo.returncode == 64 and "did you mean `quickstart`?" in typo.stderr


def test_delete_forgets_the_links_and_revert_removes_only_what_the_job_created(quickstart):
    folder = quickstart.parent
    leads_before, contacts_before = count(folder, "Lead"), count(folder, "Contact")
    run_syncmap("apply", str(quickstart), cwd=folder)
    assert count(folder, "Lead") > leads_before

    refused = run_syncmap("delete", str(quickstart), "--revert", "target", cwd=folder)  # no TTY, no --yes
    assert refused.returncode == 64 and count(folder, "Lead") > leads_before
    deleted = run_syncmap("delete", str(quickstart), "--revert", "target", "--yes", cwd=folder)
    assert deleted.returncode == 0, deleted.stderr
    assert "- delete" in deleted.stdout and "created by this job" in deleted.stdout
    assert (count(folder, "Lead"), count(folder, "Contact")) == (leads_before, contacts_before)
    (job,) = json.loads(run_syncmap("status", "--format", "json", cwd=folder).stdout)
    assert job["status"] == "deleted"
    refused = run_syncmap("apply", str(quickstart), cwd=folder)
    assert refused.returncode == 1 and "quickstart is deleted" in refused.stderr
    assert run_syncmap("resume", "quickstart", cwd=folder).returncode == 0
    assert run_syncmap("apply", str(quickstart), cwd=folder).returncode == 0  # a new initial sync
    assert count(folder, "Lead") > leads_before


def test_a_delete_while_the_job_runs_is_refused_and_with_wait_happens_after_the_run(quickstart):
    folder = quickstart.parent
    attempts = []

    def delete_from_another_process(written: int) -> None:
        if not attempts:
            attempts.append(run_syncmap("delete", str(quickstart), "--yes", cwd=folder))

    with Job.open(quickstart) as job:
        report = job.apply(batch_size=10, progress=delete_from_another_process)
    refused = attempts[0]
    assert refused.returncode == 5, refused.stderr
    assert "error: quickstart is busy: `syncmap apply` (pid " in refused.stderr
    assert "--wait SECONDS" in refused.stderr and "Traceback" not in refused.stderr
    (status,) = json.loads(run_syncmap("status", "--format", "json", cwd=folder).stdout)
    assert (status["status"], status["last_run"]["status"]) == ("active", "done")
    assert report.failed == 0

    with Job.open(quickstart) as job, job.lease("apply"):
        waiting = subprocess.Popen(
            [sys.executable, "-m", "engine", "delete", str(quickstart), "--yes", "--wait", "30"],
            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1.5)
        assert waiting.poll() is None, "delete --wait waits while the job is busy"
    _, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 0, err
    (status,) = json.loads(run_syncmap("status", "--format", "json", cwd=folder).stdout)
    assert status["status"] == "deleted"
    with sqlite3.connect(folder / ".syncmap" / "state.db") as db:
        assert db.execute("SELECT count(*) FROM links").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM leases").fetchone() == (0,), "every lease is released"


def test_the_lifecycle_is_a_library_api_too(quickstart):
    folder = quickstart.parent
    with Job.open(quickstart) as job:
        job.apply()
    with Jobs(folder=folder, read_only=False) as project:
        assert [(j["job"], j["status"]) for j in project.statuses()] == [("quickstart", "active")]
        assert len(project.runs("quickstart")) == 1
        project.set_status("quickstart", "paused")
        with pytest.raises(UsageError) as unknown:
            project.set_status("quickstrat", "active")
        assert unknown.value.hint == "did you mean `quickstart`?"
    assert json.loads(run_syncmap("status", "--format", "json", cwd=folder).stdout)[0]["status"] == "paused"
    with Job.open(quickstart) as job:
        job.forget()
    with Jobs(folder=folder) as project:
        assert project.statuses()[0]["status"] == "deleted"

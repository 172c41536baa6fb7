"""The journal keeps a job's settled writes for `journal_days` (90 unless syncmap.toml says), on
either state store: a run's end forgets older ones, never a write still pending (it is how a
killed run is finished), nor another job's."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.state import StateStore
from tests.conftest import REPO, run_syncmap

QUICKSTART = REPO / "examples" / "quickstart"


def _days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="microseconds")


@pytest.fixture
def location(state_backend, tmp_path) -> str | Path:
    return state_backend or tmp_path / "state.db"


def test_a_run_end_forgets_its_jobs_settled_writes_older_than_the_retention(location):
    store = StateStore(location, journal_days=30)
    write = ("update", "target", "Lead", "contacts p1", "L1", {"FirstName": "Ana"})
    with store.transaction():  # each write a batch of its own (a batch is as old as its writes)
        old_done, old_failed, old_pending, recent, other_job = (
            *(store.journal_intents("job", "s", 1, [write])[0] for _ in range(4)),
            store.journal_intents("other", "s", 1, [write])[0],
        )
        store.journal_settle([(old_done, "done", None), (old_failed, "failed", None), (recent, "done", None),
                              (other_job, "done", None)])  # fmt: skip
        for ref, age in ((old_done, 31), (old_failed, 45), (old_pending, 400), (recent, 29), (other_job, 99)):
            batch = int(ref.partition(".")[0])
            store.db.execute("UPDATE journal_batches SET created_at=? WHERE id=?", (_days_ago(age), batch))
        run = store.start_run("job", "hash")
    store.finish_run(run, "done", {})
    assert [w["state"] for w in store.writes_of("job", "L1")] == ["pending", "done"]  # old_pending, recent
    assert [w["state"] for w in store.writes_of("other", "L1")] == ["done"]
    store.close()


def test_syncmap_toml_sets_the_retention_and_a_wrong_one_is_an_error(tmp_path):
    shutil.copytree(QUICKSTART, tmp_path / "project", ignore=shutil.ignore_patterns(".syncmap", "*.db"))
    project = tmp_path / "project"
    subprocess.run([sys.executable, "generate.py", "--records", "20", "--dir", "."], cwd=project, check=True)
    for wrong in ("0", "99999999999", '"90"'):  # too few, more than a date can reach, text
        (project / "syncmap.toml").write_text(f"journal_days = {wrong}\n")
        failed = run_syncmap("apply", "contacts.yaml", cwd=project)
        assert failed.returncode == 4 and "Traceback" not in failed.stderr, failed.stderr
        assert "`journal_days` must be a whole number of days from 1 to 36,500 (got " in failed.stderr

    (project / "syncmap.toml").write_text("journal_days = 1\n")
    assert run_syncmap("apply", "contacts.yaml", cwd=project).returncode == 0
    with sqlite3.connect(project / ".syncmap" / "state.db") as db:
        written = db.execute("SELECT COUNT(*) FROM journal_batches WHERE pending = 0").fetchone()[0]
        db.execute("UPDATE journal_batches SET created_at=?", (_days_ago(2),))
    assert written > 0
    assert run_syncmap("apply", "contacts.yaml", cwd=project).returncode == 0  # nothing to write
    with sqlite3.connect(project / ".syncmap" / "state.db") as db:
        assert db.execute("SELECT COUNT(*) FROM journal_batches").fetchone()[0] == 0

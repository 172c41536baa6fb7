"""Runs on the queue of a PostgreSQL state store: `syncmap enqueue` asks for a run, `syncmap
worker` runs it. A job never has more than one run waiting, a run asked for one plan is refused
by a worker that compiles another, and a project whose store is a file is told why it cannot
queue."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg
import requests

from engine.queue import STALLED_SECONDS
from engine.state import Lease, StateStore, now
from engine.webhook import signature
from tests.conftest import run_syncmap
from tests.runtime.conftest import fresh_state_database
from tests.runtime.test_crash import make_project
from tests.runtime.test_watch import Watching


def queued_project(tmp_path, postgres_server):
    mapping = make_project(tmp_path / "project", 40)
    (mapping.parent / "syncmap.toml").write_text(f'state = "{fresh_state_database(postgres_server)}"\n')
    return mapping


def test_a_queued_run_is_run_once_by_a_worker_however_often_it_was_asked_for(tmp_path, postgres_server):
    mapping = queued_project(tmp_path, postgres_server)
    folder = mapping.parent
    first = run_syncmap("enqueue", str(mapping), cwd=folder)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("quickstart: a run is queued")
    again = run_syncmap("enqueue", str(mapping), cwd=folder)
    assert again.stdout.startswith("quickstart: a run is already waiting"), again.stdout + again.stderr

    worked = run_syncmap("worker", "--once", cwd=folder, timeout=120)
    assert worked.returncode == 0, worked.stderr
    assert worked.stdout.count("quickstart: ran (") == 1, worked.stdout
    runs = json.loads(run_syncmap("runs", "quickstart", "--format", "json", cwd=folder).stdout)
    assert [run["status"] for run in runs] == ["done"]
    assert run_syncmap("plan", str(mapping), "--detailed-exitcode", cwd=folder).returncode == 0
    idle = run_syncmap("worker", "--once", cwd=folder, timeout=60)
    assert idle.returncode == 0 and "ran" not in idle.stdout, "the queue is empty"


def test_a_worker_refuses_a_run_asked_for_another_plan(tmp_path, postgres_server):
    mapping = queued_project(tmp_path, postgres_server)
    folder = mapping.parent
    assert run_syncmap("enqueue", str(mapping), cwd=folder).returncode == 0
    mapping.write_text(mapping.read_text().replace("create_as: Lead", "create_as: Contact"))
    worked = run_syncmap("worker", "--once", cwd=folder, timeout=120)
    assert worked.returncode == 0, worked.stderr
    assert "error: quickstart: " in worked.stderr and "; refused" in worked.stderr
    assert "Traceback" not in worked.stderr + worked.stdout
    history = run_syncmap("runs", "quickstart", cwd=folder)
    assert history.stderr.startswith("error: no runs of `quickstart`"), "nothing was run"


def test_a_project_whose_state_is_a_file_is_told_how_to_queue(tmp_path):
    mapping = make_project(tmp_path / "project", 5)
    refused = run_syncmap("enqueue", str(mapping), cwd=mapping.parent)
    assert refused.returncode == 64
    assert refused.stderr.startswith("error: runs are queued in a PostgreSQL state store")
    assert "--state postgresql://" in refused.stderr


def test_watch_on_a_database_store_schedules_runs_for_the_workers(tmp_path, postgres_server):
    """`syncmap watch` with a PostgreSQL store runs nothing itself: a run due goes on the queue,
    and a reload asks at once for a run of the new plan, which a worker then runs."""
    mapping = queued_project(tmp_path, postgres_server)
    folder = mapping.parent
    watching = Watching(folder, "--interval", "1h")
    try:
        first = watching.next("enqueued", timeout=60)
        assert first["said"].startswith("quickstart: a run is queued")
        assert run_syncmap("worker", "--once", cwd=folder, timeout=120).returncode == 0
        (job,) = json.loads(run_syncmap("status", "--format", "json", cwd=folder).stdout)
        due = datetime.fromisoformat(job["next_run"]) - datetime.now(UTC)
        assert job["status"] == "active" and timedelta(minutes=58) < due <= timedelta(hours=1), job
        mapping.write_text(mapping.read_text().replace("LeadSource: {value: SMS", "LeadSource: {value: Text"))
        reloaded = watching.next("reloaded", timeout=30)
        assert watching.next("enqueued", timeout=30)["plan"] == reloaded["new"] != first["plan"]
        assert run_syncmap("worker", "--once", cwd=folder, timeout=120).returncode == 0
        assert "started" not in {event["event"] for event in list(watching.events.queue)}, "watch ran nothing"
    finally:
        assert watching.stop() == 0
    runs = json.loads(run_syncmap("runs", "quickstart", "--format", "json", cwd=folder).stdout)
    assert [run["plan_hash"] for run in runs] == [first["plan"], reloaded["new"]]


def test_a_signed_webhook_to_the_scheduler_queues_a_run_for_the_workers(tmp_path, postgres_server, monkeypatch):
    mapping = queued_project(tmp_path, postgres_server)
    folder = mapping.parent
    monkeypatch.setenv("SYNCMAP_WEBHOOK_SECRET", "s3cret")
    watching = Watching(folder, "--interval", "1h", "--listen", "127.0.0.1:0")
    try:
        address = watching.next("listening")["address"]
        watching.next("enqueued", timeout=60)  # the first run, at start; the next would be in an hour
        assert run_syncmap("worker", "--once", cwd=folder, timeout=120).returncode == 0
        session = requests.Session()
        session.trust_env = False  # loopback: no proxy from the environment
        body = b'{"job": "quickstart"}'
        asked = session.post(f"http://{address}/", data=body, timeout=10,
                             headers={"X-Syncmap-Signature": signature("s3cret", body)})  # fmt: skip
        assert asked.status_code == 202
        assert watching.next("enqueued", timeout=30)["said"].startswith("quickstart: a run is queued")
        worked = run_syncmap("worker", "--once", cwd=folder, timeout=120)
        assert worked.stdout.count("quickstart: ran (") == 1, worked.stdout + worked.stderr
        assert "started" not in {event["event"] for event in list(watching.events.queue)}, "watch ran nothing"
    finally:
        assert watching.stop() == 0
    runs = json.loads(run_syncmap("runs", "quickstart", "--format", "json", cwd=folder).stdout)
    assert [run["status"] for run in runs] == ["done", "done"]


def test_workers_lists_the_live_workers_and_the_runs_waiting(tmp_path, postgres_server):
    mapping = queued_project(tmp_path, postgres_server)
    folder = mapping.parent
    assert "No worker is alive" in run_syncmap("workers", cwd=folder).stdout
    assert run_syncmap("enqueue", str(mapping), cwd=folder).returncode == 0
    listed = json.loads(run_syncmap("workers", "--format", "json", cwd=folder).stdout)
    assert listed["workers"] == [] and [w["job"] for w in listed["waiting"]] == ["quickstart"]

    running = subprocess.Popen(
        [sys.executable, "-m", "engine", "worker"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = json.loads(run_syncmap("workers", "--format", "json", cwd=folder).stdout)
            if listed["workers"] and not listed["waiting"]:
                break
            time.sleep(0.2)
        assert len(listed["workers"]) == 1 and listed["workers"][0]["heartbeat_seconds_ago"] < STALLED_SECONDS
    finally:
        running.send_signal(signal.SIGTERM)
        out, _ = running.communicate(timeout=60)
    assert running.returncode == 0 and "quickstart: ran (" in out
    status = run_syncmap("status", cwd=folder)
    assert "quickstart" in status.stdout and "running now" not in status.stdout, "the lease was given back"


def test_status_names_the_process_running_a_job(tmp_path):
    """A job under way says who runs it, from the lease (on any store)."""
    mapping = make_project(tmp_path / "project", 5)
    folder = mapping.parent
    assert run_syncmap("apply", str(mapping), cwd=folder).returncode == 0
    store = StateStore(folder / ".syncmap" / "state.db")
    with store.transaction():
        store.take_lease(Lease("quickstart", "w1", "worker", "app-2", 4242, "2026-12-04T17:00:00+00:00", now()))
    store.close()
    shown = run_syncmap("status", cwd=folder).stdout
    assert "running now: `syncmap worker` (pid 4242 on app-2) since 2026-12-04T17:00:00+00:00" in shown


def test_a_worker_whose_connections_the_server_dropped_reconnects_and_goes_on(tmp_path, postgres_server):
    """Every connection of the store's database cut by the server (as a restart does): the
    waiting worker connects again, and runs what is asked of it next."""
    mapping = queued_project(tmp_path, postgres_server)
    folder = mapping.parent
    waiting = subprocess.Popen(
        [sys.executable, "-m", "engine", "worker"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not json.loads(run_syncmap("workers", "--format", "json", cwd=folder).stdout)["workers"]:
            assert time.monotonic() < deadline and waiting.poll() is None, "the worker did not start"
            time.sleep(0.2)
        with psycopg.connect(postgres_server, autocommit=True) as connection:
            cut = connection.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]
        assert cut >= 1
        assert run_syncmap("enqueue", str(mapping), cwd=folder).returncode == 0
        deadline = time.monotonic() + 60
        while run_syncmap("plan", str(mapping), "--detailed-exitcode", cwd=folder).returncode != 0:
            assert time.monotonic() < deadline and waiting.poll() is None, "the run did not happen"
            time.sleep(0.5)
    finally:
        waiting.send_signal(signal.SIGTERM)
        out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert "quickstart: ran (" in out and "Traceback" not in err

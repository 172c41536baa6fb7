"""`syncmap watch` as a long-running subprocess over a temporary project: reloads, bad edits,
and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from engine.webhook import signature
from tests.conftest import run_syncmap
from tests.runtime.test_crash import crm_rows, make_project, platform_rows


class Watching:
    """A running `syncmap watch` and its JSON log events."""

    def __init__(self, folder: Path, *options: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine", "watch", ".", "--log-format", "json", *(options or ("--interval", "1s"))],
            cwd=folder, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.events: queue.Queue[dict] = queue.Queue()
        self.other_lines: list[str] = []  # what is not a JSON event (a traceback would be)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.other_lines.append(line)

    def stderr_so_far(self) -> str:
        return "".join(self.other_lines)

    def next(self, event: str, timeout: float = 15.0, **wanted) -> dict:
        """The next event of this kind (with these values), failing after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = self.events.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if found["event"] == event and all(found.get(k) == v for k, v in wanted.items()):
                return found
        raise AssertionError(f"no `{event}` event {wanted} within {timeout} s")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def lead_sources(folder: Path) -> set[str]:
    with sqlite3.connect(folder / "crm.db") as db:
        rows = db.execute("SELECT json_extract(data, '$.LeadSource') FROM Lead WHERE deleted = 0").fetchall()
    return {source for (source,) in rows if source}


def add_platform_contact(folder: Path, number: int) -> None:
    from engine.connectors.sqlite import SqliteConnector

    with SqliteConnector({"path": "platform.db"}, folder) as store:
        store.seed("contacts", [{"id": f"new{number}", "first_name": "Zoe", "phone": f"628555{number:04d}"}])


def test_watch_reloads_keeps_the_old_plan_on_errors_and_stops_cleanly(tmp_path):
    mapping = make_project(tmp_path / "project", 40)
    folder = mapping.parent
    watching = Watching(folder)
    try:
        assert watching.next("progress")["written"] > 0  # the initial sync reports its progress
        first = watching.next("run")
        assert first["counts"]["create"] > 0 and lead_sources(folder) == {"SMS platform"}
        assert (first["job"], first["run"]) == ("quickstart", 1) and first["seconds"] >= 0

        mapping.write_text(mapping.read_text().replace("value: SMS platform", "value: SMS app"))
        reloaded = watching.next("reloaded")
        assert reloaded["old"] == first["plan"] and reloaded["new"] != first["plan"]
        add_platform_contact(folder, 1)
        watching.next("run", plan=reloaded["new"])
        assert lead_sources(folder) == {"SMS platform", "SMS app"}, "the new plan was not applied"

        good = mapping.read_text()
        mapping.write_text(good.replace("direction: both", "direction: bothways"))
        invalid = watching.next("invalid")
        assert "`bothways` is not allowed" in invalid["errors"] and invalid["keeps"] == reloaded["new"]
        watching.next("run", plan=reloaded["new"])  # the old plan keeps running

        mapping.write_text(good.replace("value: SMS app", "value: SMS again"))
        fixed = watching.next("reloaded")
        add_platform_contact(folder, 2)
        watching.next("run", plan=fixed["new"])
        assert "SMS again" in lead_sources(folder)
    finally:
        code = watching.stop()
    assert code == 0


def assert_no_run(watching: Watching) -> None:
    """No run starts any more (one already under way when the command came may still finish)."""
    time.sleep(0.5)
    while not watching.events.empty():
        watching.events.get()
    with pytest.raises(AssertionError, match="no `run` event"):
        watching.next("run", timeout=2.5)


def test_status_pause_resume_and_delete_from_another_process_while_watch_runs(tmp_path):
    mapping = make_project(tmp_path / "project", 20)
    folder = mapping.parent
    watching = Watching(folder)
    try:
        watching.next("run")
        (job,) = json.loads(run_syncmap("status", "--format", "json", cwd=folder).stdout)
        assert (job["job"], job["status"]) == ("quickstart", "active")
        assert run_syncmap("pause", "quickstart", cwd=folder).returncode == 0
        assert_no_run(watching)
        assert run_syncmap("resume", "quickstart", cwd=folder).returncode == 0
        watching.next("run")
        # a run may be in progress (one a second): delete waits for it, and no new run starts meanwhile
        deleted = run_syncmap("delete", str(mapping), "--yes", "--wait", "30", cwd=folder)
        assert deleted.returncode == 0, deleted.stderr
        assert_no_run(watching)  # a deleted job stops
        assert (
            json.loads(run_syncmap("status", "--format", "json", cwd=folder).stdout)[0]["status"] == "deleted"
        )
    finally:
        assert watching.stop() == 0


def test_a_signed_webhook_runs_its_job_and_anything_else_is_refused(tmp_path, monkeypatch):
    mapping = make_project(tmp_path / "project", 20)
    folder = mapping.parent
    monkeypatch.setenv("SYNCMAP_WEBHOOK_SECRET", "s3cret")
    watching = Watching(folder, "--interval", "1h", "--listen", "127.0.0.1:0")
    try:
        address = watching.next("listening")["address"]
        watching.next("run")  # the first run, at start; the next would be in an hour
        url = f"http://{address}/"
        session = requests.Session()
        session.trust_env = False  # loopback: no proxy from the environment

        def post(body: bytes, signed_with: str | None = "s3cret", header: str | None = None) -> int:
            value = header or (signature(signed_with, body) if signed_with else None)
            headers = {"X-Syncmap-Signature": value} if value else {}
            return session.post(url, data=body, headers=headers, timeout=10).status_code

        def raw(head: str, body: bytes = b"") -> int:
            """A request as a hostile client sends it, headers and all."""
            host, port = address.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=10) as connection:
                connection.sendall(head.encode() + b"\r\n\r\n" + body)
                return int(connection.recv(1024).split()[1])

        signed = signature("s3cret", b'{"job": "nosuchjob"}')
        assert post(b'{"job": "quickstart"}', signed_with=None) == 401
        assert post(b'{"job": "quickstart"}', signed_with="guess") == 401
        assert post(b"x" * 70_000) == 413
        assert post(b"{not json") == 400
        assert post(b'{"job": "nosuchjob"}', header=signed) == 404
        assert post(b'{"job": "nosuchjob"}', header=signed) == 401, "a replay is refused"
        stale = signature("s3cret", b'{"job": "quickstart"}', int(time.time()) - 600)
        assert post(b'{"job": "quickstart"}', header=stale) == 401
        assert post(b'{"job": "quickstart"}', header="sha256=" + "0" * 64) == 401, "the old scheme"
        assert post(b"[" * 30_000 + b"]" * 30_000) == 400, "nesting is bounded before parsing"
        big = b"x" * 10_000_000
        length_of = f"POST / HTTP/1.1\r\nHost: x\r\nX-Syncmap-Signature: {signature('s3cret', big)}"
        assert raw(length_of + "\r\nContent-Length: -1", big[:1000]) == 400
        assert raw(length_of) == 411
        assert raw("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000", b"x" * 1000) == 401
        refused = [watching.next("webhook")["status"] for _ in range(12)]
        assert refused == [401, 401, 413, 400, 404, 401, 401, 401, 400, 400, 411, 401]
        assert "Traceback" not in watching.stderr_so_far()

        add_platform_contact(folder, 3)
        assert post(b'{"job": "quickstart", "records": ["new3"]}') == 202
        ran = watching.next("run", timeout=10)
        assert ran["counts"]["create"] == 1, "the webhook did not run the job"
    finally:
        assert watching.stop() == 0


def test_sigterm_during_a_run_lets_it_finish_and_loses_nothing(tmp_path):
    mapping = make_project(tmp_path / "project", 1500)
    folder = mapping.parent
    watching = Watching(folder)
    watching.next("started")
    watching.process.send_signal(signal.SIGTERM)
    finished = watching.next("run", timeout=60)
    watching.next("stopped", timeout=60)
    assert watching.process.wait(timeout=30) == 0
    assert finished["counts"]["create"] > 0 and finished["failed"] == 0
    again = run_syncmap("plan", str(mapping), "--detailed-exitcode", cwd=folder)
    assert again.returncode == 0, "the interrupted watch left changes behind:\n" + again.stdout


def test_a_second_sigint_exits_at_once_and_the_next_run_converges(tmp_path):
    reference = make_project(tmp_path / "reference", 3000)
    assert run_syncmap("apply", str(reference)).returncode == 0
    mapping = make_project(tmp_path / "project", 3000)
    folder = mapping.parent
    watching = Watching(folder)
    watching.next("progress", timeout=60)  # in the middle of the run
    watching.process.send_signal(signal.SIGINT)
    watching.next("progress")  # the first signal was heard: the run goes on
    watching.process.send_signal(signal.SIGINT)
    assert watching.process.wait(timeout=30) == 130, "the second signal does not wait for the run"

    resumed = run_syncmap("apply", str(mapping), cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    assert crm_rows(folder) == crm_rows(reference.parent), "nothing lost, nothing created twice"
    assert platform_rows(folder) == platform_rows(reference.parent)


BASE = """\
syncmap: 1
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  crm: {connector: sqlite, settings: {path: crm.db}}
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: crm, object: Contact}
    match: [{source: email, target: Email, normalize: email}]
    fields:
      Email: email
"""


def test_a_template_change_reloads_exactly_the_documents_using_it_and_saves_are_debounced(tmp_path):
    folder = tmp_path / "project"
    (folder / "templates").mkdir(parents=True)
    (folder / "syncmap.toml").write_text("")
    (folder / "templates" / "base.yaml").write_text(BASE)
    for name in ("a", "b"):
        (folder / f"{name}.yaml").write_text(f"syncmap: 1\nextends: templates/base.yaml\nname: {name}\n")
    (folder / "c.yaml").write_text(BASE + "name: c\n")
    watching = Watching(folder, "--interval", "1h")
    try:
        for _ in range(3):
            watching.next("run")
        (folder / "templates" / "base.yaml").write_text(
            BASE.replace("Email: email", "Email: email\n      FirstName: first")
        )
        reloaded = {watching.next("reloaded")["job"], watching.next("reloaded")["job"]}
        assert reloaded == {"a", "b"}
        with pytest.raises(AssertionError):  # c does not use the template, which is no job itself
            watching.next("reloaded", timeout=1.0)

        saved = folder / ".c.yaml.tmp"  # an editor saving through a temporary file and a rename
        saved.write_text(
            BASE.replace("Email: email", "Email: {source: email, transform: 'lower(@)'}") + "name: c\n"
        )
        os.replace(saved, folder / "c.yaml")
        assert watching.next("reloaded")["job"] == "c"

        for n in range(5):  # a burst of saves is one reload
            (folder / "c.yaml").write_text(
                BASE.replace("Email: email", f"Email: email\n      Title: title{n}") + "name: c\n"
            )
        watching.next("reloaded", job="c")
        with pytest.raises(AssertionError):
            watching.next("reloaded", timeout=1.0)
    finally:
        assert watching.stop() == 0

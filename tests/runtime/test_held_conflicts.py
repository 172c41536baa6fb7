"""A held conflict stays until it is resolved: the run that finds it reports it, every later
plan and `syncmap status` still show it, and once the records agree it is linked and gone."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from engine.connectors import Write
from engine.connectors.sqlite import SqliteConnector
from tests.conftest import run_syncmap, write_project

DOCUMENT = """\
syncmap: 2
name: held-job
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  crm: {connector: sqlite, settings: {path: crm.db}}
objects:
  people:
    source: {connection: platform, object: contacts}
    target: {connection: crm, object: Lead}
    direction: both
    match: [{source: email, target: [Email], normalize: email}]
    fields: {LastName: name, Email: email}
    conflicts: {first_match: hold}
"""


def _store(root: Path, name: str) -> SqliteConnector:
    return SqliteConnector({"path": name}, root)


def _write(root: Path, name: str, record_type: str, write: Write) -> None:
    store = _store(root, name)
    assert store.write(record_type, [write])[0].ok
    store.close()


def _conflicts(root: Path) -> list[tuple[str, str]]:
    planned = run_syncmap("plan", "job.yaml", "--format", "json", cwd=root)
    assert planned.returncode in (0, 2), planned.stderr
    changes = [c for step in json.loads(planned.stdout)["steps"] for c in step["changes"]]
    return [(c["record_id"], c["code"]) for c in changes if c["action"] == "conflict"]


def test_a_held_conflict_stays_in_every_plan_and_in_status_until_resolved(tmp_path):
    root = write_project(tmp_path / "project", {"job.yaml": textwrap.dedent(DOCUMENT)})
    _write(
        root,
        "platform.db",
        "contacts",
        Write("a", "create", "contacts", "p1", {"name": "Ada", "email": "ada@x.org"}),
    )
    _write(
        root,
        "crm.db",
        "Lead",
        Write("l", "create", "Lead", "l1", {"LastName": "Ada L.", "Email": "ada@x.org"}),
    )

    applied = run_syncmap("apply", "job.yaml", "--format", "json", cwd=root)
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["counts"]["conflict"] == 1
    for _ in range(2):  # nothing changed: the conflict is still there, run after run
        assert _conflicts(root) == [("p1", "values_differ")]
        assert run_syncmap("apply", "job.yaml", cwd=root).returncode == 0
    status = run_syncmap("status", "--format", "json", cwd=root)
    assert [job["held"] for job in json.loads(status.stdout)] == [1]
    assert "1 held for a person" in run_syncmap("status", cwd=root).stdout

    # a person makes the records agree: the next run links them, and nothing is held any more
    _write(root, "crm.db", "Lead", Write("u", "update", "Lead", "l1", {"LastName": "Ada"}))
    assert _conflicts(root) == []
    assert run_syncmap("apply", "job.yaml", cwd=root).returncode == 0
    assert [
        job["held"] for job in json.loads(run_syncmap("status", "--format", "json", cwd=root).stdout)
    ] == [0]
    settled = run_syncmap("plan", "job.yaml", "--detailed-exitcode", cwd=root)
    assert settled.returncode == 0, settled.stdout

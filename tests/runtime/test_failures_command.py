"""`syncmap failures`: the records whose write failed, in text and JSON, each run trying them again
until `--forget` stops it."""

from __future__ import annotations

import json
from pathlib import Path

from engine.connectors.sqlite import SqliteConnector
from tests.conftest import run_syncmap, write_project

DOCUMENT = """\
syncmap: 2
name: readonly-crm
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  crm: {connector: jsonl, settings: {path: crm}}
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: crm, object: Lead}
    direction: to_target
    match: [{source: email, target: Email, normalize: email}]
    fields:
      LastName: name
      Email: email
"""


def project(folder: Path) -> Path:
    """A job writing to a read-only CRM (jsonl fixtures): every create fails."""
    root = write_project(folder, {"job.yaml": DOCUMENT, "crm/Lead.jsonl": ""})
    with SqliteConnector({"path": "platform.db"}, root) as platform:
        platform.seed(
            "contacts", [{"id": f"p{i}", "name": f"P{i}", "email": f"p{i}@x.org"} for i in range(2)]
        )
    return root


def test_failures_lists_each_failed_record_and_forget_stops_the_retries(tmp_path):
    root = project(tmp_path)
    for _ in range(2):
        assert run_syncmap("apply", "job.yaml", cwd=root).returncode == 1  # records failed
    listed = json.loads(run_syncmap("failures", "--format", "json", cwd=root).stdout)
    assert [
        (f["job"], f["side"], f["record_id"], f["op"], f["record_type"], f["attempts"]) for f in listed
    ] == [
        ("readonly-crm", "source", "p0", "create", "Lead", 2),
        ("readonly-crm", "source", "p1", "create", "Lead", 2),
    ]
    assert all("read-only" in f["error"] and f["first_seen"] <= f["last_seen"] for f in listed)
    text = run_syncmap("failures", "readonly-crm", cwd=root).stdout
    assert "readonly-crm/contacts  source p0: create Lead failed 2x\n" in text and "    failing since " in text and "read-only" in text

    story = json.loads(run_syncmap("explain", "readonly-crm", "p0", "--format", "json", cwd=root).stdout)
    assert [(w["run_id"], w["op"], w["state"]) for w in story["writes"]] == [
        (1, "create", "failed"),
        (2, "create", "failed"),
    ]
    assert story["failed"][0]["attempts"] == 2 and story["links"] == []
    unknown = run_syncmap("explain", "readonly-crm", "p9", cwd=root)
    assert unknown.returncode == 64 and "readonly-crm knows nothing of `p9`" in unknown.stderr
    forgot = run_syncmap("failures", "readonly-crm", "--forget", cwd=root)
    assert forgot.returncode == 0 and forgot.stdout.startswith("2 failed records of readonly-crm forgotten")
    assert run_syncmap("failures", cwd=root).stdout == "No failed records.\n"
    nothing_new = run_syncmap("plan", "job.yaml", "--format", "json", cwd=root)
    assert json.loads(nothing_new.stdout)["counts"]["create"] == 0, "forgotten records are not tried again"


def test_failures_of_an_unknown_job_and_forget_without_one_are_usage_errors(tmp_path):
    root = project(tmp_path)
    run_syncmap("apply", "job.yaml", cwd=root)
    unknown = run_syncmap("failures", "readonly-crn", cwd=root)
    assert unknown.returncode == 64 and "did you mean `readonly-crm`?" in unknown.stderr
    assert run_syncmap("failures", "--forget", cwd=root).returncode == 64

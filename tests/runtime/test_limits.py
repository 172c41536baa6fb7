"""Limits that stop a bad run: an object's writes over its `limits` (a number, or a percentage of
the records the written side holds) are refused before any is made, with the numbers and exit 7;
`--allow-over-limits` writes anyway; deletes have a default limit."""

from __future__ import annotations

import json

from engine.connectors import Write
from engine.connectors.sqlite import SqliteConnector
from tests.conftest import run_syncmap, write_project

DOCUMENT = """\
syncmap: 2
name: limited
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  crm: {connector: sqlite, settings: {path: crm.db}}
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


def project(folder, document: str, people: int):
    root = write_project(folder, {"job.yaml": document})
    with SqliteConnector({"path": "platform.db"}, root) as platform:
        platform.seed(
            "contacts", [{"id": f"p{i}", "name": f"P{i}", "email": f"p{i}@x.org"} for i in range(people)]
        )
    SqliteConnector({"path": "crm.db"}, root).close()
    return root


def leads(root) -> int:
    with SqliteConnector({"path": "crm.db"}, root) as crm:
        return len(list(crm.read("Lead")))


def test_creates_over_the_limit_are_refused_before_any_is_written(tmp_path):
    root = project(tmp_path, DOCUMENT + "limits: {creates: 2}\n", 3)
    refused = run_syncmap("apply", "job.yaml", cwd=root)
    assert refused.returncode == 7, refused.stderr
    assert (
        "`contacts` would create 3 records in crm, over its limit of 2: nothing of it was written"
        in refused.stderr
    )
    assert "--allow-over-limits" in refused.stderr and "Traceback" not in refused.stderr
    assert leads(root) == 0
    status = json.loads(run_syncmap("status", "--format", "json", cwd=root).stdout)[0]
    assert status["status"] == "errors" and "over its limit" in status["last_error"]
    allowed = run_syncmap("apply", "job.yaml", "--allow-over-limits", cwd=root)
    assert allowed.returncode == 0, allowed.stderr
    assert leads(root) == 3


def test_an_objects_percentage_limit_counts_the_records_its_side_holds(tmp_path):
    document = DOCUMENT.replace(
        "    direction: to_target\n", "    direction: to_target\n    limits: {updates: 20%}\n"
    )
    root = project(tmp_path, document + "limits: {updates: 90%}\n", 10)
    assert run_syncmap("apply", "job.yaml", cwd=root).returncode == 0  # ten creates: no create limit
    with SqliteConnector({"path": "platform.db"}, root) as platform:  # three of ten renamed: 30%
        platform.seed(
            "contacts", [{"id": f"p{i}", "name": f"Renamed {i}", "email": f"p{i}@x.org"} for i in range(3)]
        )
    refused = run_syncmap("apply", "job.yaml", cwd=root)
    assert refused.returncode == 7
    assert "would update 3 records in crm of the 10 it holds, over its limit of 20%" in refused.stderr


def test_deletes_have_a_default_limit(tmp_path):
    document = DOCUMENT.replace("direction: to_target", "direction: to_target\n    deletes: propagate")
    root = project(tmp_path, document, 30)
    assert run_syncmap("apply", "job.yaml", cwd=root).returncode == 0
    with SqliteConnector({"path": "platform.db"}, root) as platform:  # a wrong clean-up upstream, say
        platform.write("contacts", [Write(f"d{i}", "delete", "contacts", f"p{i}") for i in range(12)])
    refused = run_syncmap("apply", "job.yaml", cwd=root)
    assert refused.returncode == 7, refused.stdout + refused.stderr
    assert (
        "would delete 12 records in crm of the 30 it holds, over its limit of 10% (the default)"
        in refused.stderr
    )
    assert leads(root) == 30

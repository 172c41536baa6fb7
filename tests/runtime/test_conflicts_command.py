"""`syncmap conflicts`: every record held for a person to decide, with its reason code, why and
since when, in text and JSON, from the state store as the last run left it."""

from __future__ import annotations

import json

from engine.connectors.sqlite import SqliteConnector
from tests.conftest import run_syncmap, write_project

DOCUMENT = """\
syncmap: 2
name: shared-phones
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  crm: {connector: sqlite, settings: {path: crm.db}}
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: crm, object: Lead}
    direction: to_target
    match: [{source: phone, target: MobilePhone, normalize: phone}]
    fields:
      LastName: name
      MobilePhone: {source: phone, transform: "phone_e164(@)"}
"""


def test_conflicts_lists_each_held_record_with_its_reason(tmp_path):
    root = write_project(tmp_path, {"job.yaml": DOCUMENT})
    with SqliteConnector({"path": "platform.db"}, root) as platform:
        platform.seed("contacts", [  # one person twice: the first syncs, the second is held
            {"id": "p1", "name": "Ana", "phone": "(415) 555-0100", "updated_at": "2026-01-01T00:00:00Z"},
            {"id": "p2", "name": "Ana", "phone": "+1 415 555 0100", "updated_at": "2026-01-02T00:00:00Z"},
        ])  # fmt: skip
    SqliteConnector({"path": "crm.db"}, root).close()
    assert run_syncmap("conflicts", cwd=root).stdout == "No conflicts.\n"
    assert run_syncmap("apply", "job.yaml", cwd=root).returncode == 0
    (held,) = json.loads(run_syncmap("conflicts", "--format", "json", cwd=root).stdout)
    assert (held["job"], held["step"], held["side"], held["record_type"], held["record_id"], held["code"]) == (
        "shared-phones", "contacts", "source", "contacts", "p2", "duplicate_source_key",
    )  # fmt: skip
    assert "is shared by contacts p1, contacts p2" in held["reason"] and held["since"]
    text = run_syncmap("conflicts", "shared-phones", cwd=root).stdout
    assert text.startswith("shared-phones/contacts  source contacts p2  [duplicate_source_key]\n")
    assert f"    held since {held['since']}\n" in text
    unknown = run_syncmap("conflicts", "shared-phone", cwd=root)
    assert unknown.returncode == 64 and "did you mean `shared-phones`?" in unknown.stderr

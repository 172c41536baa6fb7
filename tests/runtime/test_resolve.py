"""`syncmap resolve`: a person decides on a held record, the next run does it and its history
counts it, and a decision can be undone; end to end against a local Salesforce org (`sandbox:`)
through the real client: an ambiguous match resolved by linking, undone, then by creating."""

from __future__ import annotations

import json
from pathlib import Path

from engine.connectors.sqlite import SqliteConnector
from engine.sandbox import Sandbox
from tests.conftest import run_syncmap, write_project

DOCUMENT = """\
syncmap: 2
name: people
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  salesforce: {connector: salesforce, settings: {sandbox: org.db}}
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: salesforce, object: Lead}
    direction: to_target
    match: [{source: phone, target: Phone, normalize: phone}]
    fields:
      LastName: name
      Phone: {source: phone, transform: "phone_e164(@)"}
      Company: {value: Acme, create_only: true}
    conflicts: {ambiguous: hold}
"""


def project(folder: Path) -> tuple[Path, list[str]]:
    """Ana on the platform; two Leads in the org with her phone: her match is ambiguous."""
    root = write_project(folder, {"job.yaml": DOCUMENT})
    with SqliteConnector({"path": "platform.db"}, root) as platform:
        platform.seed("contacts", [{"id": "p1", "name": "Ana", "phone": "(415) 555-0100"}])
    twins = [
        {"attributes": {"type": "Lead"}, "LastName": f"Ana {n}", "Company": "Acme", "Phone": "4155550100"}
        for n in (1, 2)
    ]
    with Sandbox(db_path=root / "org.db", seed=twins) as org:
        leads = [r["Id"] for r in org.client().query("SELECT Id FROM Lead ORDER BY LastName")["records"]]
    return root, leads


def syncmap_json(root: Path, *args: str):
    result = run_syncmap(*args, "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def lead_count(root: Path) -> int:
    with Sandbox(db_path=root / "org.db") as org:
        return org.client().query("SELECT COUNT() FROM Lead")["totalSize"]


def test_a_held_match_is_resolved_by_linking_undone_then_resolved_by_creating(tmp_path):
    root, (first, second) = project(tmp_path)
    assert run_syncmap("apply", "job.yaml", cwd=root).returncode == 0
    (held,) = syncmap_json(root, "conflicts", "people")
    assert (held["record_id"], held["code"]) == ("p1", "ambiguous_key")
    assert held["candidates"] == [f"Lead {first}", f"Lead {second}"]
    (seen,) = syncmap_json(root, "conflicts", "job.yaml")  # its document: the values, read from both sides
    assert seen["values"]["name"] == "Ana"
    assert [seen["candidate_values"][c]["LastName"] for c in held["candidates"]] == ["Ana 1", "Ana 2"]
    shown = run_syncmap("conflicts", "job.yaml", cwd=root).stdout
    assert f'    candidate Lead {first}: Phone "4155550100", Company "Acme", LastName "Ana 1"\n' in shown
    assert "IsDeleted" not in shown and "IsDeleted" not in seen["candidate_values"][held["candidates"][0]]

    said = run_syncmap("resolve", "people", "p1", "--link", f"Lead {first}", cwd=root)
    assert said.returncode == 0 and said.stdout == f"the next run links contacts p1 to Lead {first}.\n"
    report = syncmap_json(root, "apply", "job.yaml")
    links = [c for step in report["steps"] for c in step["changes"] if c["action"] == "link"]
    assert [(c["record_id"], c["reason"]) for c in links] == [(first, "linked by a person")]
    assert report["applied"]["decided"] == 1 and lead_count(root) == 2
    assert syncmap_json(root, "runs", "people")[-1]["counts"]["decided"] == 1  # the run history says so
    assert "p1" not in [hold["record_id"] for hold in syncmap_json(root, "conflicts", "people")]

    story = syncmap_json(root, "explain", "people", "p1")  # the record's story, as the store knows it
    ((link,), (decision,)) = story["links"], story["decisions"]
    assert (link["target"], link["made_by"], link["agreed"]["LastName"]) == (f"Lead {first}", "person", "Ana")
    assert (decision["decision"], decision["applied_run"]) == (
        "link",
        syncmap_json(root, "runs", "people")[-1]["id"],
    )
    text = run_syncmap("explain", "people", first, cwd=root).stdout
    assert text.startswith(f"{first} in people\n  contacts: contacts p1 <-> Lead {first}  (linked by person)")
    undone = syncmap_json(root, "resolve", "people", "p1", "--undo")
    assert undone["unlinked"] is True
    again = syncmap_json(root, "plan", "job.yaml", "--full")
    assert again["counts"]["conflict"] >= 1 and again["counts"]["link"] == 0  # held again, decided afresh
    assert run_syncmap("apply", "job.yaml", "--full", cwd=root).returncode == 0

    assert run_syncmap("resolve", "people", "p1", "--create", cwd=root).returncode == 0
    created = syncmap_json(root, "apply", "job.yaml")
    assert created["applied"]["create"] == 1 and lead_count(root) == 3


def test_resolve_refuses_what_it_cannot_decide(tmp_path):
    root, _ = project(tmp_path)
    assert run_syncmap("apply", "job.yaml", cwd=root).returncode == 0
    nothing = run_syncmap("resolve", "people", "p9", "--ignore", cwd=root)
    assert nothing.returncode == 64 and "people holds no record `p9`" in nothing.stderr
    two = run_syncmap("resolve", "people", "p1", "--ignore", "--link", "x", cwd=root)
    assert two.returncode == 64 and "say one decision" in two.stderr
    assert run_syncmap("resolve", "people", "p1", "--undo", cwd=root).returncode == 64  # no decision yet
    assert run_syncmap("resolve", "people", "p1", "--ignore", cwd=root).returncode == 0
    report = syncmap_json(root, "apply", "job.yaml", "--full")
    skipped = [c for step in report["steps"] for c in step["changes"] if c["action"] == "skip"]
    assert [(c["record_id"], c["code"]) for c in skipped] == [("p1", "ignored")]

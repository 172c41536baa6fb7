"""Match keys read wrong never make duplicates silently: a record whose keys are present but
none is valid is skipped with `invalid_key` (or created, when the document says so), and a step
matching few of many records says so in the plan and the apply report."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from engine.connectors import Write
from engine.connectors.sqlite import SqliteConnector
from tests.conftest import run_syncmap, write_project

DOCUMENT = """\
syncmap: 2
name: keys-job
defaults: {{phone_region: {region}}}
connections:
  platform: {{connector: sqlite, settings: {{path: platform.db}}}}
  crm: {{connector: sqlite, settings: {{path: crm.db}}}}
objects:
  people:
    source: {{connection: platform, object: contacts}}
    target: {{connection: crm, object: Lead}}
    direction: both
    match: [{{source: {key}, target: [{target_key}], normalize: {normalize}}}]
    fields: {{LastName: name, Email: email, MobilePhone: phone}}
    conflicts: {{first_match: keep_target{invalid}}}
"""
COUNT = 60


def _project(tmp_path: Path, platform: list[dict], crm: list[dict], **document) -> Path:
    settings = {
        "region": "GB",
        "key": "phone",
        "target_key": "MobilePhone",
        "normalize": "phone",
        "invalid": "",
    }
    root = write_project(
        tmp_path / "project", {"job.yaml": textwrap.dedent(DOCUMENT.format(**settings | document))}
    )
    for name, record_type, records in (("platform.db", "contacts", platform), ("crm.db", "Lead", crm)):
        store = SqliteConnector({"path": name}, root)
        writes = [
            Write(str(i), "create", record_type, f"{record_type[0]}{i}", values)
            for i, values in enumerate(records)
        ]
        assert all(result.ok for result in store.write(record_type, writes))
        store.close()
    return root


def _uk_people() -> tuple[list[dict], list[dict]]:
    """The same people on both sides: national UK numbers on the platform, E.164 in the CRM."""
    numbers = [f"7911 123{i:03d}" for i in range(COUNT)]
    platform = [{"name": f"P{i}", "email": f"p{i}@x.org", "phone": f"0{n}"} for i, n in enumerate(numbers)]
    crm = [{"LastName": f"P{i}", "Email": f"p{i}@x.org", "MobilePhone": f"+44{n.replace(' ', '')}"}
           for i, n in enumerate(numbers)]  # fmt: skip
    return platform, crm


def _plan(root: Path) -> dict:
    planned = run_syncmap("plan", "job.yaml", "--format", "json", cwd=root)
    assert planned.returncode in (0, 2), planned.stderr
    return json.loads(planned.stdout)


def test_numbers_the_region_cannot_read_are_skipped_not_created_and_the_plan_warns(tmp_path):
    root = _project(tmp_path, *_uk_people(), region="US")
    preview = _plan(root)
    assert preview["reasons"] == {"invalid_key": COUNT}
    # the CRM's numbers, in E.164, read in any region: matching none of the platform's, they
    # would be created there, and the plan says the keys look wrong
    assert preview["counts"]["create"] == COUNT
    assert preview["steps"][0]["warnings"] == [
        f"0 of {COUNT} Lead records matched against {COUNT} contacts records: check the match keys and phone_region"
    ]
    reason = next(c["reason"] for c in preview["steps"][0]["changes"] if c.get("record_id") == "c0")
    assert (
        reason
        == "its match key holds `07911 123000`, no valid phone (phone_region US): not matched, not created"
    )
    text = run_syncmap("plan", "job.yaml", cwd=root)
    assert "invalid_key" not in text.stdout and "no valid phone (phone_region US)" in text.stdout


def test_the_right_region_matches_them_all(tmp_path):
    root = _project(tmp_path, *_uk_people(), region="GB")
    preview = _plan(root)
    assert preview["counts"]["link"] == COUNT and preview["counts"]["create"] == 0
    assert "warnings" not in preview["steps"][0]


@pytest.mark.parametrize("invalid", ["create"])
def test_invalid_key_create_keeps_creating_them(tmp_path, invalid):
    root = _project(tmp_path, *_uk_people(), region="US", invalid=f", invalid_key: {invalid}")
    preview = _plan(root)
    assert preview["counts"]["create"] == 2 * COUNT and preview["reasons"] == {}


def test_a_step_matching_few_of_many_records_warns_in_plan_and_apply(tmp_path):
    platform = [{"name": f"P{i}", "email": f"p{i}@x.org"} for i in range(COUNT)]
    crm = [{"LastName": f"C{i}", "Email": f"c{i}@x.org"} for i in range(COUNT)]
    root = _project(tmp_path, platform, crm, key="email", target_key="Email", normalize="email")
    warning = f"0 of {COUNT} contacts records matched against {COUNT} Lead records: check the match keys"
    back = f"0 of {COUNT} Lead records matched against {COUNT} contacts records: check the match keys"
    assert _plan(root)["steps"][0]["warnings"] == [warning, back]
    assert f"warning: {warning}" in run_syncmap("plan", "job.yaml", cwd=root).stdout
    applied = run_syncmap("apply", "job.yaml", cwd=root)
    assert applied.returncode == 0, applied.stderr
    assert f"warning: people: {warning}" in applied.stdout


def test_records_matched_from_the_source_side_count_for_the_target_side_too(tmp_path):
    platform = [{"name": f"P{i}", "email": f"p{i}@x.org"} for i in range(COUNT)]
    crm = [{"LastName": f"P{i}", "Email": f"p{i}@x.org"} for i in range(COUNT)]
    crm += [{"LastName": f"C{i}", "Email": f"c{i}@x.org"} for i in range(COUNT)]  # the CRM's own
    root = _project(tmp_path, platform, crm, key="email", target_key="Email", normalize="email")
    preview = _plan(root)
    assert preview["counts"]["link"] == COUNT and preview["counts"]["create"] == COUNT
    assert "warnings" not in preview["steps"][0]

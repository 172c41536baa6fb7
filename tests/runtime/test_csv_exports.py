"""A CSV export as people make them: columns named with spaces ("First Name", "Email Address")
are named in the document as JMESPath quotes them, and values flowing back are written into those
columns in place, never into new ones."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

from engine.connectors import Write
from engine.connectors.sqlite import SqliteConnector
from tests.conftest import run_syncmap, write_project

DOCUMENT = """\
syncmap: 2
name: export-crm
connections:
  export: {connector: csv, settings: {path: .}}
  crm: {connector: sqlite, settings: {path: crm.db}}
objects:
  people:
    source: {connection: export, object: newsletter, modified: Last Changed}
    target: {connection: crm, object: Lead}
    direction: both
    match: [{source: '"Email Address"', target: [Email], normalize: email}]
    fields:
      FirstName: '"First Name"'
      Email: '"Email Address"'
"""


def _rows(root: Path) -> list[dict[str, str]]:
    with (root / "newsletter.csv").open(encoding="utf-8", newline="") as text:
        return list(csv.DictReader(text))


def test_columns_named_with_spaces_are_read_and_written_back_in_place(tmp_path):
    root = write_project(
        tmp_path / "project",
        {
            "job.yaml": textwrap.dedent(DOCUMENT),
            "newsletter.csv": "id,First Name,Email Address,Last Changed\n1,Ada,ada@x.org,2026-11-01T09:00:00Z\n",
        },
    )
    crm = SqliteConnector({"path": "crm.db"}, root)
    assert crm.write(
        "Lead", [Write("b", "create", "Lead", values={"FirstName": "Bob", "Email": "bob@x.org"})]
    )[0].ok
    crm.close()
    applied = run_syncmap("apply", "job.yaml", cwd=root)
    assert applied.returncode == 0, applied.stderr
    crm = SqliteConnector({"path": "crm.db"}, root)
    assert sorted((r.values["FirstName"], r.values["Email"]) for r in crm.read("Lead")) == [
        ("Ada", "ada@x.org"),
        ("Bob", "bob@x.org"),
    ]
    ada = next(r for r in crm.read("Lead") if r.values["Email"] == "ada@x.org")
    assert crm.write("Lead", [Write("u", "update", "Lead", ada.id, {"FirstName": "Ada L."})])[0].ok
    crm.close()
    applied = run_syncmap("apply", "job.yaml", cwd=root)
    assert applied.returncode == 0, applied.stderr

    rows = _rows(root)
    assert list(rows[0]) == ["id", "First Name", "Email Address", "Last Changed"]  # no column added
    assert sorted((r["First Name"], r["Email Address"]) for r in rows) == [
        ("Ada L.", "ada@x.org"),
        ("Bob", "bob@x.org"),
    ]
    settled = run_syncmap("plan", "job.yaml", "--detailed-exitcode", cwd=root)
    assert settled.returncode == 0, settled.stdout


def test_a_file_without_a_modification_column_is_read_whole_without_a_warning(tmp_path):
    document = textwrap.dedent(DOCUMENT).replace(", modified: Last Changed", "")
    root = write_project(
        tmp_path / "project",
        {"job.yaml": document, "newsletter.csv": "id,First Name,Email Address\n1,Ada,ada@x.org\n"},
    )
    assert run_syncmap("apply", "job.yaml", cwd=root).returncode == 0
    (root / "newsletter.csv").write_text("id,First Name,Email Address\n1,Ada L.,ada@x.org\n")
    planned = run_syncmap("plan", "job.yaml", "--format", "json", cwd=root)
    preview = json.loads(planned.stdout)
    assert [(c["action"], c["side"]) for c in preview["steps"][0]["changes"]] == [("update", "target")]
    assert "warnings" not in preview["steps"][0]

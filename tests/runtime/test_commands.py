"""`syncmap plan` and `syncmap apply` as users run them, over the quickstart's two SQLite stores."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from engine.sandbox import Sandbox
from tests.conftest import SALESFORCE_FROM_ENV, run_syncmap, sandbox_env
from tests.runtime.conftest import leads_project
from tests.runtime.test_crash import make_project


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    return make_project(tmp_path / "quickstart", 120)


def snapshot(folder: Path) -> dict[str, list]:
    found = {}
    for name in ("platform.db", "crm.db", ".syncmap/state.db"):
        path = folder / name
        if path.exists():
            with sqlite3.connect(path) as db:
                tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
                found[name] = [
                    (table, db.execute(f"SELECT * FROM '{table}' ORDER BY 1").fetchall()) for table in tables
                ]
    return found


def test_plan_writes_nothing_then_apply_then_nothing_to_do(quickstart):
    folder = quickstart.parent
    before = snapshot(folder)
    planned = run_syncmap("plan", str(quickstart), "--detailed-exitcode")
    assert planned.returncode == 2, planned.stderr
    assert snapshot(folder) == before
    summary, by_connection = planned.stdout.strip().splitlines()[-2:]
    assert summary.startswith("Plan: ") and "to create" in summary
    assert by_connection.startswith("crm: ") and "; platform: " in by_connection  # what each side gains

    applied = run_syncmap("apply", str(quickstart))
    assert applied.returncode == 0, applied.stderr
    created = summary.split("Plan: ")[1].split(" to create")[0]
    assert applied.stdout.startswith(f"Applied quickstart: {created} created")

    again = run_syncmap("plan", str(quickstart), "--detailed-exitcode")
    assert again.returncode == 0
    assert again.stdout.strip().endswith(
        "Plan: 0 to create, 0 to update, 0 to delete, 0 skipped, 0 conflicts."
    )


def test_plan_json_and_masking(quickstart):
    plain = json.loads(run_syncmap("plan", str(quickstart), "--format", "json").stdout)
    assert plain["job"] == "quickstart"
    assert set(plain["counts"]) == {"create", "update", "delete", "skip", "conflict", "link"}
    assert re.search(r"\+1\d{10}", json.dumps(plain)) and "@example.com" in json.dumps(plain)
    masked = run_syncmap("plan", str(quickstart), "--format", "json", "--mask").stdout
    assert json.loads(masked)["counts"] == plain["counts"]
    assert not re.search(r"\+1\d{10}", masked)
    assert not re.search(r"[a-z]{2,}\.[a-z]+\d+@example\.com", masked)
    assert "***@example.com" in masked


def test_a_saved_plan_is_applied_as_previewed_or_refused_when_data_moved(quickstart):
    folder = quickstart.parent
    saved = folder / "plan.json"
    assert run_syncmap("plan", str(quickstart), "--out", str(saved)).returncode == 0
    with sqlite3.connect(folder / "platform.db") as db:
        db.execute(
            "UPDATE contacts SET data = json_set(data, '$.first_name', 'Moved'), "
            "updated_at = '2030-01-01T00:00:00.000000+00:00' WHERE id = (SELECT min(id) FROM contacts)"
        )
    refused = run_syncmap("apply", str(saved))
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "error: the records changed since this plan was saved; it was not applied"
    )
    assert "Traceback" not in refused.stderr

    fresh = folder / "fresh.json"
    assert run_syncmap("plan", str(quickstart), "--out", str(fresh)).returncode == 0
    applied = run_syncmap("apply", str(fresh))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.startswith("Applied quickstart:")


def test_a_saved_plan_is_applied_reading_each_record_once(tmp_path):
    """Applying a saved plan decides it again from one read of each side, checks that read
    against the plan, and writes what it decided: it queries the org as often as an apply of
    the mapping itself, not once more for the check."""

    def queries_of_apply(folder: Path, saved: bool) -> int:
        root = leads_project(folder, "saved", 30, SALESFORCE_FROM_ENV)
        with Sandbox() as org:
            environ = sandbox_env(org.instance_url, org.session_id, org.ca_file)
            org.client().restful("sobjects/Lead", method="POST", json={"LastName": "Old", "Company": "A", "Email": "p1@x.org"})
            planned = run_syncmap("plan", "job.yaml", "--out", "plan.json", cwd=root, env=environ)
            assert planned.returncode == 0, planned.stderr
            before = org.stats()["by_kind"].get("query", 0)
            applied = run_syncmap("apply", "plan.json" if saved else "job.yaml", "--format", "json", cwd=root, env=environ)
            assert applied.returncode == 0, applied.stderr
            assert json.loads(applied.stdout)["counts"] == json.loads((root / "plan.json").read_text())["counts"]
            assert org.client().query("SELECT COUNT() FROM Lead")["totalSize"] == 30
            return org.stats()["by_kind"].get("query", 0) - before

    assert queries_of_apply(tmp_path / "saved", saved=True) == queries_of_apply(tmp_path / "plain", saved=False)


def test_a_saved_plan_is_refused_when_the_mapping_changed(quickstart):
    saved = quickstart.parent / "plan.json"
    assert run_syncmap("plan", str(quickstart), "--out", str(saved)).returncode == 0
    quickstart.write_text(quickstart.read_text().replace("create_as: Lead", "create_as: Contact"))
    refused = run_syncmap("apply", str(saved))
    assert refused.returncode == 64
    assert refused.stderr.startswith("error: the mapping changed since this plan was saved")


def test_a_file_that_is_not_a_saved_plan_is_refused_with_a_hint(quickstart):
    saved = quickstart.parent / "plan.json"
    assert run_syncmap("plan", str(quickstart), "--out", str(saved)).returncode == 0
    assert json.loads(saved.read_text())["steps"][0]["changes"], "the saved plan holds its changes"
    for name, text in (
        ("truncated.json", saved.read_text()[:500]),
        ("list.json", "[1, 2]"),
        ("yaml.json", "a: b"),
    ):
        (quickstart.parent / name).write_text(text)
        refused = run_syncmap("apply", str(quickstart.parent / name))
        assert refused.returncode == 64, name
        assert refused.stderr.startswith(f"error: {quickstart.parent / name} is not a saved plan"), (
            refused.stderr
        )
        assert "hint: create one with `syncmap plan MAPPING --out plan.json`" in refused.stderr
        assert "Traceback" not in refused.stderr


def test_a_missing_environment_variable_is_a_clear_error(tmp_path):
    (tmp_path / "syncmap.toml").write_text("")
    (tmp_path / "job.yaml").write_text(
        "syncmap: 1\nconnections:\n  p: {connector: sql, settings: {url: '${NO_SUCH_DATABASE_URL}'}}\n"
        "objects:\n  c:\n    source: {connection: p, object: a}\n    target: {connection: p, object: b}\n"
    )
    result = run_syncmap("plan", "job.yaml", cwd=tmp_path)
    assert result.returncode == 64
    assert result.stderr.startswith(
        "error: connection `p` needs the environment variable NO_SUCH_DATABASE_URL (setting `url`)"
    )


def test_a_dry_run_says_the_same_thing_twice(tmp_path):
    """The ids a plan gives the records it would create come from a counter, not chance: two
    plans of the same data are identical, and can be compared line by line."""
    mapping = make_project(tmp_path / "quickstart", 60)
    first, second = (
        run_syncmap("plan", str(mapping), "--format", "json", cwd=mapping.parent).stdout for _ in range(2)
    )
    planned = [c["planned_id"] for step in json.loads(first)["steps"] for c in step["changes"] if c.get("planned_id")]
    assert planned and first == second

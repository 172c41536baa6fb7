"""`syncmap test`: mapping tests written next to a mapping, run against in-memory stores."""

from __future__ import annotations

import json
import shutil

from tests.conftest import REPO, run_syncmap, write_project

MAPPING = """\
syncmap: 1
name: contacts
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  salesforce: {connector: salesforce, settings: {session_id: "${SF_SESSION_ID}"}}
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: salesforce, object: Lead, create_as: Lead}
    match: [{source: phone, target: MobilePhone, normalize: phone}]
    filters:
      - {side: source, require: first_name, reason: no first name}
    fields:
      FirstName: first_name
      MobilePhone: {source: phone, transform: "phone_e164(@)"}
    conflicts: {duplicate_key: keep_source}
"""
TESTS = """\
syncmap_test: 1
mapping: contacts.yaml
tests:
  - name: new contacts become Leads, nameless ones are skipped
    given:
      platform:
        contacts: [{id: p1, first_name: Ana, phone: "415 555 0100"}, {id: p2, phone: "415 555 0101"}]
    expect:
      contacts:
        create: [{side: target, type: Lead, values: {FirstName: Ana, MobilePhone: "+14155550100"}}]
        skip: [{id: p2, reason: no first name}]
  - name: an existing Lead is linked and updated
    given:
      platform: {contacts: [{id: p1, first_name: Ana, phone: "415 555 0100"}]}
      salesforce: {Lead: [{Id: 00Q1, FirstName: Anna, MobilePhone: "+14155550100"}]}
    expect:
      contacts:
        update: [{id: 00Q1, values: {FirstName: Ana}}]
"""


def test_passing_tests_exit_0_and_need_no_org_or_secret(tmp_path):
    root = write_project(tmp_path, {"contacts.yaml": MAPPING, "contacts.test.yaml": TESTS})
    result = run_syncmap("test", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ contacts.test.yaml: new contacts become Leads, nameless ones are skipped" in result.stdout
    assert "2 passed, 0 failed, in 1 file." in result.stdout


def test_a_failure_shows_what_was_expected_and_what_happened(tmp_path):
    wrong = TESTS.replace('values: {FirstName: Ana, MobilePhone: "+14155550100"}', "values: {FirstName: Ann}")
    root = write_project(tmp_path, {"contacts.yaml": MAPPING, "contacts.test.yaml": wrong})
    result = run_syncmap("test", "contacts.test.yaml", cwd=root)
    assert result.returncode == 1
    assert "✗ contacts.test.yaml: new contacts become Leads, nameless ones are skipped" in result.stdout
    assert (
        "contacts: expected create {side: target, type: Lead, values: {FirstName: Ann}}, not found"
        in result.stdout
    )
    assert (
        "contacts: unexpected create target Lead (new) {FirstName: Ana, MobilePhone: '+14155550100'}"
        in result.stdout
    )
    assert "1 passed, 1 failed, in 1 file." in result.stdout

    as_json = run_syncmap("test", "contacts.test.yaml", "--format", "json", cwd=root)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert (report["passed"], report["failed"]) == (1, 1)
    failing = next(test for test in report["tests"] if not test["passed"])
    assert failing["file"] == "contacts.test.yaml" and failing["case"].startswith("new contacts become Leads")
    assert any("expected create {side: target, type: Lead" in problem for problem in failing["problems"])


def test_an_action_not_listed_must_not_happen(tmp_path):
    silent = TESTS.replace("        skip: [{id: p2, reason: no first name}]\n", "")
    root = write_project(tmp_path, {"contacts.yaml": MAPPING, "contacts.test.yaml": silent})
    result = run_syncmap("test", cwd=root)
    assert result.returncode == 1
    assert "contacts: unexpected skip source contacts p2 (no first name)" in result.stdout


def test_a_malformed_test_file_is_located(tmp_path):
    broken = TESTS.replace(
        "        skip: [{id: p2, reason: no first name}]", "        skip: [{id: p2, why: no first name}]"
    )
    root = write_project(tmp_path, {"contacts.yaml": MAPPING, "contacts.test.yaml": broken})
    result = run_syncmap("test", cwd=root)
    assert result.returncode == 64
    assert (
        "contacts.test.yaml: tests.0.expect.contacts.skip.0.why: Extra inputs are not permitted"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_every_shipped_template_has_tests_and_they_pass():
    templates = {
        path.stem for path in (REPO / "mappings").glob("*.yaml") if not path.name.endswith(".test.yaml")
    }
    tested = {path.name.removesuffix(".test.yaml") for path in (REPO / "mappings").glob("*.test.yaml")}
    assert templates <= tested, f"templates without tests: {sorted(templates - tested)}"
    result = run_syncmap("test", "mappings")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_example_tests_pass():
    result = run_syncmap("test", "examples")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "✓ examples/avochato/acme.test.yaml: a platform edit does not overwrite Salesforce" in result.stdout
    )


def test_the_readme_review_story_passes_once_acme_updates_both_ways(tmp_path):
    readme = (REPO / "README.md").read_text()
    case = readme[readme.index("     - name: a platform edit now reaches Salesforce") :]
    case = "\n".join(line[3:] for line in case[: case.index("   ```")].splitlines())
    (tmp_path / "syncmap.toml").write_text("")
    for folder in ("mappings", "rules", "examples/avochato"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    acme = tmp_path / "examples" / "avochato" / "acme.yaml"
    tests = acme.with_name("review.test.yaml")
    tests.write_text(f"syncmap_test: 1\nmapping: acme.yaml\ntests:\n{case}\n")
    assert run_syncmap("test", str(tests)).returncode == 1, "before the edit, the new test fails"
    assert "      update: to_source" in acme.read_text()
    acme.write_text(acme.read_text().replace("      update: to_source", "      update: both"))
    result = run_syncmap("test", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_database_side_with_a_query_and_a_soft_delete_column_is_tested_in_memory(tmp_path):
    """A `sql` side's `query:` and `deleted:` mean nothing to the in-memory stores: the given
    records are the query's rows, and no database is opened (the url names none that exists)."""
    mapping = MAPPING.replace(
        "platform: {connector: sqlite, settings: {path: platform.db}}",
        'platform: {connector: sql, settings: {url: "postgresql://app:${APP_DB_PASSWORD}@nowhere/app"}}',
    ).replace(
        "source: {connection: platform, object: contacts}",
        'source: {connection: platform, object: contacts, deleted: removed, query: "SELECT * FROM people"}',
    )
    root = write_project(tmp_path, {"contacts.yaml": mapping, "contacts.test.yaml": TESTS})
    result = run_syncmap("test", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed, 0 failed, in 1 file." in result.stdout

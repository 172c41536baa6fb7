"""Language versions: version 1 documents keep working, and `syncmap upgrade` moves them to 2."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from engine.compile import compile_plan
from tests.conftest import REPO, run_syncmap, write_project

VERSION_1 = """\
# Acme's contacts: reviewed 2026-11
syncmap: 1   # the language version
name: acme
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  crm: {connector: sqlite, settings: {path: crm.db}}
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: crm, object: Lead}
    match: [{source: phone, target: MobilePhone, normalize: phone}]
    fields:
      FirstName: first_name
    conflicts:
      "duplicate_key": keep_target    # the CRM's values win on a first match
  leads:
    source: {connection: platform, object: leads}
    target: {connection: crm, object: Lead}
    match: [{source: phone, target: MobilePhone, normalize: phone}]
    fields: {LastName: last_name}
    conflicts: {duplicate_key: hold, ambiguous: oldest}
"""


def test_upgrade_edits_only_the_renamed_keys_and_the_version(tmp_path):
    root = write_project(tmp_path, {"acme.yaml": VERSION_1})
    before = compile_plan(root / "acme.yaml")
    result = run_syncmap("upgrade", "acme.yaml", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "acme.yaml: upgraded from version 1 to 2",
        "  renamed objects.contacts.conflicts.duplicate_key -> first_match",
        "  renamed objects.leads.conflicts.duplicate_key -> first_match",
    ]
    expected = (
        VERSION_1.replace("syncmap: 1   #", "syncmap: 2   #")
        .replace('"duplicate_key": keep_target', '"first_match": keep_target')
        .replace("{duplicate_key: hold,", "{first_match: hold,")
    )
    assert (root / "acme.yaml").read_text() == expected, "comments, quoting and layout are kept"
    assert compile_plan(root / "acme.yaml").hash == before.hash, "the upgraded document means the same"
    again = run_syncmap("upgrade", "acme.yaml", cwd=root)
    assert again.stdout.strip() == "acme.yaml: already version 2"


def test_check_changes_nothing_and_fails_while_a_file_is_behind(tmp_path):
    root = write_project(tmp_path, {"acme.yaml": VERSION_1})
    check = run_syncmap("upgrade", "--check", "acme.yaml", cwd=root)
    assert check.returncode == 1 and "would upgrade from version 1 to 2" in check.stdout
    assert (root / "acme.yaml").read_text() == VERSION_1
    as_json = run_syncmap("upgrade", "--check", "acme.yaml", "--format", "json", cwd=root)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == {
        "latest": 2,
        "written": False,
        "files": [{"file": "acme.yaml", "version": 1, "behind": True, "renamed": [
            "objects.contacts.conflicts.duplicate_key -> first_match",
            "objects.leads.conflicts.duplicate_key -> first_match",
        ]}],
    }  # fmt: skip
    run_syncmap("upgrade", "acme.yaml", cwd=root)
    assert run_syncmap("upgrade", "--check", "acme.yaml", cwd=root).returncode == 0


def test_a_version_1_document_extends_a_version_2_template(tmp_path):
    root = write_project(tmp_path, {
        "template.yaml": VERSION_1.replace("syncmap: 1", "syncmap: 2").replace('"duplicate_key"', "first_match")
                                  .replace("duplicate_key: hold", "first_match: hold"),
        "customer.yaml": "syncmap: 1\nextends: template.yaml\nname: customer\n"
                         "objects:\n  contacts:\n    conflicts: {duplicate_key: keep_source}\n",
    })  # fmt: skip
    plan = compile_plan(root / "customer.yaml")
    assert plan.step("contacts").conflicts.first_match == "keep_source"
    assert plan.step("leads").conflicts.first_match == "hold"


def test_errors_in_a_version_1_document_point_at_what_was_written(tmp_path):
    root = write_project(tmp_path, {"acme.yaml": VERSION_1.replace("keep_target", "keep_both")})
    result = run_syncmap("validate", "acme.yaml", cwd=root)
    assert result.returncode == 1
    assert (
        "acme.yaml:15:24: error: `keep_both` is not allowed at objects.contacts.conflicts.duplicate_key"
        in result.stdout + result.stderr
    ), "the path is the one written, not its version 2 name"


def test_a_renamed_key_in_a_version_2_document_says_what_it_became(tmp_path):
    root = write_project(tmp_path, {"acme.yaml": VERSION_1.replace("syncmap: 1", "syncmap: 2")})
    output = run_syncmap("validate", "acme.yaml", cwd=root)
    text = output.stdout + output.stderr
    assert "unknown key `duplicate_key`" in text
    assert "renamed to `first_match` in version 2; `syncmap upgrade FILE` rewrites older documents" in text


def test_each_version_keeps_its_published_schema():
    for version, document in ((1, VERSION_1), (2, (REPO / "mappings" / "avochato.yaml").read_text())):
        schema = json.loads((REPO / "schemas" / f"mapping.v{version}.json").read_text())
        assert schema["$id"] == f"https://syncmap.dev/schemas/mapping.v{version}.json"
        assert list(Draft202012Validator(schema).iter_errors(yaml.safe_load(document))) == []
    version_1 = json.loads((REPO / "schemas" / "mapping.v1.json").read_text())
    assert list(Draft202012Validator(version_1).iter_errors({**yaml.safe_load(VERSION_1), "syncmap": 2}))


def test_the_shipped_examples_in_version_1_still_compile():
    examples = [path for path in (REPO / "examples").rglob("*.yaml") if "syncmap: 1" in path.read_text()]
    assert examples, "the examples keep version 1 documents on purpose"
    for path in examples:
        if not path.name.endswith(".test.yaml"):
            assert compile_plan(Path(path)).version == 2

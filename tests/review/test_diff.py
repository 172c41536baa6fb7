"""`syncmap diff`: the difference in meaning between two versions of a mapping, risks flagged."""

from __future__ import annotations

import json
import subprocess

from engine.connectors.sqlite import SqliteConnector
from tests.conftest import run_syncmap, write_project

TEMPLATE = """\
syncmap: 1
name: template
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  crm: {connector: sqlite, settings: {path: crm.db}}
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: crm, object: Lead, create_as: Lead}
    direction: {create: none, update: to_source}
    match: [{source: phone, target: MobilePhone, normalize: phone}]
    filters:
      - {side: source, require: first_name, reason: no first name}
    fields:
      FirstName: first_name
      Email: {source: email, transform: "email(@)"}
    deletes: ignore
"""
CUSTOMER = """\
syncmap: 1
extends: template.yaml
name: customer
"""


def changed(text: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


def diff_json(*args: str, cwd) -> dict:
    result = run_syncmap("diff", *args, "--format", "json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_reformatting_and_comments_are_no_difference(tmp_path):
    reformatted = "# reviewed by ops\n" + TEMPLATE.replace("{source: email, transform: \"email(@)\"}",
                                                         "\n        source: email   # the platform's\n        transform: email(@)")  # fmt: skip
    root = write_project(tmp_path, {"old.yaml": TEMPLATE, "new.yaml": reformatted})
    result = run_syncmap("diff", "old.yaml", "new.yaml", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "No differences in meaning." in result.stdout


def test_each_risky_change_is_flagged_with_its_reason(tmp_path):
    new = changed(
        TEMPLATE,
        ("direction: {create: none, update: to_source}", "direction: {create: to_target, update: both}"),
        ("deletes: ignore", "deletes: {to_target: propagate, to_source: ignore}"),
        ("normalize: phone}", "normalize: phone}, {source: email, target: Email, normalize: email}"),
        ("    filters:\n      - {side: source, require: first_name, reason: no first name}\n", ""),
        ('transform: "email(@)"}', 'transform: "lower(@)"}\n      Title: title'),
    )
    root = write_project(tmp_path, {"old.yaml": TEMPLATE, "new.yaml": new})
    found = diff_json("old.yaml", "new.yaml", cwd=root)
    risks = {item["what"]: item["risk"] for item in found["differences"]}
    assert risks["direction.create"].startswith("creation switched on: records will be created in crm")
    assert risks["direction.update"] == "direction widened: now writes into crm"
    assert risks["deletes.to_target"] == "deletes now propagate: records will be deleted in crm"
    assert risks["match key 2"].startswith("match key changed")
    assert risks["filter"] == "filter removed: more records will sync"
    assert risks["field Email.transform"] is None and risks["field Title"] is None, (
        "plain changes are not risky"
    )
    email = next(item for item in found["differences"] if item["what"] == "field Email.transform")
    assert (email["old"], email["new"]) == ("email(@)", "lower(@)")
    assert found["risky"] == 5

    markdown = run_syncmap("diff", "old.yaml", "new.yaml", "--format", "markdown", cwd=root).stdout
    assert "| changed | `deletes.to_target` | `ignore` -> `propagate` | **⚠ deletes now propagate" in markdown
    assert "**7 differences, 5 risky.**" in markdown


def test_git_compares_with_a_revision_resolving_extends_on_both_sides(tmp_path):
    root = write_project(tmp_path, {"template.yaml": TEMPLATE, "customer.yaml": CUSTOMER})
    for command in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1"],
    ):
        subprocess.run(["git", *command], cwd=root, check=True)
    (root / "template.yaml").write_text(changed(TEMPLATE, ("deletes: ignore", "deletes: propagate")))
    found = diff_json("--git", "HEAD", "customer.yaml", cwd=root)
    assert found["old"] == "HEAD:customer.yaml"
    assert [(item["what"], item["new"]) for item in found["differences"]] == [
        ("deletes.to_target", "propagate"), ("deletes.to_source", "propagate"),
    ]  # fmt: skip

    missing = run_syncmap("diff", "--git", "no-such-rev", "customer.yaml", cwd=root)
    assert missing.returncode == 64 and "git archive" in missing.stderr and "Traceback" not in missing.stderr


def test_git_unpacks_a_revision_with_the_repositorys_layout_and_names_its_paths(tmp_path):
    """A repository marked by `.git` alone, a customer document extending a template two folders
    up (as the README's review step does): the old revision resolves `extends` as the working
    tree does, and an error in it names the revision and the repository path."""
    root = tmp_path / "repo"
    for name, text in (
        ("mappings/template.yaml", TEMPLATE),
        ("examples/acme/customer.yaml", CUSTOMER.replace("extends: template.yaml", "extends: ../../mappings/template.yaml")),
    ):  # fmt: skip
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)

    def git(*command: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *command], cwd=root, check=True)

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "v1")
    template = root / "mappings" / "template.yaml"
    template.write_text(changed(TEMPLATE, ("deletes: ignore", "deletes: propagate")))
    found = diff_json("--git", "HEAD", "examples/acme/customer.yaml", cwd=root)
    assert [item["what"] for item in found["differences"]] == ["deletes.to_target", "deletes.to_source"]

    template.write_text(changed(TEMPLATE, ("deletes: ignore", "deletes: sometimes")))
    git("commit", "-qam", "v2: a mistake")
    template.write_text(TEMPLATE)
    broken = run_syncmap("diff", "--git", "HEAD", "examples/acme/customer.yaml", cwd=root)
    assert broken.returncode == 1 and "HEAD:mappings/template.yaml:" in broken.stderr, broken.stderr
    assert "/tmp" not in broken.stderr and "Traceback" not in broken.stderr


def test_data_shows_how_the_counts_of_each_object_change(tmp_path):
    root = write_project(tmp_path, {"old.yaml": TEMPLATE})
    (root / "new.yaml").write_text(
        changed(
            TEMPLATE,
            ("direction: {create: none, update: to_source}", "direction: {create: to_target, update: both}"),
        )
    )
    with SqliteConnector({"path": "platform.db"}, root) as platform:
        platform.seed(
            "contacts", [{"id": f"p{i}", "first_name": "Ana", "phone": f"+1415555{i:04d}"} for i in range(3)]
        )
    SqliteConnector({"path": "crm.db"}, root).close()  # an empty CRM: a dry run creates no file
    found = diff_json("old.yaml", "new.yaml", "--data", cwd=root)
    assert found["impact"]["contacts"]["old"]["create"] == 0
    assert found["impact"]["contacts"]["new"]["create"] == 3
    text = run_syncmap("diff", "old.yaml", "new.yaml", "--data", cwd=root).stdout
    assert "contacts: create 0 -> 3, skip 3 -> 0" in text


def test_one_file_without_git_is_a_usage_error(tmp_path):
    root = write_project(tmp_path, {"old.yaml": TEMPLATE})
    result = run_syncmap("diff", "old.yaml", cwd=root)
    assert result.returncode == 64
    assert "give two files (OLD NEW), or one file with --git REV" in result.stderr


def test_removed_fields_policies_and_sides_are_listed_without_risk(tmp_path):
    new = changed(
        TEMPLATE,
        ("      FirstName: first_name\n", ""),
        ("    deletes: ignore", "    deletes: ignore\n    conflicts: {concurrent_edit: source_wins}"),
        (
            "target: {connection: crm, object: Lead, create_as: Lead}",
            "target: {connection: crm, object: Contact}",
        ),
    )
    root = write_project(tmp_path, {"old.yaml": TEMPLATE, "new.yaml": new})
    found = {item["what"]: item for item in diff_json("old.yaml", "new.yaml", cwd=root)["differences"]}
    assert (
        found["field FirstName"]["kind"] == "removed"
        and found["field FirstName"]["old"]["source"] == "first_name"
    )
    policy = found["conflicts.concurrent_edit"]
    assert (policy["old"], policy["new"], policy["risk"]) == ("last_write_wins", "source_wins", None)
    assert (found["target.types"]["old"], found["target.types"]["new"]) == (["Lead"], ["Contact"])
    assert (found["target.create_as"]["old"], found["target.create_as"]["new"]) == ("Lead", "Contact"), (
        "the compiled default (the first type) is compared, not the text"
    )

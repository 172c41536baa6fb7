"""The pre-commit hooks run their entries as pre-commit would, in a customer repository."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import yaml

from tests.conftest import REPO, run_syncmap, write_project
from tests.review.test_mapping_tests import MAPPING, TESTS

HOOKS = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}


def run_hook(hook_id: str, root) -> subprocess.CompletedProcess:
    hook = HOOKS[hook_id]
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    command, *arguments = shlex.split(hook["entry"])
    assert command == "syncmap"
    return subprocess.run(
        [sys.executable, "-m", "engine", *arguments], cwd=root, capture_output=True, text=True
    )


def test_hooks_run_on_changes_to_yaml_files():
    assert set(HOOKS) == {"syncmap-validate", "syncmap-test"}
    for hook in HOOKS.values():
        assert re.search(hook["files"], "mappings/acme.yaml") and not re.search(hook["files"], "README.md")


def test_the_hooks_pass_a_good_repository_and_leave_other_yaml_alone(tmp_path):
    root = write_project(tmp_path, {
        "contacts.yaml": MAPPING, "contacts.test.yaml": TESTS, ".github/workflows/ci.yaml": "on: push\n",
    })  # fmt: skip
    assert run_hook("syncmap-validate", root).returncode == 0
    assert run_hook("syncmap-test", root).returncode == 0


def test_a_repository_without_tests_yet_passes_the_test_hook(tmp_path):
    root = write_project(tmp_path, {"contacts.yaml": MAPPING})
    result = run_hook("syncmap-test", root)
    assert result.returncode == 0 and "No mapping tests (*.test.yaml) found." in result.stdout
    assert run_syncmap("test", cwd=root).returncode == 64, "without --if-any, finding no tests is an error"


def test_the_hooks_stop_a_commit_that_breaks_a_mapping_or_its_tests(tmp_path):
    broken = MAPPING.replace("FirstName: first_name", "FirstName: {source: first_name, transfrom: trim(@)}")
    root = write_project(tmp_path, {"contacts.yaml": broken, "contacts.test.yaml": TESTS})
    validate = run_hook("syncmap-validate", root)
    assert validate.returncode == 1 and "did you mean `transform`?" in validate.stderr
    root = write_project(tmp_path / "second", {
        "contacts.yaml": MAPPING.replace("keep_source", "keep_target"), "contacts.test.yaml": TESTS,
    })  # fmt: skip
    tested = run_hook("syncmap-test", root)
    assert tested.returncode == 1 and "1 failed" in tested.stdout

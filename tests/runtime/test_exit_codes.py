"""Exit codes a CI can act on, as Terraform's: `plan --detailed-exitcode` exits 0 for no changes,
2 for changes and 1 for an error, and a usage error has its own code (64) on every command. An
apply in which every write fails says so in its counts and leaves the job in `errors`."""

from __future__ import annotations

import json
import subprocess

import pytest

from engine.sandbox import Sandbox
from tests.conftest import run_syncmap, sandbox_env
from tests.runtime.test_crash import make_project
from tests.runtime.test_integrity import MAPPING, add_contacts, people


@pytest.fixture
def quickstart(tmp_path):
    return make_project(tmp_path / "quickstart", 40)


def test_detailed_exitcode_tells_changes_errors_and_usage_apart(quickstart):
    folder = quickstart.parent
    plan = lambda *args: run_syncmap("plan", *args, cwd=folder)  # noqa: E731
    assert plan(str(quickstart), "--detailed-exitcode").returncode == 2, "changes planned"
    assert plan(str(quickstart), "--detailed-exitcode", "--bogus").returncode == 64
    assert plan("missing.yaml", "--detailed-exitcode").returncode == 64
    (folder / "broken.yaml").write_text("syncmap: 2\nname: broken\nobjects: {}\nconections: {}\n")
    assert plan("broken.yaml", "--detailed-exitcode").returncode == 1
    assert run_syncmap("apply", str(quickstart), cwd=folder).returncode == 0
    assert plan(str(quickstart), "--detailed-exitcode").returncode == 0, "nothing left to do"


@pytest.mark.parametrize(
    "command",
    [("validate", "--nope"), ("plan", "x.yaml"), ("apply", "x.yaml"), ("status", "--nope"), ("runs",),
     ("diff", "a.yaml"), ("test", "--nope"), ("upgrade", "x.yaml"), ("watch", "--interval", "soon"), ("nosuch",)],
    ids=lambda command: command[0],
)  # fmt: skip
def test_every_command_answers_a_usage_error_with_64(tmp_path, command):
    (tmp_path / "syncmap.toml").write_text("")
    result = run_syncmap(*command, cwd=tmp_path)
    assert result.returncode == 64, result.stderr
    assert "Traceback" not in result.stderr


def test_an_apply_in_which_every_write_fails_reports_no_successes_and_errors(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "syncmap.toml").write_text("")
    # the platform's names are no email addresses: Salesforce refuses every create
    (project / "people.yaml").write_text(
        MAPPING.replace("      LastName: last_name\n", "      LastName: last_name\n      Email: last_name\n")
    )
    add_contacts(project, people(1, 5))
    with Sandbox() as org:
        env = sandbox_env(org.instance_url, org.session_id, org.ca_file)

        def syncmap(*args: str) -> subprocess.CompletedProcess:
            return run_syncmap(*args, cwd=project, env=env)

        applied = syncmap("apply", "people.yaml")
        assert applied.returncode == 1, applied.stderr
        assert (
            "Applied people: 0 created, 0 updated, 0 deleted, 0 skipped, 0 conflicts, 5 failed."
            in applied.stdout
        )
        assert "INVALID_EMAIL_ADDRESS" in applied.stdout
        report = json.loads(syncmap("apply", "people.yaml", "--format", "json").stdout)
        assert report["counts"]["create"] == 5 and report["applied"]["create"] == 0
        assert report["applied"]["failed"] == 5
        (job,) = json.loads(syncmap("status", "--format", "json").stdout)
        assert job["status"] == "errors" and job["last_error"] == "5 records failed"
        assert job["last_run"]["counts"]["create"] == 0 and job["last_run"]["counts"]["failed"] == 5

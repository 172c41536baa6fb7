"""The `syncmap` command as users run it: exit codes, text and JSON output, help everywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from engine.cli import main
from engine.errors import EXIT_CODES
from tests.conftest import REPO, run_syncmap, write_project

VALID = "syncmap: 1\nconnections:\n  p: {connector: sqlite}\nobjects:\n  contacts:\n    source: {connection: p, object: a}\n    target: {connection: p, object: b}\n"
INVALID = VALID.replace("object: b", "objct: b")


def test_shipped_mappings_and_examples_validate():
    result = run_syncmap("validate", "mappings", "examples", "rules")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("valid.")


def test_validate_reports_every_file_in_order_and_exits_1(tmp_path):
    root = write_project(
        tmp_path, {"a.yaml": INVALID, "nested/b.yaml": INVALID, "ok.yaml": VALID, "ci.yml": "on: push\n"}
    )
    result = run_syncmap("validate", ".", cwd=root)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert lines == [
        "a.yaml:7:29: error: unknown key `objct` at objects.contacts.target.objct",
        "nested/b.yaml:7:29: error: unknown key `objct` at objects.contacts.target.objct",
    ]
    assert "hint: did you mean `object`?" in result.stderr
    assert result.stderr.strip().endswith("Found 2 errors.")
    assert "Traceback" not in result.stderr


def test_validate_json_gives_machine_readable_errors(tmp_path):
    root = write_project(tmp_path, {"a.yaml": INVALID})
    result = run_syncmap("validate", "a.yaml", "--format", "json", cwd=root)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["documents"] == ["a.yaml"]
    assert report["errors"] == [
        {
            "file": "a.yaml",
            "line": 7,
            "column": 29,
            "severity": "error",
            "code": "unknown-key",
            "path": "objects.contacts.target.objct",
            "message": "unknown key `objct`",
            "hint": "did you mean `object`?",
        }
    ]


def test_usage_errors_exit_64_apart_from_changes_planned():
    missing = run_syncmap("validate", "no/such/file.yaml")
    assert missing.returncode == 64
    assert missing.stderr.startswith("error: no such file or directory: no/such/file.yaml")
    unknown = run_syncmap("valdate")
    assert unknown.returncode == 64
    assert "Did you mean 'validate'?" in unknown.stderr


def test_compile_prints_the_resolved_plan():
    result = run_syncmap("compile", "examples/avochato/acme.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# plan acme-contacts sha256:")
    assert "phone_region: GB" in result.stdout  # overridden by the customer document
    assert "create_as: Contact" in result.stdout
    as_json = json.loads(run_syncmap("compile", "examples/avochato/acme.yaml", "--format", "json").stdout)
    assert as_json["hash"] in result.stdout.splitlines()[0]
    assert [step["name"] for step in as_json["steps"]] == ["contacts", "activities"]
    assert as_json["files"] == [
        "mappings/avochato.yaml",
        "examples/avochato/acme.yaml",
        "rules/contact-quality.yaml",
    ]


def test_compile_of_an_invalid_document_exits_1_with_json_errors(tmp_path):
    root = write_project(tmp_path, {"a.yaml": INVALID})
    result = run_syncmap("compile", "a.yaml", "--format", "json", cwd=root)
    assert result.returncode == 1
    assert json.loads(result.stdout)[0]["message"] == "unknown key `objct`"


def commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix}{name} ")


@pytest.mark.parametrize(("name", "command"), list(commands(main)))
def test_every_command_has_help(name, command):
    assert command.help and len(command.help.strip()) > 20, name
    shown = run_syncmap(*name.split(), "--help")
    assert shown.returncode == 0
    assert "Exit codes:" in shown.stdout and "64  usage error" in shown.stdout, name


def test_the_readme_exit_codes_are_the_ones_the_commands_use():
    readme = (REPO / "README.md").read_text()
    table = readme.split("| code | meaning |\n|---|---|\n")[1].split("\n\n")[0]
    rows = dict(row.strip("|").split(" | ", 1) for row in table.strip().splitlines())
    assert {int(code): meaning.rstrip(" |") for code, meaning in rows.items()} == EXIT_CODES
    assert "Exit codes:" in run_syncmap("--help").stdout


def test_readme_commands_are_the_ones_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    install, test = readme.split("```sh\n")[1].split("```")[0].strip().splitlines()
    assert install.startswith("python -m pip install -e '.[dev]'")
    assert test.startswith("npm ci") and test.endswith("python -m pytest")  # json-server, then the suite
    assert any(line.split("  #")[0].strip() == test for line in ci.splitlines()), (
        "CI runs the README's test command"
    )


def test_the_readme_tour_compiles(tmp_path):
    readme = (REPO / "README.md").read_text()
    tour = readme.split("## A mapping document in five minutes")[1].split("```yaml\n")[1].split("```")[0]
    root = write_project(
        tmp_path,
        {
            "examples/avochato/tour.yaml": tour,
            "mappings/avochato.yaml": (REPO / "mappings" / "avochato.yaml").read_text(),
            "rules/contact-quality.yaml": (REPO / "rules" / "contact-quality.yaml").read_text(),
        },
    )
    result = run_syncmap("compile", "examples/avochato/tour.yaml", cwd=root)
    assert result.returncode == 0, result.stderr


def test_no_command_but_sandbox_loads_the_sandbox():
    """The sandbox is a server of its own: the other commands start without importing it."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, engine.cli; print('engine.sandbox' in sys.modules)"],
        capture_output=True, text=True, cwd=REPO, check=True,
    )  # fmt: skip
    assert loaded.stdout.strip() == "False"
    assert run_syncmap("sandbox", "--help").returncode == 0

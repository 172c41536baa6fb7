"""Every kind of document error is reported at its exact file, line and column, with its hint."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.diagnostics import format_path
from engine.validate import validate

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "located_errors.yaml").read_text())


def rendered(diagnostic) -> dict:
    loc = diagnostic.location
    at = f" at {format_path(diagnostic.path)}" if diagnostic.path else ""
    found = {"error": f"{loc.file}:{loc.line}:{loc.column}: {diagnostic.message}{at}"}
    if diagnostic.hint:
        found["hint"] = diagnostic.hint
    return found


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_located_error(case, project):
    project(case["files"])
    report = validate([Path(case.get("check", "job.yaml"))])
    assert [rendered(d) for d in report.diagnostics] == case["expect"]


def test_there_are_at_least_fifteen_located_cases():
    assert sum(len(case["expect"]) for case in CASES) >= 15

"""The per-field decision as a table: every policy, one-way and create-only fields, first
matches and placeholders, one row each in `tests/cases/decide.yaml`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.decide import FieldDecision, FieldFacts, decide_field
from engine.plan import FLOWS

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "decide.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_decide_case(case):
    flows = FLOWS[case["flows"]]
    writes_back = case.get("writes_back", True)
    facts = FieldFacts(
        field="FirstName",
        to_target="to_target" in flows,
        to_source="to_source" in flows and writes_back,
        writes_back=writes_back,
        source_value=case["source"],
        target_value=case["target"],
        first_match="base" not in case,
        agreed=case.get("base"),
        default=case.get("default"),
        source_newer=case.get("source_newer", False),
        first_match_policy=case.get("first_match", "hold"),
        concurrent_policy=case.get("concurrent", "last_write_wins"),
    )
    assert decide_field(facts) == FieldDecision(case["way"], case.get("note"))

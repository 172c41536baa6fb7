"""The expression language, run from golden data cases, and its compile-time checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.expressions import DomainFunctions, ExpressionError, compile_expression, compile_template

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "expressions.yaml").read_text())
VALUE_MAPS = {"lead_status": {"Open - Not Contacted": "new", "Working - Contacted": "contacted"}}


@pytest.mark.parametrize("case", CASES, ids=[c.get("expression") or c["template"][:40] for c in CASES])
def test_expression_case(case):
    functions = DomainFunctions(case.get("region", "US"), VALUE_MAPS)
    if "template" in case:
        compiled = compile_template(case["template"], functions)
    else:
        compiled = compile_expression(case["expression"], functions)
    assert compiled(case["record"]) == case["result"]


@pytest.mark.parametrize(
    ("text", "message", "offset"),
    [
        ("lowr(email)", "unknown function `lowr()`", 0),
        ("trim(lower(x), y)", "`trim()` takes 1 argument(s), got 2", 0),
        ("phone_e164()", "`phone_e164()` takes 1 to 2 arguments, got 0", 0),
        ("value_map(s, 'lead_statuses')", "unknown value map `lead_statuses`", 14),
        ("value_map(s, name)", "`value_map()` takes the map's name as a quoted literal", 0),
        ("a.[", "invalid expression: unexpected end of expression", 3),
        ("first_name ||| x", "invalid expression: unexpected `|`", 13),
    ],
)
def test_compile_time_errors_carry_their_offset(text, message, offset):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text, DomainFunctions("US", VALUE_MAPS))
    assert (caught.value.message, caught.value.offset) == (message, offset)


def test_template_hole_errors_are_offset_within_the_whole_template():
    with pytest.raises(ExpressionError) as caught:
        compile_template("Subject: {{ lowr(x) }}", DomainFunctions())
    assert (caught.value.message, caught.value.offset) == ("unknown function `lowr()`", 12)


def test_no_python_can_be_reached_from_an_expression():
    functions = DomainFunctions()
    assert compile_expression("__class__", functions)({}) is None  # a field name, never an attribute
    for attempt in ("__import__('os')", "eval('1')", "exec('x')", "open('/etc/passwd')"):
        with pytest.raises(ExpressionError, match="unknown function"):
            compile_expression(attempt, functions)

"""The expression language, run from golden data cases, and its compile-time checks."""

from __future__ import annotations

from pathlib import Path

import jmespath
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import RecordError
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


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from([0.0, 1.0, 2.5]) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from("abc"), inner, max_size=2),
    max_leaves=4,
)
RECORDS = st.dictionaries(st.sampled_from(["a", "b", "c", "n"]), JSON_VALUES, max_size=4)
SHAPES = [
    "a", "a.b", "@", "`1`", "'x'", "a || b", "a && b", "!a", "!n", "a == b", "a != `1`", "n == `true`",
    "a || b && c", "!(a == b) || c.a", "lower(a)", "trim(a || '') != ''", "coalesce(a, b, 'none')",
    "phone_e164(a)", "email(b) || c", "upper(a) == 'X'", "replace(a, 'x', 'y')",
]  # fmt: skip


@pytest.mark.parametrize("text", SHAPES)
@settings(max_examples=150, deadline=None)
@given(record=RECORDS)
def test_compiled_expressions_agree_with_the_jmespath_interpreter(text, record):
    functions = DomainFunctions("US", VALUE_MAPS)
    compiled = compile_expression(text, functions)
    options = jmespath.Options(custom_functions=functions)
    try:
        expected = jmespath.search(text, record, options=options)
    except jmespath.exceptions.JMESPathError:
        with pytest.raises(RecordError):
            compiled(record)
        return
    assert compiled(record) == expected and type(compiled(record)) is type(expected)

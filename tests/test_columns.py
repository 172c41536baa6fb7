"""Expressions as columns: wherever an expression has a column form, it gives exactly what the
JMESPath interpreter gives for every record of the batch, and the shapes documents use most
always have one."""

from __future__ import annotations

import jmespath
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.columns import column_form, frame_of
from engine.expressions import DomainFunctions, compile_expression, compile_template

VALUE_MAPS = {"status": {"Open": "new", "Working": "contacted", "ß": "SS"}, "numbers": {"1": 2}}
FUNCTIONS = DomainFunctions("US", VALUE_MAPS)
TEXTS = st.text(alphabet="aZ @.-+()İßΣς\x1c\u3000 0123456789", max_size=8) | st.sampled_from(
    ["(415) 555-0100", "+44 20 7946 0958", "415.555.0100", " A@B.org ", "Open", "Working", "x"]
)
# a batch's columns: mostly one kind each (text, booleans, whole numbers), sometimes mixed
COLUMN_VALUES = st.sampled_from(["text", "bool", "whole", "mixed", "null"]).flatmap(
    lambda kind: {
        "text": st.none() | TEXTS,
        "bool": st.none() | st.booleans(),
        "whole": st.none() | st.integers(-3, 3),
        "mixed": st.none() | TEXTS | st.booleans() | st.integers(0, 2) | st.just(1.5),
        "null": st.none(),
    }[kind].map(lambda value, kind=kind: (kind, value))
)
BATCHES = (
    st.integers(1, 6)
    .flatmap(
        lambda rows: st.fixed_dictionaries(
            {
                name: st.lists(COLUMN_VALUES, min_size=rows, max_size=rows).map(
                    lambda cells: [v for _, v in cells]
                )
                for name in "abc"
            }
        )
    )
    .map(
        lambda columns: [
            {name: column[row] for name, column in columns.items()} for row in range(len(columns["a"]))
        ]
    )
)

LEAVES = st.sampled_from(["a", "b", "c", "missing", "'Open'", "'x'", "''", "`true`", "`null`", "`2`"])


def _call(name: str, *args: str) -> str:
    return f"{name}({', '.join(args)})"


EXPRESSIONS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.builds(_call, st.sampled_from(["lower", "upper", "trim", "email", "phone_e164"]), inner),
        st.builds(lambda e: f"phone_e164({e}, 'GB')", inner),
        st.builds(lambda e: f"replace({e}, 'a', '-')", inner),
        st.builds(lambda e, m: f"value_map({e}, '{m}')", inner, st.sampled_from(sorted(VALUE_MAPS))),
        st.builds(lambda *es: _call("coalesce", *es), inner, inner, inner),
        st.builds(
            lambda left, op, right: f"({left} {op} {right})",
            inner,
            st.sampled_from(["||", "&&", "==", "!="]),
            inner,
        ),
        st.builds(lambda e: f"!({e})", inner),
    ),
    max_leaves=5,
)


def _interpreted(text: str, record: dict):
    try:
        return ("value", jmespath.search(text, record, options=jmespath.Options(custom_functions=FUNCTIONS)))
    except jmespath.exceptions.JMESPathError as e:
        return ("error", type(e).__name__)


def _evaluated(compiled, batch: list[dict]) -> list | None:
    frame, mixed = frame_of(batch)
    form = column_form(compiled, frame.schema, mixed, FUNCTIONS)
    return None if form is None else frame.with_columns(form.alias("value"))["value"].to_list()


@settings(max_examples=600, deadline=None)
@given(text=EXPRESSIONS, batch=BATCHES)
def test_a_column_form_gives_what_the_interpreter_gives(text, batch):
    columns = _evaluated(compile_expression(text, FUNCTIONS), batch)
    if columns is None:
        return  # run per record, as before
    for record, value in zip(batch, columns, strict=True):
        assert _interpreted(text, record) == ("value", value), record
        assert type(value) is type(_interpreted(text, record)[1])


@settings(max_examples=200, deadline=None)
@given(holes=st.lists(EXPRESSIONS, min_size=1, max_size=3), batch=BATCHES)
def test_a_template_column_form_renders_what_the_template_renders(holes, batch):
    template = compile_template(" - ".join(f"{{{{ {hole} }}}}" for hole in holes) + "!", FUNCTIONS)
    columns = _evaluated(template, batch)
    if columns is not None:
        assert columns == [template(record) for record in batch]


@pytest.mark.parametrize(
    "text",
    ["a", "lower(trim(a))", "email(b)", "phone_e164(a)", "a || b", "a && 'x'", "a == b", "a != 'Open'",
     "value_map(a, 'status')", "coalesce(a, b, 'none')", "upper(a) || '[not provided]'", "!(a)"],
)  # fmt: skip
def test_the_common_shapes_over_text_columns_have_a_column_form(text):
    batch = [{"a": " Open ", "b": "X@Y.org"}, {"a": None, "b": "(415) 555-0100"}, {"b": ""}]
    assert _evaluated(compile_expression(text, FUNCTIONS), batch) is not None


@pytest.mark.parametrize(
    ("text", "batch"),
    [
        ("lower(a)", [{"a": True}]),  # JMESPath refuses it: the per-record form says so
        ("a", [{"a": "x"}, {"a": 1}]),  # a column of two kinds
        ("a.b", [{"a": {"b": 1}}]),  # nested paths run per record
        ("a", [{"a": 1.5}]),
        ("value_map(a, 'numbers')", [{"a": "1"}]),  # a map to numbers
        ("a", [{"a": 2**70}]),
    ],
)
def test_what_has_no_column_form_is_left_to_the_interpreter(text, batch):
    assert _evaluated(compile_expression(text, FUNCTIONS), batch) is None


def test_each_distinct_phone_of_a_batch_is_parsed_once():
    batch = [{"a": "(415) 555-0100"}] * 3 + [{"a": "not a phone"}, {"a": None}]
    frame, mixed = frame_of(batch)
    form = column_form(compile_expression("phone_e164(a)", FUNCTIONS), frame.schema, mixed, FUNCTIONS)
    assert frame.with_columns(form)["a"].to_list() == ["+14155550100"] * 3 + [None, None]
    assert pl.Series(frame["a"]).n_unique() == 3

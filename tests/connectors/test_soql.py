"""SOQL literals: escaping, LIKE patterns, and values typed by the field they are compared with."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from engine.connectors import soql


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", "'plain'"),
        ("O'Brien", r"'O\'Brien'"),
        ("back\\slash", r"'back\\slash'"),
        ("\\'", r"'\\\''"),
        ('say "hi"', r"'say \"hi\"'"),
        ("two\nlines\ttab\r", r"'two\nlines\ttab\r'"),
        ("100% sure_x", "'100% sure_x'"),  # not LIKE: % and _ are plain characters
        ("", "''"),
    ],
)
def test_quote_escapes_quotes_backslashes_and_control_characters(text, quoted):
    assert soql.quote(text) == quoted


def test_like_pattern_also_escapes_wildcards():
    assert soql.like_pattern("100% sure_x") == r"'100\% sure\_x'"
    assert soql.like_pattern("O'Brien\\") == r"'O\'Brien\\'"


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("003000000000001AAA", "id", "'003000000000001AAA'"),
        ("003000000000001", "reference", "'003000000000001'"),
        ("003' OR Id != '", "id", None),  # not an id: cannot match, never reaches the query
        ("abc", "id", None),
        (42, "int", "42"),
        ("42", "double", "42"),
        (1.5, "currency", "1.5"),
        (1e20, "double", "100000000000000000000"),  # SOQL has no exponent
        (Decimal("0.000001"), "percent", "0.000001"),
        (2.50, "double", "2.5"),
        ("12 apples", "int", None),
        (True, "int", None),
        (float("nan"), "double", None),
        (True, "boolean", "true"),
        ("FALSE", "boolean", "false"),
        ("yes", "boolean", None),
        (date(2026, 3, 1), "date", "2026-03-01"),
        ("2026-03-01", "date", "2026-03-01"),
        ("2026-03-01T10:00:00Z", "date", None),
        (datetime(2026, 3, 1, 10, tzinfo=UTC), "date", None),
        (
            datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))),
            "datetime",
            "2026-03-01T10:30:00Z",
        ),
        (datetime(2026, 3, 1, 10, 0, 0, 123456), "datetime", "2026-03-01T10:00:00.123Z"),  # naive is UTC
        ("2026-03-01T10:00:00.000+0000", "datetime", "2026-03-01T10:00:00Z"),
        ("not a time", "datetime", None),
        ("Acme", "string", "'Acme'"),
        (12345, "phone", "'12345'"),
        (True, "string", "'true'"),
        (2.0, "string", "'2'"),
        ("Web", "picklist", "'Web'"),
        (None, "string", None),
    ],
)
def test_literal_is_typed_by_the_field(value, kind, expected):
    assert soql.literal(value, kind) == expected


def test_kind_of_guesses_the_field_type_from_a_python_value():
    assert [soql.kind_of(v) for v in (True, 3, 2.5, datetime.now(UTC), date.today(), "x")] == [
        "boolean", "double", "double", "datetime", "date", "string",
    ]  # fmt: skip


def test_datetime_literal_keeps_milliseconds_only_when_there_are_some():
    assert soql.datetime_literal(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert (
        soql.datetime_literal(datetime(2026, 1, 2, 3, 4, 5, 7000, tzinfo=UTC)) == "2026-01-02T03:04:05.007Z"
    )


def test_is_record_id():
    assert soql.is_record_id("0038d0000000001AAA") and soql.is_record_id("0038d0000000001")
    assert not soql.is_record_id("0038d00000000") and not soql.is_record_id(42)


@pytest.mark.parametrize(
    ("condition", "ok"),
    [
        ("LeadSource = 'Web'", True),
        ("(A = 1 OR B = 2) AND C IN ('x', 'y')", True),
        ("Name = 'a (b'", True),  # parentheses inside text do not count
        (r"Name = 'it\'s ) here'", True),
        ("Email = 'x') OR (Name != null", False),  # would escape the parentheses it is put in
        ("(A = 1", False),
        ("Name = 'open", False),
        (r"Name = 'ends in backslash\\'", True),
    ],
)
def test_balanced_conditions_cannot_leave_their_parentheses(condition, ok):
    assert soql.balanced(condition) is ok

"""SOQL literals: every value syncmap puts into a query is written here, escaped and typed.

Values come from the other system's records (names with quotes, emails with backslashes, phone
numbers typed as text), so a value pasted into SOQL unescaped would be an injection, and a value
of the wrong type for its field a MALFORMED_QUERY. ``literal`` formats a value for a field of a
given Salesforce describe type, or says (None) that no record can hold it, so the caller leaves
it out of the query instead of letting Salesforce reject the whole query.

This module is pure: no I/O, no knowledge of connectors.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm
_ESCAPES = str.maketrans(
    {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
)
_LIKE_ESCAPES = str.maketrans({"%": "\\%", "_": "\\_"})
_RECORD_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")

NUMBER_TYPES = frozenset({"int", "long", "double", "currency", "percent"})
ID_TYPES = frozenset({"id", "reference"})


def escape(text: str) -> str:
    """Text to go between single quotes: quotes, backslashes and control characters escaped."""
    return text.translate(_ESCAPES)


def quote(text: str) -> str:
    """A SOQL string literal: ``O'Brien`` -> ``'O\\'Brien'``."""
    return "'" + escape(text) + "'"


def like_pattern(text: str) -> str:
    """A LIKE literal matching ``text`` literally; add ``%`` around it for 'contains'."""
    return "'" + escape(text).translate(_LIKE_ESCAPES) + "'"


def is_record_id(value: Any) -> bool:
    """Whether a value has the shape of a Salesforce record id (15 or 18 letters and digits)."""
    return isinstance(value, str) and _RECORD_ID.fullmatch(value) is not None


def datetime_literal(moment: datetime) -> str:
    """A dateTime literal in UTC, milliseconds kept when there are any: ``2026-01-02T03:04:05Z``."""
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = moment.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def number_literal(value: Any) -> str | None:
    """A number without exponent (SOQL has none); None for booleans, NaN and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def boolean_literal(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower()
    return None


def date_literal(value: Any) -> str | None:
    if isinstance(value, datetime):
        return None  # a moment is not a day; comparing it to a date field would guess a timezone
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat() if len(value.strip()) == 10 else None
        except ValueError:
            return None
    return None


def moment_literal(value: Any) -> str | None:
    """A dateTime literal from a datetime or ISO 8601 text (no offset means UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            return None
    return datetime_literal(value) if isinstance(value, datetime) else None


def balanced(condition: str) -> bool:
    """Whether the parentheses outside string literals pair up and every literal is closed, so a
    condition wrapped in parentheses cannot close them and escape into the rest of the query."""
    depth, quoted, escaped = 0, False, False
    for char in condition:
        if escaped:
            escaped = False
        elif quoted:
            escaped, quoted = char == "\\", char != "'"
        elif char == "'":
            quoted = True
        elif char in "()":
            depth += 1 if char == "(" else -1
            if depth < 0:
                return False
    return depth == 0 and not quoted


def kind_of(value: Any) -> str:
    """The describe type a Python value suggests, for fields whose type is unknown."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "double"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    return "string"


def literal(value: Any, field_type: str) -> str | None:
    """``value`` as a SOQL literal for a field of describe type ``field_type``; None when the
    value cannot be held by such a field (so it cannot match and is left out of the query)."""
    if value is None:
        return None
    if field_type in ID_TYPES:
        return quote(value) if is_record_id(value) else None
    if field_type in NUMBER_TYPES:
        return number_literal(value)
    if field_type == "boolean":
        return boolean_literal(value)
    if field_type == "date":
        return date_literal(value)
    if field_type == "datetime":
        return moment_literal(value)
    if isinstance(value, bool):
        return quote("true" if value else "false")
    if isinstance(value, float | Decimal):
        number = number_literal(value)
        return None if number is None else quote(number)
    if isinstance(value, datetime | date):
        return quote(value.isoformat())
    return quote(str(value))

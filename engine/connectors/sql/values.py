"""Values between syncmap and a database: a column's value as the engine sees values (times as
ISO text, exact numbers as int or float), and a value in the Python type a column takes, or the
record refused naming the column."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from engine.connectors.local import RecordRefused
from engine.times import format_time, parse_time


class Unreadable(ValueError):
    """A value read that no other system could hold."""


class Unconvertible(Exception):
    """A value in a result that the driver or SQLAlchemy could not convert."""


AS_READ = frozenset({str, int, bool, type(None)})  # most values: the engine sees them as read


def from_database(value: Any) -> Any:
    """A column value as the engine sees values: times as syncmap's ISO text, exact numbers as
    int or float, JSON text of a JSON column as what it holds."""
    if type(value) in AS_READ:
        return value
    if isinstance(value, datetime):
        return format_time(aware(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | float) and not math.isfinite(value):
        raise Unreadable(f"`{value}`, a number no other system can hold")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if value is not None and not isinstance(value, str | int | float | bool | dict | list):
        return str(value)  # uuid, interval, ...
    return value


TIMES = frozenset({datetime, type(None)})  # a column of times, converted a column at a time


def format_times(column: Sequence[datetime | None]) -> list[str | None]:
    """A column of times as syncmap's ISO text (``from_database`` of each, without its checks)."""
    return [None if moment is None else format_time(aware(moment)) for moment in column]


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_column(column: sa.Column, value: Any) -> Any:
    """``value`` in the Python type the column takes; RecordRefused naming the column when it
    cannot be (the record fails alone)."""
    if value is None:
        return None
    try:
        converted = _convert(column, value)
    except (ValueError, TypeError, InvalidOperation, ArithmeticError):
        converted = _REFUSED
    if converted is _REFUSED:
        raise RecordRefused(f"column `{column.name}` ({column.type}) cannot hold {value!r}")
    return converted


_REFUSED = object()


def _convert(column: sa.Column, value: Any) -> Any:
    kind = column.type
    if isinstance(kind, sa.Boolean):
        if isinstance(value, bool):
            return value
        words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        return words.get(str(value).strip().lower(), _REFUSED)
    if isinstance(kind, sa.DateTime):
        moment = value if isinstance(value, datetime) else parse_time(str(value))
        moment = aware(moment)
        return moment if kind.timezone else moment.astimezone(UTC).replace(tzinfo=None)
    if isinstance(kind, sa.Date):
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    if isinstance(kind, sa.Integer):
        if isinstance(value, bool):
            return _REFUSED
        number = Decimal(str(value).strip())
        return int(number) if number == number.to_integral_value() else _REFUSED
    if isinstance(kind, sa.Float):
        return _REFUSED if isinstance(value, bool) else float(value)
    if isinstance(kind, sa.Numeric):
        return _REFUSED if isinstance(value, bool) else Decimal(str(value).strip())
    if isinstance(kind, sa.JSON):
        return value
    if isinstance(kind, (sa.String, sa.Uuid)):
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return str(value).lower() if isinstance(value, bool) else str(value)
    return value


def for_column(column: sa.ColumnElement, value: Any) -> Any:
    """A value to compare with a table's column; None when the column's type cannot hold it."""
    try:
        return to_column(column, value)
    except RecordRefused:
        return None

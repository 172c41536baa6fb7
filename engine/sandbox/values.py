"""Field values on the wire: checking what clients send and formatting what the org returns.

One place decides how a JSON or CSV value becomes a stored value for a field type, and which
Salesforce error a wrong value earns, so REST, collections and Bulk API behave identically.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from engine.sandbox import ids
from engine.sandbox.errors import ApiError, json_parse_error
from engine.sandbox.schema import ID_TYPES, NUMBER_TYPES, STRING_TYPES, Field

_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?", re.IGNORECASE
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def format_datetime(moment: datetime) -> str:
    """Salesforce's datetime format: ``2026-11-23T10:00:00.000+0000``, always in UTC."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime | None:
    """A timezone-aware datetime from the ISO forms Salesforce accepts; None when malformed."""
    match = _DATETIME.fullmatch(text.strip())
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    zone = "+0000" if zone in (None, "Z", "z") else zone.replace(":", "")
    fraction = (fraction or ".0")[1:].ljust(6, "0")
    try:
        return datetime.strptime(f"{day}T{clock}.{fraction}{zone}", "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def coerce(field: Field, value: Any) -> Any:
    """The stored form of a value sent for a field, or the ApiError Salesforce answers with."""
    if value is None or value == "":
        return None
    if field.type in STRING_TYPES:
        return _check_text(field, _as_text(field, value))
    if field.type in ID_TYPES:
        return _check_id(field, value)
    if field.type == "boolean":
        return _as_boolean(field, value)
    if field.type in NUMBER_TYPES:
        return _as_number(field, value)
    if field.type == "date":
        return _as_date(field, value)
    return _as_datetime(field, value)


def from_csv(field: Field, text: str) -> Any:
    """A Bulk API CSV cell as a value to coerce: empty means 'leave as is', ``#N/A`` means null."""
    if text == "#N/A":
        return None
    if field.type == "boolean":
        return text.lower() == "true" if text.lower() in ("true", "false") else text
    if field.type in NUMBER_TYPES:
        try:
            return int(text) if field.type == "int" else float(text)
        except ValueError:
            return text
    return text


def to_csv(value: Any) -> str:
    """A stored value as a Bulk API result cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _deserialize_error(field: Field, kind: str, value: Any) -> ApiError:
    return json_parse_error(
        f"Cannot deserialize instance of {kind} from {type(value).__name__} value {value} "
        f"or request may be missing a required field ({field.name})"
    )


def _as_text(field: Field, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _deserialize_error(field, "string", value)
    return str(value)


def _check_text(field: Field, text: str) -> str:
    if field.length and len(text) > field.length:
        raise ApiError(
            400,
            "STRING_TOO_LONG",
            f"{field.label}: data value too large: {text} (max length={field.length})",
            (field.name,),
        )
    if field.type == "email" and not _EMAIL.fullmatch(text):
        raise ApiError(
            400,
            "INVALID_EMAIL_ADDRESS",
            f"{field.label}: invalid email address: {text}",
            (field.name,),
        )
    if field.restricted and text not in field.picklist:
        raise ApiError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{field.label}: bad value for restricted picklist field: {text}",
            (field.name,),
        )
    return text


def _check_id(field: Field, value: Any) -> str:
    record_id = ids.normalize(value) if isinstance(value, str) else None
    if record_id is None:
        raise ApiError(
            400,
            "MALFORMED_ID",
            f"{field.label}: id value of incorrect type: {value}",
            (field.name,),
        )
    return record_id


def _as_boolean(field: Field, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _deserialize_error(field, "boolean", value)


def _as_number(field: Field, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _deserialize_error(field, field.type, value)
    try:
        number = float(value)
    except ValueError:
        raise _deserialize_error(field, field.type, value) from None
    if field.type == "int":
        if not number.is_integer():
            raise _deserialize_error(field, "int", value)
        return int(number)
    return number


def _as_date(field: Field, value: Any) -> str:
    parsed = parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        raise _deserialize_error(field, "date", value)
    return parsed.isoformat()


def _as_datetime(field: Field, value: Any) -> str:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise _deserialize_error(field, "datetime", value)
    return format_datetime(parsed)

"""Match keys in the form both sides compare them in: phones in E.164, emails trimmed and
lower-cased, other text lower-cased or trimmed as the document says."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.phones import phone_e164
from engine.records import get_path

if TYPE_CHECKING:
    from engine.plan import MatchKey


def normalize_key(value: Any, how: str, region: str) -> str | None:
    """A match key in comparable form; None when the record has no usable key."""
    if value in (None, ""):
        return None
    text = str(value)
    if how == "phone":
        return phone_e164(text, region)
    if how == "email":
        text = text.strip().lower()
        return text if "@" in text else None
    if how == "lower":
        return text.strip().lower() or None
    if how == "trim":
        return text.strip() or None
    return text


def match_key_values(
    match: Sequence[MatchKey], side: str, values: Mapping[str, Any], region: str
) -> Iterator[tuple[int, Any, str | None]]:
    """(key index, value as the record holds it, comparable form or None) of every match key
    in a record of ``side``: the source side's key is an expression, the target's some fields."""
    for index, key in enumerate(match):
        raw = [key.source.evaluate(values)] if side == "source" else [get_path(values, f) for f in key.target_fields]
        for value in raw:
            yield index, value, normalize_key(value, key.normalize, region)

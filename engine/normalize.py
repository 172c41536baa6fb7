"""Match keys in the form both sides compare them in: phones in E.164, emails trimmed and
lower-cased, other text lower-cased or trimmed as the document says."""

from __future__ import annotations

from typing import Any

from engine.expressions import phone_e164


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

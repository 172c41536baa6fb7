"""Times as syncmap keeps them: ISO 8601 read with or without an offset (none is UTC), written in
one spelling that also sorts as text, and a clock whose stamps never repeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine.errors import ConnectorError

MICROSECOND = timedelta(microseconds=1)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as an aware datetime; a time without an offset is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    """The one spelling of a time that syncmap stores, e.g. ``2026-11-23T10:00:00.123456+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_time(text: Any, what: str) -> str:
    """``text`` in the stored spelling; ConnectorError naming ``what`` when it is not a time."""
    try:
        return format_time(parse_time(str(text)))
    except ValueError as e:
        raise ConnectorError(
            f"{what} `{text}` is not an ISO 8601 time",
            hint="write times like 2026-11-23T10:00:00Z or 2026-11-23T10:00:00.123456+00:00",
        ) from e


class Clock:
    """Hands out strictly increasing UTC times: the wall clock, or 1 µs after the last time handed
    out or observed when the wall clock has not moved past it."""

    def __init__(self) -> None:
        self.last: datetime | None = None

    def observe(self, stamp: str | None) -> None:
        """Make later ticks come after ``stamp`` (a time already stored, perhaps by someone else)."""
        if stamp is not None:
            moment = parse_time(stamp)
            if self.last is None or moment > self.last:
                self.last = moment

    def tick(self) -> str:
        now = datetime.now(UTC)
        if self.last is not None and now <= self.last:
            now = self.last + MICROSECOND
        self.last = now
        return format_time(now)


def parse_datetime(value: str) -> datetime | None:
    """Read ISO dates and datetimes (Python's reader takes `Z` and Salesforce's `+0000` offsets);
    None when unreadable. A time without an offset is UTC."""
    try:
        return parse_time(value.strip())
    except ValueError:
        return None


def seconds_before(stamp: str, seconds: float) -> str:
    """A modification time ``seconds`` earlier, in the same spelling (for comparing with others)."""
    if not seconds:
        return stamp
    return (parse_datetime(stamp) - timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def newer(first: str | None, second: str | None) -> bool:
    """True when the first modification time is later (an unknown time never wins)."""
    a = parse_datetime(first) if first else None
    b = parse_datetime(second) if second else None
    if a is None or b is None:
        return a is not None
    return a > b

"""When `syncmap watch` runs a job next: every interval (`30s`, `5m`, `6h`, `1d`), at the times
of a cron expression (`0 6 * * 1-5`, read by croniter in the document's time zone), or only
when asked (`manual`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter

SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def interval_seconds(text: str | None) -> float | None:
    """`5m` as 300.0; None for anything else (`manual`, a cron expression, no schedule)."""
    if not text or text[-1:] not in SECONDS or not text[:-1].isdigit():
        return None
    return float(text[:-1]) * SECONDS[text[-1]]


def cron_problem(text: str | None) -> str | None:
    """Why a schedule of five fields is no cron expression; None when it is one (or no cron at all)."""
    if not text or len(text.split()) != 5 or croniter.is_valid(text):
        return None
    return f"`{text}` is not a cron expression (minute hour day-of-month month day-of-week)"


def seconds_until_next(schedule: str | None, timezone: str, now: datetime) -> float | None:
    """How long from ``now`` (aware) until the schedule's next run; None: only when asked."""
    every = interval_seconds(schedule)
    if every is not None or not schedule or len(schedule.split()) != 5:
        return every
    local = now.astimezone(ZoneInfo(timezone))
    upcoming: datetime = croniter(schedule, local).get_next(datetime)
    return (upcoming - local).total_seconds()

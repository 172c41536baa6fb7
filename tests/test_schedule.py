"""Schedules: an interval, a cron expression read in the document's time zone, or `manual`; a
cron expression that cannot be one is a located error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.schedule import seconds_until_next
from tests.conftest import run_syncmap, write_project

DOCUMENT = """\
syncmap: 2
name: timed
schedule: "{schedule}"
connections:
  p: {{connector: sqlite, settings: {{path: a.db}}}}
objects:
  o:
    source: {{connection: p, object: a}}
    target: {{connection: p, object: b}}
"""
FRIDAY_4AM_UTC = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "timezone", "seconds"),
    [
        ("5m", "UTC", 300),
        ("1d", "UTC", 86400),
        ("manual", "UTC", None),
        (None, "UTC", None),
        ("0 6 * * *", "UTC", 2 * 3600),
        ("0 6 * * *", "Europe/Paris", 3600),  # 06:00 in Paris is 05:00 UTC in winter
        ("0 6 * * 1-5", "America/New_York", 7 * 3600),  # 04:00 UTC is 23:00 on Thursday there
        ("30 6 * * 6", "UTC", 26.5 * 3600),  # Saturday
    ],
)
def test_the_next_run_is_due_after_the_schedule_says(schedule, timezone, seconds):
    assert seconds_until_next(schedule, timezone, FRIDAY_4AM_UTC) == seconds


def test_a_cron_schedule_is_checked_and_located(tmp_path):
    root = write_project(tmp_path, {"ok.yaml": DOCUMENT.format(schedule="*/15 8-18 * * 1-5")})
    assert run_syncmap("validate", "ok.yaml", cwd=root).returncode == 0
    (root / "bad.yaml").write_text(DOCUMENT.format(schedule="61 * * * *"))
    bad = run_syncmap("validate", "bad.yaml", cwd=root)
    assert bad.returncode == 1 and "bad.yaml:3:11: error: `61 * * * *` is not a cron expression" in bad.stderr
    (root / "words.yaml").write_text(DOCUMENT.format(schedule="every day"))
    words = run_syncmap("validate", "words.yaml", cwd=root)
    assert "a cron expression such as `0 6 * * 1-5`" in words.stderr

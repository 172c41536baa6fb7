"""An org's daily API calls, as every Salesforce answer reports them (`Sforce-Limit-Info`), and
what a run's writes would spend of them: the connector's side of stopping a run before it eats
into the calls an org keeps for its other integrations."""

from __future__ import annotations

import math
from collections.abc import Mapping

from simple_salesforce import Salesforce

BULK_JOB_CALLS = 5  # create, upload, close, a status check, its results (failures are read only if some failed)
# a job of more rows than each is still running at one more status check: the first, then the
# one that measures its pace (see `bulk.BulkJob._wait`)
LONG_JOB_ROWS = (5_000, 20_000)


class OrgUsage:
    """The org's calls used today and its daily limit, from the latest answer."""

    def __init__(self, reserve: int | None):
        self.reserve = reserve  # None: a tenth of the daily limit
        self.used_and_limit: tuple[int, int] | None = None

    def note(self, sf: Salesforce) -> None:
        usage = sf.api_usage.get("api-usage")
        if usage is not None:
            self.used_and_limit = (usage.used, usage.total)

    def calls_left(self) -> tuple[int, int, int, int] | None:
        """(calls left before the reserve, used today, daily limit, reserve), None before any answer."""
        if self.used_and_limit is None:
            return None
        used, limit = self.used_and_limit
        reserve = self.reserve if self.reserve is not None else limit // 10
        return limit - used - reserve, used, limit, reserve


def write_calls(
    counts: Mapping[tuple[str, str], int], bulk_threshold: int, batch_size: int, job_size: int
) -> int:
    """The API calls writing this many records of each (type, operation) takes, handed over
    ``job_size`` at a time: a Bulk job for each hand-over above the threshold, one Collections
    call per batch below it."""
    calls = 0
    for count in counts.values():
        full, rest = divmod(count, job_size)
        for size in [job_size] * full + [rest]:
            if size > bulk_threshold:
                calls += bulk_job_calls(size)
            else:
                calls += math.ceil(size / batch_size)
    return calls


def bulk_job_calls(rows: int) -> int:
    """The calls of one Bulk job of this many rows."""
    return BULK_JOB_CALLS + sum(rows > long for long in LONG_JOB_ROWS)

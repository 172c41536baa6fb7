"""What the API's handlers act on: the org, its query cursors and Bulk jobs, its faults and its
usage. The handlers (`rest.py`, `composite.py`, `bulk.py`) take it; `api.py` routes calls to them
and owns it, so no handler imports the router."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.sandbox.faults import Faults
from engine.sandbox.jobs import BulkJobs
from engine.sandbox.org import Org
from engine.sandbox.paging import QueryPages
from engine.sandbox.stats import ApiStats


@dataclass
class ApiState:
    org: Org
    faults: Faults
    pages: QueryPages
    daily_api_requests: int
    stats: ApiStats = field(default_factory=ApiStats)
    bulk: BulkJobs = field(default_factory=BulkJobs)

    def reset(self) -> None:
        """Counters, cursors and jobs emptied (the records are the org's to reset)."""
        self.stats.reset()
        self.pages = QueryPages(self.pages.page_size)
        self.bulk = BulkJobs()

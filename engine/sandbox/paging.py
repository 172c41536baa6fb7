"""queryMore: query results beyond the first page wait under a locator until they are read.

Salesforce returns ``nextRecordsUrl`` like ``/services/data/v59.0/query/01gXX...-2000``; the part
after the dash is the position of the next record. Pages are kept in memory, the oldest dropped
once too many queries are left unread, as an org expires idle cursors.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from typing import Any

from engine.sandbox import ids
from engine.sandbox.errors import ApiError

MAX_OPEN_CURSORS = 200
CURSOR_PREFIX = "01g"


class QueryPages:
    """Open query cursors and the page size they are read with."""

    def __init__(self, page_size: int):
        self.page_size = page_size
        self._cursors: OrderedDict[str, tuple[list[dict[str, Any]], int]] = OrderedDict()
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def first_page(
        self, records: list[dict[str, Any]], total_size: int, endpoint: str, page_size: int
    ) -> dict[str, Any]:
        """The answer to a query: the first page, and a nextRecordsUrl when more remain."""
        if len(records) <= page_size:
            return {"totalSize": total_size, "done": True, "records": records}
        with self._lock:
            cursor = ids.make_id(CURSOR_PREFIX, next(self._numbers))
            self._cursors[cursor] = (records, page_size)
            while len(self._cursors) > MAX_OPEN_CURSORS:
                self._cursors.popitem(last=False)
        return self._page(cursor, records, 0, endpoint, page_size)

    def next_page(self, locator: str, endpoint: str) -> dict[str, Any]:
        """The page a nextRecordsUrl points at; INVALID_QUERY_LOCATOR for unknown or expired."""
        cursor, _, position = locator.partition("-")
        with self._lock:
            records, size = self._cursors.get(cursor, ([], 0))
        if not position.isdigit() or int(position) >= len(records):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, records, int(position), endpoint, size)

    def _page(
        self, cursor: str, records: list[dict[str, Any]], start: int, endpoint: str, size: int
    ) -> dict[str, Any]:
        end = start + size
        page = {"totalSize": len(records), "done": end >= len(records)}
        if end < len(records):
            page["nextRecordsUrl"] = f"{endpoint}/{cursor}-{end}"
        else:
            with self._lock:
                self._cursors.pop(cursor, None)
        return page | {"records": records[start:end]}

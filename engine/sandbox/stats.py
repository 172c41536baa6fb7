"""Counting API calls per endpoint kind, as the org's API usage limits would see them.

syncmap promises minimal Salesforce traffic; these counts let tests and consultants check it.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class ApiStats:
    """Calls by endpoint kind (``query``, ``create``, ``collections_create``...) and by status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()

    def count(self, kind: str, status: int) -> None:
        with self._lock:
            self._kinds[kind] += 1
            self._statuses[str(status)] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self._kinds.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self._kinds.values()),
                "by_kind": dict(sorted(self._kinds.items())),
                "by_status": dict(sorted(self._statuses.items())),
            }

    def reset(self) -> None:
        with self._lock:
            self._kinds.clear()
            self._statuses.clear()

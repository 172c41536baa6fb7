"""Fault injection: make the sandbox fail the way a busy org does, reproducibly.

A share of API calls answered REQUEST_LIMIT_EXCEEDED (403) or SERVER_UNAVAILABLE (503), a delay
before every answer, and a share of records in collections and bulk jobs failing with
UNABLE_TO_LOCK_ROW. Every draw comes from one RNG seeded from the settings, so a test that
configures the same seed sees the same failures.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass
from typing import Any

from engine.sandbox.errors import ApiError


@dataclass(frozen=True)
class FaultSettings:
    """How often and how the sandbox fails; rates are between 0 and 1."""

    request_limit_rate: float = 0.0
    unavailable_rate: float = 0.0
    lock_rate: float = 0.0
    delay_ms: int = 0
    seed: int = 0
    bulk_fail_after: int = 0  # an ingest job fails once it wrote this many rows (0: never)
    bulk_status_unavailable: bool = False  # a job's status answers 503 while its rows are written

    def __post_init__(self) -> None:
        for name in ("request_limit_rate", "unavailable_rate", "lock_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.delay_ms < 0 or self.bulk_fail_after < 0:
            raise ValueError("delay_ms and bulk_fail_after must not be negative")


class Faults:
    """The current fault settings and the seeded RNG that applies them."""

    def __init__(self, settings: FaultSettings | None = None):
        self._lock = threading.Lock()
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings and restart the RNG from their seed."""
        with self._lock:
            self.settings = settings
            self._random = random.Random(settings.seed)

    def update(self, changes: dict[str, Any]) -> FaultSettings:
        """New settings from some fields of the current ones (the admin endpoint's JSON)."""
        known = {f.name for f in dataclasses.fields(FaultSettings)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        settings = dataclasses.replace(self.settings, **changes)
        self.configure(settings)
        return settings

    def check_request(self) -> None:
        """Fail this API call if the dice say so."""
        limit, unavailable = self._draw(), self._draw()
        if limit < self.settings.request_limit_rate:
            raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if unavailable < self.settings.unavailable_rate:
            raise ApiError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")

    def check_record_lock(self, record_id: str | None) -> None:
        """Fail one record of a collection or bulk job if the dice say so."""
        if self._draw() < self.settings.lock_rate:
            raise ApiError(
                400,
                "UNABLE_TO_LOCK_ROW",
                f"unable to obtain exclusive access to this record or 1 records: {record_id or ''}",
            )

    @property
    def delay_seconds(self) -> float:
        return self.settings.delay_ms / 1000

    def _draw(self) -> float:
        with self._lock:
            return self._random.random()

"""What the state store hands out: links, leases, journal entries, and its clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def now() -> str:
    """The time in UTC, always with microseconds, so stored times also sort as text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Link:
    source_type: str
    source_id: str
    target_type: str
    target_id: str
    made_by: str

    @property
    def shared(self) -> bool:
        """Whether this source record shares its target with the one that made it (`link_all`)."""
        return self.made_by.startswith("shared:")


@dataclass(frozen=True)
class Decision:
    """A person's decision on a held record (`syncmap resolve`): `link` it to `candidate`, `create`
    its partner, `keep_source` or `keep_target` values on its first match, or `ignore` it."""

    step: str
    side: str
    record_id: str
    kind: str
    candidate: str | None = None
    made_at: str | None = None
    applied_run: int | None = None


@dataclass(frozen=True)
class Lease:
    """A run's claim on its job: who holds it, since when, and when it last said it was alive."""

    job: str
    owner: str  # unique per claim
    command: str  # `apply`, `watch`, `delete`
    host: str
    pid: int
    started: str
    heartbeat: str


@dataclass(frozen=True)
class JournalEntry:
    id: int
    step: str
    op: str
    side: str
    record_type: str
    origin_id: str
    record_id: str | None
    payload: dict[str, Any]

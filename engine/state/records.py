"""What the state store hands out: links, leases, journal entries, and its clock."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from engine.records import PLAIN_TYPES

CONTAINERS = (dict, list, tuple)
_ENCODERS = {False: msgspec.json.Encoder(), True: msgspec.json.Encoder(order="sorted")}


def now() -> str:
    """The time in UTC, always with microseconds, so stored times also sort as text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def stored_json(data: dict[str, Any] | list[Any], sort_keys: bool = False) -> str:
    """A journal batch or agreed values as the store keeps them: what ``json.dumps(data,
    default=str)`` gives, read back. Plain values (text, numbers, flags, in lists and under
    text keys) are written by msgspec, five times as fast; any other (a time, a NaN, a lone
    surrogate) by the json module, so a stored value keeps its spelling across versions."""
    if _plain(data):
        try:
            return _ENCODERS[sort_keys].encode(data).decode()
        except UnicodeEncodeError:  # a lone surrogate, which the json module escapes
            pass
    return json.dumps(data, sort_keys=sort_keys, default=str)


def _plain(data: dict[str, Any] | list[Any] | tuple[Any, ...]) -> bool:
    if type(data) is dict:
        if not all(type(key) is str for key in data):
            return False
        data = data.values()
    for value in data:
        kind = type(value)
        if kind in PLAIN_TYPES:
            continue
        if not ((kind is float and math.isfinite(value)) or (kind in CONTAINERS and _plain(value))):
            return False
    return True


class Link(NamedTuple):
    """A pair of records, one on each side, and how it was made. (A named tuple: a step's links
    are read whole, a million at a time.)"""

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
    id: str  # `<batch>.<index>`
    step: str
    op: str
    side: str
    record_type: str
    origin_id: str
    record_id: str | None
    payload: dict[str, Any]

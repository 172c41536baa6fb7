"""Reading one side of a step: the records changed since the side's watermark, then those a past
run failed to write or held for a person (read again on every run until settled), then, with
`find_hard_deletes`, the linked records the read did not bring. The read ends with its mark: what
the step saves for the next run's read.

A read starts at the watermark itself (a time may hold more changes than were read), so the
records the last run read at exactly that time come again: unchanged, they are left out, and a
run with nothing new decides nothing and fetches no partners.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from engine.connectors import Record, capabilities
from engine.plan import Step
from engine.records import batched
from engine.run.context import RunContext
from engine.run.links import StepLinks
from engine.state import now
from engine.times import parse_datetime, seconds_before

LOOKUP_CHUNK = 2000  # linked ids looked up in one call


@dataclass
class ReadMark:
    """What a read leaves for the step to save: how many records it brought, the watermark (None:
    the last one stands), the records the connector will deliver again next time, warnings."""

    count: int = 0
    watermark: str | None = None
    seen: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class SideReader:
    """One side's read in one run of a step (see the module docstring)."""

    def __init__(self, step: Step, side: str, context: RunContext, links: StepLinks, read: set[str]):
        self.step, self.side, self.context = step, side, context
        self.spec = step.source if side == "source" else step.target
        self.connector = context.connector(self.spec.connection)
        self.links = links
        self.read = read  # the ids the step took from this read so far (see ``noted``)
        self.mark = ReadMark()
        state, job = context.state, context.job
        self.watermark = None if context.full else state.watermark(job, step.name, side)
        self.seen = state.seen_at_watermark(job, step.name, side) if self.watermark else {}
        self.since = self.watermark
        if self.spec.modified_within_seconds:  # a window is a limit even on a full run
            floor = datetime.now(UTC) - timedelta(seconds=self.spec.modified_within_seconds)
            if self.since is None or parse_datetime(self.since) < floor:
                self.since = floor.isoformat(timespec="microseconds")
        # every change since the last run is read (so a record not read has not changed)
        self.from_watermark = self.since is not None and self.since == self.watermark
        # the dead letters and held records of the side: read again on every run until settled
        again = [letter["record_id"] for letter in state.dead_letters(job, step.name) if letter["side"] == side]
        again += [held["record_id"] for held in state.holds(job, step.name) if held["side"] == side]
        self.again = dict.fromkeys(again)  # in their order, each once

    def total(self) -> int | None:
        """About how many records the read brings (for progress), when its connector can tell."""
        counts = [capabilities(self.connector).count(kind, self.since, self.spec.where) for kind in self.spec.types]
        return None if None in counts else sum(counts)  # type: ignore[arg-type]

    def records(self) -> Iterator[Record]:
        """The side's records, oldest change first; the mark is set once they are all read."""
        spec, watermark, since, seen = self.spec, self.watermark, self.since, self.seen
        started = now()
        # a full read reads back syncmap's own writes too: it is how drift is found
        own_writes = (
            ()
            if self.context.full
            else self.context.state.own_writes(self.context.job, self.step.name, self.side)
        )
        changed = (
            record
            for record_type in spec.types
            for record in self._located(self.connector.read(record_type, since=since, where=spec.where, own_writes=own_writes))
            if not (
                watermark and record.modified and record.modified <= watermark
                and seen.get(record.id) == content(record)
            )
        )  # fmt: skip
        # the records the connector will deliver again next time (from `reread_seconds` before
        # the newest time: reads come oldest first, so the window slides), digested at the end
        reread = capabilities(self.connector).reread_seconds
        count, newest, cutoff, recent = 0, None, "", deque()
        unstamped: Counter[str] = Counter()
        for record in itertools.chain(changed, self._retries(), self._vanished()):
            if record.modified is None and since is not None and not (record.deleted or record.unreadable):
                unstamped[record.type] += 1
            if record.modified:
                if newest is None or record.modified > newest:
                    newest, cutoff = record.modified, seconds_before(record.modified, reread)
                    while recent and recent[0].modified < cutoff:
                        recent.popleft()
                if record.modified >= cutoff:
                    recent.append(record)
            count += 1
            yield record
        self.mark.count = count
        self.mark.warnings = self._unstamped_warnings(unstamped)
        if newest or since is None or (reread and since == watermark):
            # never behind the watermark read from (its records may all be left out as seen); with
            # nothing new, when this read started (an overlap before `since` covers a clock behind ours)
            newest = max(newest or started, watermark or "")
            reread_from = seconds_before(newest, reread)
            kept = dict(seen) if watermark and watermark >= reread_from else {}
            self.mark.watermark = newest
            self.mark.seen = kept | {r.id: content(r) for r in recent if r.modified >= reread_from}

    def noted(self, record_id: str, every: bool) -> bool:
        """Whether the step keeps the id of a record read: every one (`every`), or only those the
        read asks about at its end (the linked ones, the dead letters and held ones); a first run
        over a million records keeps none."""
        return every or record_id in self.again or self.links.linked(self.side, record_id)

    def _located(self, records: Iterator[Record]) -> Iterator[Record]:
        """A read whose request a setting makes wrong (a list path the API does not have) is
        an error at that setting in the document."""
        with self.context.plan.settings_located(self.spec.connection):
            yield from records

    def _retries(self) -> Iterator[Record]:
        """The dead letters and held records of the side not read already (asked once the changes
        are all read): each is decided again on every run until it is written or resolved, so a
        held conflict stays in every plan."""
        missing = [record_id for record_id in self.again if record_id not in self.read]
        for record_type in self.spec.types if missing else ():
            yield from self.connector.get(record_type, missing).values()

    def _vanished(self) -> Iterator[Record]:
        """With `find_hard_deletes`, the linked records of the side the read did not bring, looked
        up by id (asked once the changes are all read): one the system no longer has is read as
        a deletion, as a table whose rows are removed rather than marked never says."""
        if not self.spec.find_hard_deletes:
            return
        wanted: dict[str, dict[str, None]] = defaultdict(dict)
        for link in self.links.by_source.values():
            record_type, record_id = (
                (link.source_type, link.source_id)
                if self.side == "source"
                else (link.target_type, link.target_id)
            )
            if record_id not in self.read:
                wanted[record_type][record_id] = None
        for record_type, ids in wanted.items():
            for chunk in batched(ids, LOOKUP_CHUNK):
                found = self.connector.get(record_type, chunk)
                yield from (Record(record_type, i, {}, deleted=True) for i in chunk if i not in found)

    def _unstamped_warnings(self, unstamped: Counter[str]) -> list[str]:
        """Records without a modification time are read on every run (no time says they did not
        change): said in the preview, as a table with many of them reads slowly."""
        warnings = []
        for record_type, count in unstamped.items():
            info = self.context.describe(self.spec.connection, record_type)
            if (
                modified := self.spec.modified_field or info.modified_field
            ):  # none at all: read whole by design
                warnings.append(
                    f"{count} record{'s' if count != 1 else ''} of `{record_type}` {'have' if count != 1 else 'has'} "
                    f"no `{modified}`: read again on every run, as no time tells whether they changed"
                )
        return warnings


def content(record: Record) -> str:
    """A short digest of what a record holds, to tell an unchanged record read again."""
    data = json.dumps([record.deleted, record.values], sort_keys=True, default=str)
    return hashlib.blake2b(data.encode(), digest_size=8).hexdigest()

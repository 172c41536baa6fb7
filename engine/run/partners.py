"""The records of both sides a step's decisions look at: those this run read, and their
partners, fetched one batched call per record type, or stood in for by the values their pair
agreed on when those are known to be all the partner holds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, MutableMapping
from typing import Any

from engine.connectors import Record
from engine.plan import Step
from engine.records import set_path
from engine.run.context import RunContext
from engine.run.keys import KeyIndex
from engine.state import Link


class Partners:
    """Records by side and id (None: asked for, and not there) for one step run."""

    def __init__(self, step: Step, context: RunContext, keys: KeyIndex, links: Mapping[str, Link]):
        self.step, self.context, self.keys, self.links = step, context, keys, links
        self.connectors = {
            "source": context.connector(step.source.connection),
            "target": context.connector(step.target.connection),
        }
        # the records read (the target side's held whole, see ``targets_read``) and fetched
        self.known: dict[str, MutableMapping[str, Record | None]] = {"source": {}, "target": {}}
        self.agreed_values: dict[str, dict[str, Any] | None] = {}  # source id -> agreed values, per batch

    def wanted(self, side: str, records: list[Record], links: Mapping[str, Link]) -> dict[str, set[str]]:
        """The ids, by record type, of the other side's records that these may pair with: their
        linked partners, and the records sharing one of their match keys."""
        other = "target" if side == "source" else "source"
        # the target records this run read are held whole: with no stored keys, those are all
        # that a key can find
        by_keys = other == "source" or self.keys.stored["target"]
        wanted: dict[str, set[str]] = defaultdict(set)
        for record in records:
            link = links.get(record.id)
            if link:
                if other == "target":
                    wanted[link.target_type].add(link.target_id)
                else:
                    wanted[link.source_type].add(link.source_id)
                continue
            for index, value in self.keys.of(side, record) if by_keys else ():
                for record_type, record_id, _ in self.keys.candidates(other, index, value):
                    wanted[record_type].add(record_id)
        return wanted

    def prefetch(self, side: str, wanted: dict[str, set[str]]) -> None:
        """Fetch the partners the records read may need, one batched call per record type."""
        for record_type, ids in wanted.items():
            missing = [record_id for record_id in ids if record_id not in self.known[side]]
            if missing:
                found = self.connectors[side].get(record_type, missing)
                self.known[side].update({record_id: found.get(record_id) for record_id in missing})

    def may_stand_in(self, every_change_read: bool) -> bool:
        """Whether a linked target this run did not read may be stood in for by its agreed values:
        only when every change since the last run was read (so it has not changed) and no
        target filter needs fields the agreed values do not hold."""
        return (
            every_change_read
            and not any(condition.side == "target" for condition in self.step.filters)
            and all(
                self.context.describe(self.step.target.connection, record_type).modified_field
                for record_type in self.step.target.types
            )
        )

    def stand_in(self, batch: list[Record]) -> None:
        """Stand-ins for the unread linked targets of a batch whose agreed values are known to be
        theirs: the pair is decided without fetching them (one call fewer per batch)."""
        links = {
            record.id: link
            for record in batch
            if (link := self.links.get(record.id)) and link.target_id not in self.known["target"]
        }
        agreed = self.context.state.snapshots(self.context.job, self.step.name, links, target_known=True)
        for source_id, synced in agreed.items():
            link = links[source_id]
            id_field = self.context.describe(self.step.target.connection, link.target_type).id_field
            values: dict[str, Any] = {id_field: link.target_id}
            for path, value in synced.items():
                set_path(values, values, path, value)
            self.known["target"][link.target_id] = Record(link.target_type, link.target_id, values)

    def read_agreed(self, source_ids: list[str]) -> None:
        """Read the agreed values of a batch's linked pairs in one call (see ``agreed``)."""
        found = self.context.state.snapshots(self.context.job, self.step.name, source_ids)
        self.agreed_values = {source_id: found.get(source_id) for source_id in source_ids}

    def agreed(self, source_id: str) -> dict[str, Any] | None:
        """The values a linked pair agreed on when it was last synced: read with the batch, or
        on its own for a pair the batch did not foresee."""
        if source_id not in self.agreed_values:
            found = self.context.state.snapshots(self.context.job, self.step.name, [source_id])
            self.agreed_values[source_id] = found.get(source_id)
        return self.agreed_values[source_id]

    def get(self, side: str, record_type: str, record_id: str) -> Record | None:
        """A record of a side, from this run's reads or fetched once."""
        if record_id not in self.known[side]:
            self.known[side][record_id] = self.connectors[side].get(record_type, [record_id]).get(record_id)
        return self.known[side][record_id]

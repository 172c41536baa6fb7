"""The memory connector: records in process memory, for tests.

It promises the semantics of the SQLite connector without a file: values are stored as JSON (so
what comes back is what SQLite would give back), deletes leave tombstones that incremental reads
report, every write is stamped with a strictly increasing UTC time, and an update merges its values
into the stored ones. A connection with ``settings: {store: name}`` shares the module-level store of
that name, so a test can seed records, run syncmap, and look at what it wrote.

It never persists anything and is not meant for production data.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.connectors import ObjectInfo, Record, Write, WriteResult, typed_settings
from engine.connectors.local import (
    SAMPLE_ROWS,
    TombstoneWrites,
    among,
    encode_values,
    infer_fields,
    lookup,
    prepare_seed,
    refuse_where,
    unique,
)
from engine.connectors.settings import MemorySettings
from engine.times import Clock, canonical_time


@dataclass
class Row:
    data: str  # the values as JSON, decoded afresh for every reader
    modified: str
    deleted: bool = False


@dataclass
class MemoryStore:
    """Rows by record type and id, with the clock that stamps them."""

    tables: dict[str, dict[str, Row]] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)


STORES: dict[str, MemoryStore] = {}


def shared_store(name: str) -> MemoryStore:
    """The process-wide store of this name, created empty on first use."""
    return STORES.setdefault(name, MemoryStore())


def drop_stores() -> None:
    """Forget every named store (between tests)."""
    STORES.clear()


class MemoryConnector(TombstoneWrites):
    """Records in a MemoryStore: a private one, or the named one of ``settings["store"]``."""

    def __init__(self, settings: Mapping[str, Any] | None = None, base_dir: Path | None = None):
        typed = typed_settings("memory", MemorySettings, settings or {})
        self.id_field, self.modified_field = typed.id_field, typed.modified_field
        self.store_name = typed.store
        self.store = shared_store(str(self.store_name)) if self.store_name else MemoryStore()
        self.calls: Counter[str] = Counter()

    def __repr__(self) -> str:
        return (
            f"MemoryConnector({{'store': {self.store_name!r}}})" if self.store_name else "MemoryConnector()"
        )

    # --- the protocol

    def describe(self, object_type: str) -> ObjectInfo:
        """Fields inferred from the most recently modified records; an unknown type has just the id
        and modified fields, as a SQLite table not yet created."""
        self.calls["describe"] += 1
        recent = sorted(self._rows(object_type).values(), key=lambda row: row.modified)[-SAMPLE_ROWS:]
        fields = infer_fields((json.loads(row.data) for row in recent), self.id_field, self.modified_field)
        return ObjectInfo(object_type, fields, id_field=self.id_field, modified_field=self.modified_field)

    def read(
        self,
        object_type: str,
        since: str | None = None,
        where: str | None = None,
        own_writes: Sequence[tuple[str, ...]] = (),
    ) -> Iterator[Record]:
        self.calls["read"] += 1
        refuse_where("memory", object_type, where)
        start = canonical_time(since, "since") if since is not None else ""
        # the order is fixed when the read starts, so writes made while reading are left for the next
        chosen = sorted(
            (row.modified, record_id)
            for record_id, row in self._rows(object_type).items()
            if row.modified >= start
        )
        return (self._record(object_type, record_id) for _, record_id in chosen)

    def get(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        self.calls["get"] += 1
        rows = self._rows(object_type)
        wanted = (str(i) for i in ids)
        return {i: self._record(object_type, i) for i in unique(wanted) if i in rows and not rows[i].deleted}

    def find(self, object_type: str, field_name: str, values: Sequence[Any]) -> list[Record]:
        self.calls["find"] += 1
        if field_name == self.id_field:
            return sorted(self.get(object_type, values).values(), key=lambda r: (r.modified, r.id))
        wanted = set(unique(values))
        live = (self._record(object_type, i) for i, row in self._rows(object_type).items() if not row.deleted)
        found = [record for record in live if among(lookup(record.values, field_name), wanted)]
        return sorted(found, key=lambda r: (r.modified, r.id))

    def write(self, object_type: str, writes: Sequence[Write]) -> list[WriteResult]:
        self.calls["write"] += 1
        return [self._apply(object_type, write) for write in writes]

    # --- helpers for tests

    def seed(self, object_type: str, records: Iterable[Mapping[str, Any]]) -> MemoryConnector:
        """Insert or replace records keeping their ids and modified times (a new id, and now, when
        they have none; ``_deleted: true`` makes a tombstone). Returns the connector, for chaining."""
        rows = self.store.tables.setdefault(object_type, {})
        for values in records:
            record_id, values, stamp, deleted = prepare_seed(
                values, self.id_field, self.modified_field, self.store.clock
            )
            rows[record_id] = Row(encode_values(values), stamp, deleted)
        return self

    def records(self, object_type: str) -> list[Record]:
        """Every record of a type, tombstones included, oldest first (what a full read gives)."""
        return [self._record(object_type, record_id) for record_id in self._ordered(object_type)]

    # --- writing: the shared semantics (see TombstoneWrites) on these two primitives

    def _stored(self, object_type: str, record_id: str) -> str | None:
        row = self._rows(object_type).get(record_id)
        return row.data if row is not None and not row.deleted else None

    def _store(self, object_type: str, record_id: str, values: dict[str, Any], deleted: bool) -> None:
        stamp = self.store.clock.tick()
        values[self.id_field], values[self.modified_field] = record_id, stamp
        self.store.tables.setdefault(object_type, {})[record_id] = Row(encode_values(values), stamp, deleted)

    # --- reading

    def _rows(self, object_type: str) -> dict[str, Row]:
        return self.store.tables.get(object_type, {})

    def _ordered(self, object_type: str) -> list[str]:
        return [i for _, i in sorted((row.modified, i) for i, row in self._rows(object_type).items())]

    def _record(self, object_type: str, record_id: str) -> Record:
        row = self._rows(object_type)[record_id]
        values = json.loads(row.data)
        values[self.id_field], values[self.modified_field] = record_id, row.modified
        return Record(object_type, record_id, values, modified=row.modified, deleted=row.deleted)

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
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.connectors import ObjectInfo, Record, Write, WriteResult
from engine.connectors.sqlite import (
    SAMPLE_ROWS,
    Clock,
    RecordRefused,
    canonical_time,
    check_settings,
    encode_values,
    given_id,
    infer_fields,
    lookup,
    prepare_seed,
    unique,
)
from engine.errors import ConnectorError


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


class MemoryConnector:
    """Records in a MemoryStore: a private one, or the named one of ``settings["store"]``."""

    def __init__(self, settings: Mapping[str, Any] | None = None, base_dir: Path | None = None):
        settings = dict(settings or {})
        check_settings("memory", settings, required=(), optional=("store", "id_field", "modified_field"))
        self.id_field: str = settings.get("id_field") or "id"
        self.modified_field: str = settings.get("modified_field") or "updated_at"
        self.store_name: str | None = settings.get("store")
        self.store = shared_store(str(self.store_name)) if self.store_name else MemoryStore()
        self.calls: Counter[str] = Counter()

    def __repr__(self) -> str:
        return (
            f"MemoryConnector({{'store': {self.store_name!r}}})" if self.store_name else "MemoryConnector()"
        )

    def close(self) -> None:
        pass

    # --- the protocol

    def describe(self, object_type: str) -> ObjectInfo:
        """Fields inferred from the most recently modified records; an unknown type has just the id
        and modified fields, as a SQLite table not yet created."""
        self.calls["describe"] += 1
        recent = sorted(self._rows(object_type).values(), key=lambda row: row.modified)[-SAMPLE_ROWS:]
        fields = infer_fields((json.loads(row.data) for row in recent), self.id_field, self.modified_field)
        return ObjectInfo(object_type, fields, id_field=self.id_field, modified_field=self.modified_field)

    def read(self, object_type: str, since: str | None = None, where: str | None = None) -> Iterator[Record]:
        self.calls["read"] += 1
        if where is not None:
            raise ConnectorError(
                f"the memory connector does not support `where` (reading `{object_type}`)",
                hint="remove `where` from this side and filter records in the mapping instead",
            )
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
        found = [record for record in live if _among(lookup(record.values, field_name), wanted)]
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

    # --- writing: one handler per operation, each raising RecordRefused for this record only

    def _apply(self, object_type: str, write: Write) -> WriteResult:
        handler = {"create": self._create, "update": self._update, "delete": self._delete}.get(write.op)
        try:
            if handler is None:
                raise RecordRefused(f"unknown write operation `{write.op}`")
            record_id = handler(object_type, write)
        except (RecordRefused, TypeError, ValueError) as e:
            error = str(e) if isinstance(e, RecordRefused) else f"{write.op} of {object_type} failed: {e}"
            return WriteResult(write.ref, ok=False, id=write.id, error=error)
        return WriteResult(write.ref, ok=True, id=record_id)

    def _create(self, object_type: str, write: Write) -> str:
        record_id = given_id(write.values, self.id_field) or write.id or uuid.uuid4().hex
        if self._live(object_type, record_id) is not None:
            raise RecordRefused(f"{object_type} `{record_id}` already exists")
        self._store(object_type, record_id, dict(write.values), deleted=False)
        return record_id

    def _update(self, object_type: str, write: Write) -> str:
        record_id = self._target(object_type, write)
        row = self._live(object_type, record_id)
        if row is None:
            raise RecordRefused(f"{object_type} `{record_id}` not found")
        given = given_id(write.values, self.id_field)
        if given is not None and given != record_id:
            raise RecordRefused(f"{object_type} `{record_id}`: the id field `{self.id_field}` cannot change")
        self._store(object_type, record_id, {**json.loads(row.data), **write.values}, deleted=False)
        return record_id

    def _delete(self, object_type: str, write: Write) -> str:
        record_id = self._target(object_type, write)
        row = self._live(object_type, record_id)
        if row is None:
            raise RecordRefused(f"{object_type} `{record_id}` not found")
        self._store(object_type, record_id, json.loads(row.data), deleted=True)
        return record_id

    def _target(self, object_type: str, write: Write) -> str:
        if not write.id:
            raise RecordRefused(f"an {write.op} of `{object_type}` needs the record id")
        return str(write.id)

    def _store(self, object_type: str, record_id: str, values: dict[str, Any], deleted: bool) -> None:
        stamp = self.store.clock.tick()
        values[self.id_field], values[self.modified_field] = record_id, stamp
        self.store.tables.setdefault(object_type, {})[record_id] = Row(encode_values(values), stamp, deleted)

    # --- reading

    def _rows(self, object_type: str) -> dict[str, Row]:
        return self.store.tables.get(object_type, {})

    def _ordered(self, object_type: str) -> list[str]:
        return [i for _, i in sorted((row.modified, i) for i, row in self._rows(object_type).items())]

    def _live(self, object_type: str, record_id: str) -> Row | None:
        row = self._rows(object_type).get(record_id)
        return row if row is not None and not row.deleted else None

    def _record(self, object_type: str, record_id: str) -> Record:
        row = self._rows(object_type)[record_id]
        values = json.loads(row.data)
        values[self.id_field], values[self.modified_field] = record_id, row.modified
        return Record(object_type, record_id, values, modified=row.modified, deleted=row.deleted)


def _among(value: Any, wanted: set[Any]) -> bool:
    """Exact equality as SQLite's json_extract compares: 1 and "1" differ, true equals 1."""
    return value is not None and not isinstance(value, dict | list) and value in wanted

"""What the local stores (sqlite, memory, jsonl) share: the tombstone-store write semantics and
their helpers.

The three connectors promise the same semantics, so they share the code that states them: times in
one spelling and a clock that never repeats itself, values stored as JSON, nested
lookups, field inference, fixture seeding, and ``TombstoneWrites``, the create/update/delete rules
of a store that keeps deleted records as tombstones.
"""

from __future__ import annotations

import json
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from engine.connectors import BaseConnector, FieldInfo, Write, WriteResult
from engine.errors import ConnectorError
from engine.times import Clock, canonical_time

SAMPLE_ROWS = 200  # recently modified rows looked at by describe


def resolve_path(base_dir: Path | None, path: Any) -> Path:
    """A path from settings, relative to the mapping document's folder."""
    return Path(base_dir or Path.cwd()) / str(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} value {value!r} cannot be stored as JSON")


def encode_values(values: Mapping[str, Any]) -> str:
    """Values as stored JSON text; dates become ISO text, NaN and other objects are refused."""
    return json.dumps(values, default=_json_default, allow_nan=False, ensure_ascii=False)


def lookup(values: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path such as ``company.name``; None when any part is missing."""
    value: Any = values
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def unique(values: Iterable[Any]) -> list[Any]:
    """Values without repeats or None, in first-seen order (None never equals a stored value)."""
    return list(dict.fromkeys(v for v in values if v is not None))


_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def value_type(value: Any) -> str | None:
    """The FieldInfo type a stored JSON value suggests; None for null, which suggests nothing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    if _DATETIME.match(value):
        return "datetime"
    return "date" if _DATE.fullmatch(value) else "string"


def infer_fields(
    samples: Iterable[Mapping[str, Any]], id_field: str, modified_field: str, writable: bool = True
) -> dict[str, FieldInfo]:
    """The id and modified fields, then the union of the samples' keys in name order; a key seen
    with values of different types is a string."""
    types: dict[str, str | None] = {}
    for values in samples:
        for name, value in values.items():
            seen, kind = types.get(name), value_type(value)
            types[name] = kind if seen is None else seen if kind in (None, seen) else "string"
    fields = {
        id_field: FieldInfo(id_field, "id", createable=writable, updateable=False, nillable=False),
        modified_field: FieldInfo(
            modified_field, "datetime", createable=False, updateable=False, nillable=False
        ),
    }
    for name in sorted(types.keys() - fields.keys()):
        fields[name] = FieldInfo(name, types[name] or "string", createable=writable, updateable=writable)
    return fields


def prepare_seed(
    values: Mapping[str, Any], id_field: str, modified_field: str, clock: Clock
) -> tuple[str, dict[str, Any], str, bool]:
    """A fixture record as (id, values, modified, deleted): its own id and modified time kept
    (a new id, and now, when it has none), ``_deleted: true`` making it a tombstone."""
    values = dict(values)
    deleted = bool(values.pop("_deleted", False))
    record_id = given_id(values, id_field) or uuid.uuid4().hex
    stamp = values.get(modified_field)
    stamp = canonical_time(stamp, modified_field) if stamp else clock.tick()
    clock.observe(stamp)
    values[id_field], values[modified_field] = record_id, stamp
    return record_id, values, stamp, deleted


def given_id(values: Mapping[str, Any], id_field: str) -> str | None:
    """The id a record's values carry, as text; None when absent or empty."""
    value = values.get(id_field)
    return None if value in (None, "") else str(value)


class RecordRefused(Exception):
    """A write that cannot be applied to this one record; it becomes a failed WriteResult."""


def refuse_where(connector: str, object_type: str, where: str | None) -> None:
    """The local stores read whole record types: a ``where`` filter is a ConnectorError."""
    if where is not None:
        raise ConnectorError(
            f"the {connector} connector does not support `where` (reading `{object_type}`)",
            hint="remove `where` from this side and filter records in the mapping instead",
        )


def among(value: Any, wanted: set[Any]) -> bool:
    """Exact equality as SQLite's json_extract compares: 1 and "1" differ, true equals 1."""
    return value is not None and not isinstance(value, dict | list) and value in wanted


class TombstoneWrites(BaseConnector, ABC):
    """The write semantics of a local store, on top of two primitives the store provides:
    ``_stored`` (the JSON of a live record) and ``_store`` (write one record, stamped now).

    A create refuses an id that is live and revives one that is a tombstone; an update merges its
    values into the stored ones and refuses a change of the id field; a delete keeps a tombstone.
    A refused write fails only its own record: ``_apply`` turns it into a failed WriteResult.
    """

    id_field: str
    # exceptions that fail one record rather than the batch; a store adds its own
    refusals: tuple[type[Exception], ...] = (RecordRefused, TypeError, ValueError)

    @abstractmethod
    def _stored(self, object_type: str, record_id: str) -> str | None:
        """The stored JSON of a live record, None when it is missing or deleted."""

    @abstractmethod
    def _store(self, object_type: str, record_id: str, values: dict[str, Any], deleted: bool) -> None:
        """Write one record stamped now, the id and stamp copied into the values so readers see them."""

    # --- one handler per operation, each raising RecordRefused for this record only

    def _apply(self, object_type: str, write: Write) -> WriteResult:
        handler = {"create": self._create, "update": self._update, "delete": self._delete}.get(write.op)
        try:
            if handler is None:
                raise RecordRefused(f"unknown write operation `{write.op}`")
            record_id = handler(object_type, write)
        except self.refusals as e:
            error = str(e) if isinstance(e, RecordRefused) else f"{write.op} of {object_type} failed: {e}"
            return WriteResult(write.ref, ok=False, id=write.id, error=error)
        return WriteResult(write.ref, ok=True, id=record_id)

    def _create(self, object_type: str, write: Write) -> str:
        record_id = given_id(write.values, self.id_field) or write.id or uuid.uuid4().hex
        if self._stored(object_type, record_id) is not None:
            raise RecordRefused(f"{object_type} `{record_id}` already exists")
        # a create over a tombstone brings the id back to life with only the new values
        self._store(object_type, record_id, dict(write.values), deleted=False)
        return record_id

    def _update(self, object_type: str, write: Write) -> str:
        record_id, stored = self._target(object_type, write)
        given = given_id(write.values, self.id_field)
        if given is not None and given != record_id:
            raise RecordRefused(f"{object_type} `{record_id}`: the id field `{self.id_field}` cannot change")
        self._store(object_type, record_id, {**json.loads(stored), **write.values}, deleted=False)
        return record_id

    def _delete(self, object_type: str, write: Write) -> str:
        record_id, stored = self._target(object_type, write)
        self._store(object_type, record_id, json.loads(stored), deleted=True)
        return record_id

    def _target(self, object_type: str, write: Write) -> tuple[str, str]:
        """The id an update or delete names, and the stored JSON of that live record."""
        if not write.id:
            raise RecordRefused(f"an {write.op} of `{object_type}` needs the record id")
        record_id = str(write.id)
        stored = self._stored(object_type, record_id)
        if stored is None:
            raise RecordRefused(f"{object_type} `{record_id}` not found")
        return record_id, stored

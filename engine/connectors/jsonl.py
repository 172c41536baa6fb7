"""The jsonl connector: read-only fixture files, one ``<record type>.jsonl`` per type in a folder.

Each line holds one JSON object: a record. Its id is the ``id_field`` value (``id`` unless the
settings say otherwise), its modified time the ``modified_field`` value (``updated_at``), and a
``_deleted: true`` key makes it a tombstone. A record without a modified time is returned by every
incremental read, since nothing shows it is older than the watermark.

Fixtures are small and edited by hand, so a file is parsed whole (again whenever it changes on
disk) and every problem names the file and line. This connector never writes: each write comes back
failed.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from engine.connectors import BaseConnector, ObjectInfo, Record, Write, WriteResult, typed_settings
from engine.connectors.local import (
    among,
    infer_fields,
    lookup,
    refuse_where,
    resolve_path,
    unique,
)
from engine.connectors.settings import JsonlSettings
from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError
from engine.times import canonical_time

SUFFIX = ".jsonl"
READ_ONLY = "the jsonl connector is read-only"
LINE_HINT = 'each line of a .jsonl file holds one JSON object, e.g. {"id": "1", "name": "Ada"}'


class JsonlConnector(BaseConnector):
    """Records from ``<path>/<record type>.jsonl`` files, ``path`` relative to the mapping document."""

    def __init__(self, settings: Mapping[str, Any], base_dir: Path | None = None):
        typed = typed_settings("jsonl", JsonlSettings, settings)
        self.id_field, self.modified_field = typed.id_field, typed.modified_field
        self.folder = resolve_path(base_dir, typed.path)
        if not self.folder.is_dir():
            raise ConnectorError(
                f"fixture folder `{self.folder}` not found",
                hint="`path` is a folder holding one `<record type>.jsonl` file per type, "
                "relative to the mapping document",
            )
        self.calls: Counter[str] = Counter()
        self._cache: dict[str, tuple[tuple[int, int], list[Record]]] = {}

    def __repr__(self) -> str:
        return f"JsonlConnector({{'path': {str(self.folder)!r}}})"

    def close(self) -> None:
        self._cache.clear()

    # --- the protocol

    def describe(self, object_type: str) -> ObjectInfo:
        self.calls["describe"] += 1
        samples = (record.values for record in self._records(object_type))
        fields = infer_fields(samples, self.id_field, self.modified_field, writable=False)
        return ObjectInfo(
            object_type,
            fields,
            id_field=self.id_field,
            modified_field=self.modified_field,
            createable=False,
            updateable=False,
            deletable=False,
        )

    def read(
        self,
        object_type: str,
        since: str | None = None,
        where: str | None = None,
        own_writes: Sequence[tuple[str, ...]] = (),
    ) -> Iterator[Record]:
        self.calls["read"] += 1
        refuse_where("jsonl", object_type, where)
        start = canonical_time(since, "since") if since is not None else None
        records = self._records(object_type)
        return (_fresh(r) for r in records if start is None or r.modified is None or r.modified >= start)

    def get(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        self.calls["get"] += 1
        wanted = set(unique(str(i) for i in ids))
        return {r.id: _fresh(r) for r in self._records(object_type) if r.id in wanted and not r.deleted}

    def find(self, object_type: str, field_name: str, values: Sequence[Any]) -> list[Record]:
        self.calls["find"] += 1
        wanted = set(unique(values))
        live = (r for r in self._records(object_type) if not r.deleted)
        if field_name == self.id_field:
            ids = {str(v) for v in wanted}
            return [_fresh(r) for r in live if r.id in ids]
        return [_fresh(r) for r in live if among(lookup(r.values, field_name), wanted)]

    def write(self, object_type: str, writes: Sequence[Write]) -> list[WriteResult]:
        self.calls["write"] += 1
        return [WriteResult(w.ref, ok=False, id=w.id, error=READ_ONLY) for w in writes]

    # --- the files

    def types(self) -> list[str]:
        """The record types that have a fixture file."""
        return sorted(path.name.removesuffix(SUFFIX) for path in self.folder.glob(f"*{SUFFIX}"))

    def _records(self, object_type: str) -> list[Record]:
        """The file's records, oldest first (no modified time first), parsed again when it changed."""
        path = self.folder / f"{object_type}{SUFFIX}"
        try:
            status = path.stat()
        except FileNotFoundError:
            hint = (
                did_you_mean(object_type, self.types())
                or f"fixture types: {', '.join(self.types()) or 'none'}"
            )
            raise ConnectorError(
                f"no fixture file `{path}` for record type `{object_type}`", hint=hint
            ) from None
        stamp = (status.st_mtime_ns, status.st_size)
        cached = self._cache.get(object_type)
        if cached is None or cached[0] != stamp:
            records = sorted(self._parse(object_type, path), key=lambda r: (r.modified or "", r.id))
            self._cache[object_type] = cached = (stamp, records)
        return cached[1]

    def _parse(self, object_type: str, path: Path) -> Iterator[Record]:
        seen: dict[str, int] = {}
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    record = self._parse_line(object_type, f"{path}:{number}", line)
                    if record.id in seen:
                        raise ConnectorError(
                            f"{path}:{number}: id `{record.id}` is already used on line {seen[record.id]}",
                            hint="each record of a fixture file needs its own id",
                        )
                    seen[record.id] = number
                    yield record

    def _parse_line(self, object_type: str, where: str, line: str) -> Record:
        try:
            values = json.loads(line)
        except json.JSONDecodeError as e:
            raise ConnectorError(
                f"{where}: not valid JSON: {e.msg} (column {e.colno})", hint=LINE_HINT
            ) from e
        if not isinstance(values, dict):
            raise ConnectorError(
                f"{where}: a line must hold a JSON object, not {type(values).__name__}", hint=LINE_HINT
            )
        deleted = values.pop("_deleted", False) is True
        record_id = values.get(self.id_field)
        if record_id in (None, ""):
            raise ConnectorError(
                f"{where}: the record has no `{self.id_field}`",
                hint="give every record an id, or set `id_field` to the key that holds it",
            )
        stamp = values.get(self.modified_field)
        modified = canonical_time(stamp, f"{where}: `{self.modified_field}`") if stamp is not None else None
        return Record(object_type, str(record_id), values, modified=modified, deleted=deleted)


def _fresh(record: Record) -> Record:
    """A copy whose values the caller may change without changing the parsed file."""
    return msgspec.structs.replace(record, values=copy.deepcopy(record.values))

"""The csv connector: records in CSV files, ``<path>/<record type>.csv`` (or a folder
``<path>/<record type>/`` of ``.csv`` files read as one, such as monthly exports).

Settings: ``path`` (the folder, relative to the mapping document), ``delimiter`` (``,``),
``quote`` (``"``), ``encoding`` (``utf-8``, a byte order mark read and kept; ``latin-1`` and any
Python codec), ``null`` (the cell text that means no value: an empty cell unless it says
otherwise, so ``null: NULL`` keeps empty cells as empty strings) and ``id_field`` (``id``). A side
may say which column is the id (``id:``), the modification time (``modified:``) and the
soft-delete mark (``deleted:``).

- The first row is the header. Every value is text; a ragged row, a bad quote, a repeated id or a
  byte the encoding cannot read is an error naming the file and line.
- Rows without a modification time (no column, or an empty cell) come with every read: no time
  says they did not change. A time that is not one makes its row alone unreadable.
- A batch of writes rewrites each file it touches once, atomically (a temporary file renamed over
  the old one, under a lock kept in the system's temporary folder; what a killed writer left
  beside the file is removed by the next), keeping the column order and adding new columns at the end. A
  create goes to the last file of a folder; a delete removes the row, or with ``deleted:`` marks it.
- Opened read-only (a dry run), nothing is written, locked or created.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.connectors import (
    BaseConnector,
    Declared,
    FieldInfo,
    ObjectInfo,
    Record,
    Write,
    WriteResult,
    keep_declaration,
    typed_settings,
)
from engine.connectors.csvfiles.files import (
    CsvFile,
    CsvFormat,
    lock_path,
    locked,
    remove_leftovers,
    replace_file,
    stamp,
)
from engine.connectors.local import RecordRefused, among, given_id, refuse_where, resolve_path, unique
from engine.connectors.settings import CsvSettings
from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError, SettingError, UnknownObjectError
from engine.times import Clock, canonical_time

SUFFIX = ".csv"
TRUE_MARKS = frozenset({"true", "t", "yes", "y", "1", "x"})  # a `deleted:` cell that marks the row


@dataclass
class Table:
    """A record type: its files, and where each id's row is."""

    files: list[CsvFile]
    index: dict[str, tuple[CsvFile, int]]


class CsvConnector(BaseConnector):
    """Records in CSV files (see the module docstring)."""

    opens_read_only = True
    takes_declarations = True
    default_modified_field = None

    def __init__(self, settings: Mapping[str, Any], base_dir: Path | None = None, read_only: bool = False):
        typed = typed_settings("csv", CsvSettings, settings)
        self.folder = resolve_path(base_dir, typed.path)
        if not self.folder.is_dir():
            raise SettingError(
                "path",
                f"CSV folder `{self.folder}` not found",
                hint="`path` is a folder holding one `<record type>.csv` file per type, "
                "relative to the mapping document",
            )
        self.format = CsvFormat.of(typed)
        self.null, self.id_field, self.lock_timeout = typed.null, typed.id_field, typed.lock_timeout_seconds
        self.read_only = read_only
        self.declared: dict[str, Declared] = {}
        self.calls: Counter[str] = Counter()
        self.clock = Clock()
        self._tables: dict[str, Table] = {}

    def __repr__(self) -> str:
        return f"CsvConnector({{'path': {str(self.folder)!r}}})"

    def close(self) -> None:
        self._tables.clear()

    # --- the protocol

    def declare(self, object_type: str, declared: Declared) -> None:
        hint = "a CSV side names its file as `object:`; filter its rows with `filter:`"
        keep_declaration(self.declared, "csv", object_type, declared, hint)

    def describe(self, object_type: str) -> ObjectInfo:
        self.calls["describe"] += 1
        table = self._table(object_type)
        id_field, modified, deleted = self._fields(object_type)
        columns = list(dict.fromkeys(c for f in table.files for c in f.columns))
        fields = {id_field: FieldInfo(id_field, "id", updateable=False, nillable=False, defaulted=True)}
        for name in columns:
            if name == modified:
                fields[name] = FieldInfo(name, "datetime", createable=False, updateable=False)
            elif name == deleted:
                fields[name] = FieldInfo(name, "boolean")
            elif name != id_field:
                fields[name] = FieldInfo(name)
        return ObjectInfo(
            object_type, fields, id_field=id_field, modified_field=modified,
            flags={"deleted_field": deleted},
        )  # fmt: skip

    def read(
        self,
        object_type: str,
        since: str | None = None,
        where: str | None = None,
        own_writes: Sequence[tuple[str, ...]] = (),
    ) -> Iterator[Record]:
        """Rows modified at or after ``since`` (all when None), oldest first; unstamped rows,
        whose changes no time tells, come first on every read."""
        self.calls["read"] += 1
        refuse_where("csv", object_type, where)
        start = canonical_time(since, "since") if since is not None else None
        records = sorted(self._records(object_type), key=lambda r: (r.modified or "", r.id))
        return iter([r for r in records if start is None or r.modified is None or r.modified >= start])

    def get(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        self.calls["get"] += 1
        wanted = {str(i) for i in unique(ids)}
        return {r.id: r for r in self._records(object_type) if r.id in wanted and not r.deleted}

    def find(self, object_type: str, field_name: str, values: Sequence[Any]) -> list[Record]:
        """Live rows whose cell equals one of the values as text (a CSV holds nothing but text)."""
        self.calls["find"] += 1
        wanted = {self.format.cell(v) for v in unique(values)}
        return [
            r for r in self._records(object_type)
            if not r.deleted and among(r.values.get(field_name), wanted)
        ]  # fmt: skip

    def write(self, object_type: str, writes: Sequence[Write]) -> list[WriteResult]:
        """Each write applied to the parsed files, then every file touched rewritten once; a file
        that cannot be written fails the writes that went to it."""
        self.calls["write"] += 1
        if self.read_only:
            return [
                WriteResult(w.ref, ok=False, id=w.id, error="opened read-only (a dry run)") for w in writes
            ]
        if not writes:
            return []
        with locked(self.folder, object_type, self.lock_timeout):
            self._tables.pop(object_type, None)  # read again under the lock: another run may have written
            table = self._table(object_type)
            remove_leftovers(f.path for f in table.files)
            results, changed = [], {}
            for write in writes:
                result, changed_file = self._apply(object_type, table, write)
                results.append(result)
                if changed_file is not None:
                    changed[write.ref] = changed_file
            failed = self._save({id(f): f for f in changed.values()}.values())
            self._tables.pop(object_type, None)
        return [
            WriteResult(r.ref, ok=False, id=r.id, error=failed[id(changed[r.ref])])
            if r.ok and id(changed[r.ref]) in failed else r
            for r in results
        ]  # fmt: skip

    # --- reading

    def _records(self, object_type: str) -> Iterator[Record]:
        return _rows_as_records(object_type, self._table(object_type), self._fields(object_type), self.null)

    def _table(self, object_type: str) -> Table:
        """The record type's files, parsed again when one of them changed on disk."""
        paths = self._paths(object_type)
        cached = self._tables.get(object_type)
        if (
            cached is not None
            and [f.path for f in cached.files] == paths
            and all(f.stamp == stamp(f.path) for f in cached.files)
        ):
            return cached
        id_field = self._fields(object_type)[0]
        files = [self.format.parse(path, id_field) for path in paths]
        index: dict[str, tuple[CsvFile, int]] = {}
        for csv_file in files:
            for position, row in enumerate(csv_file.rows):
                record_id = row[id_field]
                if record_id in index:
                    first, at = index[record_id]
                    raise ConnectorError(
                        f"{csv_file.path}:{csv_file.lines[position]}: id `{record_id}` is already used "
                        f"on {first.path.name} line {first.lines[at]}",
                        hint=f"each row needs its own `{id_field}`",
                    )
                index[record_id] = (csv_file, position)
        self._tables[object_type] = table = Table(files, index)
        return table

    def _paths(self, object_type: str) -> list[Path]:
        single = self.folder / f"{object_type}{SUFFIX}"
        if single.is_file():
            return [single]
        folder = self.folder / object_type
        if folder.is_dir() and (paths := sorted(folder.glob(f"*{SUFFIX}"))):
            return paths
        types = sorted(
            {p.stem for p in self.folder.glob(f"*{SUFFIX}")}
            | {p.name for p in self.folder.iterdir() if p.is_dir() and any(p.glob(f"*{SUFFIX}"))}
        )
        raise UnknownObjectError(
            f"no CSV file `{single}` for record type `{object_type}`",
            hint=did_you_mean(object_type, types)
            or f"CSV record types in {self.folder}: {', '.join(types) or 'none'}; "
            "a file syncmap should fill needs its header row first",
        )

    def _fields(self, object_type: str) -> tuple[str, str | None, str | None]:
        """The id, modification-time and soft-delete columns of a record type."""
        declared = self.declared.get(object_type, Declared())
        return declared.id_field or self.id_field, declared.modified_field, declared.deleted_field

    # --- writing

    def _apply(self, object_type: str, table: Table, write: Write) -> tuple[WriteResult, CsvFile | None]:
        """One write applied to the parsed files: its result, and the file it changed."""
        try:
            record_id, changed = self._change(object_type, table, write)
        except (RecordRefused, TypeError, ValueError) as e:
            error = str(e) if isinstance(e, RecordRefused) else f"{write.op} of {object_type} failed: {e}"
            return WriteResult(write.ref, ok=False, id=write.id, error=error), None
        return WriteResult(write.ref, ok=True, id=record_id), changed

    def _change(self, object_type: str, table: Table, write: Write) -> tuple[str, CsvFile]:
        """A create refuses a live id and revives a soft-deleted one; an update merges its values
        and refuses a change of id; a delete marks the row (``deleted:``) or drops it."""
        id_field, modified, deleted = self._fields(object_type)
        cells = {name: self.format.cell(value) for name, value in write.values.items()}
        for name, cell in cells.items():
            try:
                cell.encode(self.format.encoding)
            except UnicodeEncodeError as e:
                raise RecordRefused(
                    f"`{name}` holds `{cell[e.start : e.end]}`, which a {self.format.encoding_name} file cannot hold "
                    "(the file's `encoding` setting; utf-8 holds every character)"
                ) from None
        if modified:
            cells[modified] = self.clock.tick()
        if write.op == "create":
            record_id = given_id(write.values, id_field) or write.id or uuid.uuid4().hex
            found = table.index.get(record_id)
            if found is not None and not self._is_deleted(found, deleted):
                raise RecordRefused(f"{object_type} `{record_id}` already exists")
            if found is None:
                target = table.files[-1]
                target.rows.append({})
                found = table.index[record_id] = (target, len(target.rows) - 1)
            cells |= {id_field: record_id} | ({deleted: self.null} if deleted else {})
            return record_id, _set(found, cells, replace=True)
        if write.op not in ("update", "delete"):
            raise RecordRefused(f"unknown write operation `{write.op}`")
        if not write.id:
            raise RecordRefused(f"an {write.op} of `{object_type}` needs the record id")
        record_id = str(write.id)
        found = table.index.get(record_id)
        if found is None or self._is_deleted(found, deleted):
            raise RecordRefused(f"{object_type} `{record_id}` not found")
        if write.op == "update":
            given = given_id(write.values, id_field)
            if given is not None and given != record_id:
                raise RecordRefused(f"{object_type} `{record_id}`: the id field `{id_field}` cannot change")
            return record_id, _set(found, cells)
        if deleted:
            return record_id, _set(
                found, {deleted: "true"} | ({modified: cells[modified]} if modified else {})
            )
        csv_file, position = table.index.pop(record_id)
        csv_file.rows[position] = {}  # left out when the file is written
        return record_id, csv_file

    def _is_deleted(self, found: tuple[CsvFile, int], deleted: str | None) -> bool:
        csv_file, position = found
        return deleted is not None and csv_file.rows[position].get(deleted, "").lower() in TRUE_MARKS

    def lock_path(self, object_type: str) -> Path:
        """Where writers of this record type's files take turns."""
        return lock_path(self.folder, object_type)

    def _save(self, files: Iterable[CsvFile]) -> dict[int, str]:
        """Write each file whole to a temporary file beside it, then rename it over the old one;
        the files that could not be written, with the reason."""
        failed = {}
        for csv_file in files:
            try:
                replace_file(csv_file, self.format.encode(csv_file))
            except OSError as e:
                failed[id(csv_file)] = f"{csv_file.path} could not be written: {e.strerror or e}"
        return failed

def _rows_as_records(
    object_type: str, table: Table, fields: tuple[str, str | None, str | None], null: str
) -> Iterator[Record]:
    """A table's rows as records: the null text as None, the modification time read (a row
    whose time is not one is unreadable alone), a soft-delete mark as deleted."""
    id_field, modified, deleted = fields
    for csv_file in table.files:
        for row, line in zip(csv_file.rows, csv_file.lines, strict=True):
            values: dict[str, Any] = {k: (None if v == null else v) for k, v in row.items()}
            time = values.get(modified) if modified else None
            unreadable = None
            try:
                stamped = canonical_time(time, f"{csv_file.path.name}:{line}: `{modified}`") if time else None
            except ConnectorError as e:  # that row alone: the others still sync
                stamped, unreadable = None, e.message
            is_deleted = deleted is not None and str(values.get(deleted) or "").lower() in TRUE_MARKS
            yield Record(object_type, row[id_field], values, stamped, is_deleted, unreadable)


def _set(found: tuple[CsvFile, int], cells: dict[str, str], replace: bool = False) -> CsvFile:
    """Cells written into a row (all of them, with ``replace``); a new column goes at the end."""
    csv_file, position = found
    csv_file.columns.extend(name for name in cells if name not in csv_file.columns)
    row = {} if replace else csv_file.rows[position]
    csv_file.rows[position] = row | cells
    return csv_file



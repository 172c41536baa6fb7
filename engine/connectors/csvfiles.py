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

import codecs
import csv
import glob
import hashlib
import io
import json
import math
import os
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

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
from engine.connectors.local import RecordRefused, among, given_id, refuse_where, resolve_path, unique
from engine.connectors.settings import CsvSettings
from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError, SettingError, UnknownObjectError
from engine.times import Clock, canonical_time

SUFFIX = ".csv"
TRUE_MARKS = frozenset({"true", "t", "yes", "y", "1", "x"})  # a `deleted:` cell that marks the row


@dataclass
class CsvFile:
    """One file as parsed: its columns in order, its rows as text cells, and what to keep when it
    is written back (its byte order mark, its line ends, and the stamp that tells whether it changed since)."""

    path: Path
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line each row ends on, for messages
    bom: bool = False
    newline: str = "\n"
    stamp: tuple[int, int, int] | None = None


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
        self.delimiter = _one_character("delimiter", typed.delimiter)
        self.quote = _one_character("quote", typed.quote)
        self.encoding, self.encoding_name = _codec(typed.encoding), typed.encoding
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
        wanted = {_cell(v, self.null) for v in unique(values)}
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
        with self._locked(object_type):
            self._tables.pop(object_type, None)  # read again under the lock: another run may have written
            table = self._table(object_type)
            _remove_leftovers(f.path for f in table.files)
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
        table = self._table(object_type)
        id_field, modified, deleted = self._fields(object_type)
        for csv_file in table.files:
            for row, line in zip(csv_file.rows, csv_file.lines, strict=True):
                values: dict[str, Any] = {k: (None if v == self.null else v) for k, v in row.items()}
                stamp = values.get(modified) if modified else None
                unreadable = None
                try:
                    stamped = (
                        canonical_time(stamp, f"{csv_file.path.name}:{line}: `{modified}`") if stamp else None
                    )
                except ConnectorError as e:  # that row alone: the others still sync
                    stamped, unreadable = None, e.message
                yield Record(
                    object_type,
                    row[id_field],
                    values,
                    modified=stamped,
                    deleted=deleted is not None and str(values.get(deleted) or "").lower() in TRUE_MARKS,
                    unreadable=unreadable,
                )

    def _table(self, object_type: str) -> Table:
        """The record type's files, parsed again when one of them changed on disk."""
        paths = self._paths(object_type)
        cached = self._tables.get(object_type)
        if (
            cached is not None
            and [f.path for f in cached.files] == paths
            and all(f.stamp == _stamp(f.path) for f in cached.files)
        ):
            return cached
        id_field = self._fields(object_type)[0]
        files = [self._parse(path, id_field) for path in paths]
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

    def _parse(self, path: Path, id_field: str) -> CsvFile:
        data = path.read_bytes()
        csv_file = CsvFile(path, stamp=_stamp(path), bom=data.startswith(b"\xef\xbb\xbf"))
        csv_file.newline = "\r\n" if b"\r\n" in data[:65536] else "\n"
        try:
            text = data.decode("utf-8-sig" if self.encoding == "utf-8" else self.encoding)
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise ConnectorError(
                f"{path}:{line}: byte 0x{data[e.start]:02x} is not {self.encoding} text",
                hint="set the connection's `encoding` (e.g. `latin-1`, or `cp1252` for Excel exports)",
            ) from None
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=self.delimiter, quotechar=self.quote, strict=True
        )
        try:
            for cells in reader:
                if not cells:
                    continue  # a blank line
                if not csv_file.columns:
                    csv_file.columns = self._header(path, cells, id_field)
                    continue
                if len(cells) != len(csv_file.columns):
                    raise ConnectorError(
                        f"{path}:{reader.line_num}: the row has {len(cells)} values and the header "
                        f"{len(csv_file.columns)} columns",
                        hint=f"quote a value that holds `{self.delimiter}` or a line break, "
                        "or set the connection's `delimiter`",
                    )
                row = dict(zip(csv_file.columns, cells, strict=True))
                if row[id_field] in ("", self.null):
                    raise ConnectorError(
                        f"{path}:{reader.line_num}: the row has no `{id_field}`",
                        hint="give every row an id, or name the column holding it with the side's `id:`",
                    )
                csv_file.rows.append(row)
                csv_file.lines.append(reader.line_num)
        except csv.Error as e:
            raise ConnectorError(
                f"{path}:{reader.line_num}: {e}", hint="a quoted value must end with its closing quote"
            ) from None
        if not csv_file.columns:
            raise ConnectorError(
                f"{path}: the file has no header row",
                hint=f"the first line names the columns, e.g. `{id_field},name`",
            )
        return csv_file

    def _header(self, path: Path, cells: list[str], id_field: str) -> list[str]:
        repeated = [name for name, count in Counter(cells).items() if count > 1]
        if repeated:
            raise ConnectorError(
                f"{path}:1: the header names `{repeated[0]}` twice", hint="give every column its own name"
            )
        if id_field not in cells:
            raise ConnectorError(
                f"{path}:1: the header has no `{id_field}` column",
                hint=did_you_mean(id_field, cells) or "name the id column with the side's `id:`",
            )
        return cells

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
        cells = {name: _cell(value, self.null) for name, value in write.values.items()}
        for name, cell in cells.items():
            try:
                cell.encode(self.encoding)
            except UnicodeEncodeError as e:
                raise RecordRefused(
                    f"`{name}` holds `{cell[e.start : e.end]}`, which a {self.encoding_name} file cannot hold "
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

    def _save(self, files: Iterable[CsvFile]) -> dict[int, str]:
        """Write each file whole to a temporary file beside it, then rename it over the old one;
        the files that could not be written, with the reason."""
        failed = {}
        for csv_file in files:
            try:
                _replace(csv_file, self._encode(csv_file))
            except OSError as e:
                failed[id(csv_file)] = f"{csv_file.path} could not be written: {e.strerror or e}"
        return failed

    def _encode(self, csv_file: CsvFile) -> bytes:
        out = io.StringIO(newline="")
        writer = csv.writer(
            out, delimiter=self.delimiter, quotechar=self.quote, lineterminator=csv_file.newline
        )
        writer.writerow(csv_file.columns)
        writer.writerows([row.get(c, self.null) for c in csv_file.columns] for row in csv_file.rows if row)
        text = out.getvalue()
        if csv_file.bom:
            text = "\ufeff" + text
        return text.encode(self.encoding)

    @contextmanager
    def _locked(self, object_type: str) -> Iterator[None]:
        """Only one writer at a time rewrites a record type's files (another run, another job).
        The lock file lives in the system's temporary folder, named after the files' folder and
        the record type, so that nothing is left beside the customer's files."""
        lock = FileLock(self.lock_path(object_type), timeout=self.lock_timeout, mode=0o666)
        try:
            with lock:
                yield
        except Timeout:
            raise ConnectorError(
                f"`{object_type}` in {self.folder} stayed locked by another writer for "
                f"{self.lock_timeout:g} s; nothing was written",
                hint="another syncmap run is writing these files; run again when it ends, "
                "or raise `lock_timeout_seconds`",
            ) from None

    def lock_path(self, object_type: str) -> Path:
        """Where writers of this record type's files take turns: one path per folder and type."""
        folder = Path(tempfile.gettempdir()) / "syncmap-locks"
        if not folder.is_dir():
            folder.mkdir(exist_ok=True)
            folder.chmod(0o1777)  # shared by every user, as the temporary folder is
        key = hashlib.sha256(f"{self.folder.resolve()}\0{object_type}".encode()).hexdigest()[:32]
        return folder / f"csv-{key}.lock"


def _remove_leftovers(paths: Iterable[Path]) -> None:
    """Temporary files a writer killed mid-rewrite left beside a file (``.<name>.<random>``), and
    the lock files of earlier versions: only a writer holding the lock makes them."""
    for path in paths:
        for leftover in path.parent.glob(f".{glob.escape(path.name)}.*"):
            leftover.unlink(missing_ok=True)


def _set(found: tuple[CsvFile, int], cells: dict[str, str], replace: bool = False) -> CsvFile:
    """Cells written into a row (all of them, with ``replace``); a new column goes at the end."""
    csv_file, position = found
    csv_file.columns.extend(name for name in cells if name not in csv_file.columns)
    row = {} if replace else csv_file.rows[position]
    csv_file.rows[position] = row | cells
    return csv_file


def _cell(value: Any, null: str) -> str:
    """A value as CSV text: None as the null text, booleans as true/false, structures as JSON."""
    if value is None:
        return null
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a number a CSV cell can hold")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    return str(value)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return (status.st_ino, status.st_mtime_ns, status.st_size)


def _replace(csv_file: CsvFile, data: bytes) -> None:
    """Atomically: readers see the old file or the new one, never half of one."""
    handle, temporary = tempfile.mkstemp(dir=csv_file.path.parent, prefix=f".{csv_file.path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, csv_file.path.stat().st_mode & 0o7777)
        os.replace(temporary, csv_file.path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _one_character(name: str, value: str) -> str:
    value = value.replace("\\t", "\t")
    if len(value) != 1:
        raise SettingError(
            name, f"the csv `{name}` must be one character, not `{value}`", hint='e.g. `";"` or `"\\t"`'
        )
    return value


def _codec(name: str) -> str:
    """A Python codec name, ``utf-8`` spelled one way so a byte order mark is handled."""
    try:
        found = codecs.lookup(str(name)).name
    except LookupError:
        raise SettingError(
            "encoding", f"unknown encoding `{name}`", hint="e.g. `utf-8`, `latin-1`, `cp1252`"
        ) from None
    return "utf-8" if found in ("utf-8", "utf-8-sig") else found

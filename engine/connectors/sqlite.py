"""The SQLite connector: the local platform store, and syncmap's embedded default.

Each record type is one table, created the first time a record of that type is written:

    id TEXT PRIMARY KEY, data TEXT (JSON of all values), updated_at TEXT, deleted INTEGER

with an index on (updated_at, id) for incremental reads. ``updated_at`` is an ISO 8601 UTC time
with microseconds (``2026-11-23T10:00:00.123456+00:00``), so text order is time order. A delete
keeps the row as a tombstone (``deleted = 1``) and bumps ``updated_at``, so an incremental read
reports it. Describing a type that has no table yet gives just the id and modified fields; reads
of it give nothing; the table appears on the first write.

Every write stamps ``updated_at`` with a time strictly later than any already in the table, even
within one microsecond or from another process, so a watermark never skips a change.

This connector never decides anything about syncing, never loads a whole table into memory, and
never lets one failing record fail the rest of its batch.

The write semantics and the helpers (times, settings, JSON values, field inference) live in
``engine.connectors.local``, shared with the memory and jsonl connectors, which promise the same.
"""

from __future__ import annotations

import difflib
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import msgspec

from engine.connectors import ObjectInfo, Record, Write, WriteResult, typed_settings
from engine.connectors.local import (
    SAMPLE_ROWS,
    TombstoneWrites,
    encode_values,
    infer_fields,
    prepare_seed,
    refuse_where,
    resolve_path,
    unique,
)

# re-exported: the salesforce connector imports these from here
from engine.connectors.settings import SqliteSettings
from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError, SettingError, UnknownObjectError
from engine.records import batched
from engine.times import Clock, canonical_time

BATCH = 500  # values per IN (...) list in get and find
READ_PAGE = 500  # rows fetched per query while streaming a read
BUSY_TIMEOUT_SECONDS = 5.0
TYPO_SIMILARITY = 0.85  # `contact` for `contacts`, but not `Contact` for `Account`  # how long to wait for another process's write lock


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_path(field_name: str) -> str:
    """``company.name`` as the SQLite JSON path ``$."company"."name"``."""
    return "$" + "".join("." + _quote(part) for part in field_name.split("."))


class SqliteConnector(TombstoneWrites):
    """Records in a local SQLite file, one table per record type (see the module docstring).
    Opened ``read_only`` (a dry run), it creates nothing: a missing file is an error."""

    opens_read_only = True

    def __init__(self, settings: Mapping[str, Any], base_dir: Path | None = None, read_only: bool = False):
        typed = typed_settings("sqlite", SqliteSettings, settings)
        self.id_field, self.modified_field = typed.id_field, typed.modified_field
        self.path = typed.path if typed.path == ":memory:" else resolve_path(base_dir, typed.path)
        self.calls: Counter[str] = Counter()
        self.clock = Clock()
        self._tables: set[str] = set()
        self.read_only = read_only
        self.db = _connect(self.path, read_only, self._errors)

    def __repr__(self) -> str:
        return f"SqliteConnector({{'path': {str(self.path)!r}}})"

    def close(self) -> None:
        self.db.close()

    # --- the protocol

    def describe(self, object_type: str) -> ObjectInfo:
        """Fields inferred from the most recently modified rows; a type without a table yet has
        just the id and modified fields (the table is created by its first write)."""
        self.calls["describe"] += 1
        samples: list[dict[str, Any]] = []
        if not self._exists(object_type):
            self._refuse_likely_typo(object_type)
        else:
            sql = f"SELECT id, data FROM {_quote(object_type)} ORDER BY updated_at DESC LIMIT {SAMPLE_ROWS}"
            with self._errors(f"describing `{object_type}`"):
                samples = [_decoded(self.path, object_type, i, data) for i, data in self.db.execute(sql)]
        fields = infer_fields(samples, self.id_field, self.modified_field)
        return ObjectInfo(object_type, fields, id_field=self.id_field, modified_field=self.modified_field)

    def read(
        self,
        object_type: str,
        since: str | None = None,
        where: str | None = None,
        own_writes: Sequence[tuple[str, ...]] = (),
    ) -> Iterator[Record]:
        """Records modified at or after ``since``, tombstones included, by (updated_at, id)."""
        self.calls["read"] += 1
        refuse_where("sqlite", object_type, where)
        start = canonical_time(since, "since") if since is not None else None
        until = self._latest(object_type)
        return self._pages(object_type, start, until) if until is not None else iter(())

    def count(self, object_type: str, since: str | None = None, where: str | None = None) -> int | None:
        if where is not None:
            return None  # the read refuses it
        if not self._exists(object_type):
            return 0
        start = canonical_time(since, "since") if since is not None else ""
        with self._errors(f"reading `{object_type}`"):
            sql = f"SELECT count(*) FROM {_quote(object_type)} WHERE updated_at >= ?"
            return self.db.execute(sql, [start]).fetchone()[0]

    def get(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        self.calls["get"] += 1
        wanted = unique(str(i) for i in ids)
        found: dict[str, Record] = {}
        for record in self._select_in(object_type, "id", wanted):
            found[record.id] = record
        return found

    def find(self, object_type: str, field_name: str, values: Sequence[Any]) -> list[Record]:
        """Live records whose field (a dotted path reaches into nested objects) equals a value."""
        self.calls["find"] += 1
        if field_name == self.id_field:
            return self._select_in(object_type, "id", unique(str(v) for v in values))
        return self._select_in(object_type, "json_extract(data, ?)", unique(values), _json_path(field_name))

    def write(self, object_type: str, writes: Sequence[Write]) -> list[WriteResult]:
        """One transaction per batch; each record in its own savepoint, so a failure undoes only it."""
        self.calls["write"] += 1
        if not writes:
            return []
        with self._transaction(f"writing `{object_type}`"):
            self._create_table(object_type)
            self.clock.observe(self._latest(object_type))
            return [self._apply(object_type, write) for write in writes]

    # --- helpers for tests and examples

    def seed(self, object_type: str, records: Iterable[Mapping[str, Any]]) -> SqliteConnector:
        """Insert or replace fixture records keeping their ids and modified times (see
        ``prepare_seed``); returns the connector so a test can write ``conn = SqliteConnector(...).seed(...)``."""
        sql = f"INSERT OR REPLACE INTO {_quote(object_type)} (id, data, updated_at, deleted) VALUES (?, ?, ?, ?)"
        with self._transaction(f"seeding `{object_type}`"):
            self._create_table(object_type)
            for values in records:
                record_id, values, stamp, deleted = prepare_seed(
                    values, self.id_field, self.modified_field, self.clock
                )
                self.db.execute(sql, (record_id, encode_values(values), stamp, int(deleted)))
        return self

    def _refuse_likely_typo(self, object_type: str) -> None:
        """A type without a table is new (its table comes with its first write), unless its
        name is close to a table's: then it is a typo, and a run would fill a new table."""
        lowered = object_type.lower()
        close = [
            table for table in self.types()
            if difflib.SequenceMatcher(None, lowered, table.lower()).ratio() >= TYPO_SIMILARITY
        ]  # fmt: skip
        if close:
            raise UnknownObjectError(
                f"sqlite `{self.path}` has no table `{object_type}`", hint=f"did you mean `{close[0]}`?"
            )

    def types(self) -> list[str]:
        """The record types that have a table."""
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) != 'sqlite_' ORDER BY name"
        with self._errors("listing tables"):
            return [name for (name,) in self.db.execute(sql)]

    # --- reading

    def _latest(self, object_type: str) -> str | None:
        """The latest modified time in the type's table; None when it has no rows or no table."""
        if not self._exists(object_type):
            return None
        with self._errors(f"reading `{object_type}`"):
            return self.db.execute(f"SELECT max(updated_at) FROM {_quote(object_type)}").fetchone()[0]

    def _pages(self, object_type: str, since: str | None, until: str) -> Iterator[Record]:
        """Rows up to ``until`` (the latest time when the read was asked for), a page per query by
        (updated_at, id) keyset: no cursor stays open between records, so the caller may write while
        reading, and rows written after the read began are left for the next read."""
        table = _quote(object_type)
        after, params = "updated_at >= ?", [since or ""]
        while True:
            sql = (
                f"SELECT id, data, updated_at, deleted FROM {table} WHERE {after} AND updated_at <= ? "
                f"ORDER BY updated_at, id LIMIT {READ_PAGE}"
            )
            with self._errors(f"reading `{object_type}`"):
                rows = self.db.execute(sql, [*params, until]).fetchall()
            for row in rows:
                yield self._record(object_type, row)
            if len(rows) < READ_PAGE:
                return
            last_id, _, last_stamp, _ = rows[-1]
            after, params = "(updated_at, id) > (?, ?)", [last_stamp, last_id]

    def _select_in(self, object_type: str, column: str, values: list[Any], *prefix: Any) -> list[Record]:
        """Live records whose ``column`` is one of ``values``, at most BATCH values per query."""
        if not values or not self._exists(object_type):
            return []
        records = []
        for chunk in batched(values, BATCH):
            sql = (
                f"SELECT id, data, updated_at, deleted FROM {_quote(object_type)} "
                f"WHERE deleted = 0 AND {column} IN ({', '.join('?' * len(chunk))})"
            )
            with self._errors(f"reading `{object_type}`"):
                rows = self.db.execute(sql, [*prefix, *chunk]).fetchall()
            records.extend(self._record(object_type, row) for row in rows)
        return sorted(records, key=lambda r: (r.modified, r.id))

    def _record(self, object_type: str, row: tuple[str, str, str, int]) -> Record:
        """A stored row as a record; one whose data is not a JSON object (another program wrote
        it) is unreadable, and the others still read."""
        record_id, data, stamp, deleted = row
        unreadable = None
        try:
            values = _decoded(self.path, object_type, record_id, data)
        except ConnectorError as e:
            values, unreadable = {}, e.message
        values[self.id_field], values[self.modified_field] = record_id, stamp
        return Record(object_type, record_id, values, stamp, bool(deleted), unreadable)

    # --- writing: the shared semantics (see TombstoneWrites), each record in its own savepoint

    refusals = (*TombstoneWrites.refusals, sqlite3.Error)

    def _apply(self, object_type: str, write: Write) -> WriteResult:
        self.db.execute("SAVEPOINT record")
        result = super()._apply(object_type, write)
        if not result.ok:
            self.db.execute("ROLLBACK TO record")
        self.db.execute("RELEASE record")
        return result

    def _stored(self, object_type: str, record_id: str) -> str | None:
        """The stored JSON of a live record, None when it is missing or deleted."""
        sql = f"SELECT data FROM {_quote(object_type)} WHERE id = ? AND deleted = 0"
        row = self.db.execute(sql, (record_id,)).fetchone()
        return row[0] if row else None

    def _store(self, object_type: str, record_id: str, values: dict[str, Any], deleted: bool) -> None:
        """Write one row stamped now, the stamp copied into the values so readers see it."""
        stamp = self.clock.tick()
        values[self.id_field], values[self.modified_field] = record_id, stamp
        sql = f"INSERT OR REPLACE INTO {_quote(object_type)} (id, data, updated_at, deleted) VALUES (?, ?, ?, ?)"
        self.db.execute(sql, (record_id, encode_values(values), stamp, int(deleted)))

    # --- the file

    def _exists(self, object_type: str) -> bool:
        """Whether the type has a table; another process may create one at any time."""
        if object_type not in self._tables:
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
            with self._errors("reading the schema"):
                if self.db.execute(sql, (object_type,)).fetchone():
                    self._tables.add(object_type)
        return object_type in self._tables

    def _create_table(self, object_type: str) -> None:
        if object_type in self._tables:
            return
        table = _quote(_table_name(object_type))
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, data TEXT NOT NULL, "
            "updated_at TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0)"
        )
        index = _quote(f"{object_type}_updated_at")
        self.db.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {table} (updated_at, id)")
        self._tables.add(object_type)

    @contextmanager
    def _transaction(self, action: str) -> Iterator[None]:
        """BEGIN IMMEDIATE takes the write lock up front, waiting up to the busy timeout for it."""
        with self._errors(action):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """sqlite3 errors leave the connector as ConnectorError naming the file and what failed."""
        try:
            yield
        except sqlite3.Error as e:
            locked = "locked" in str(e) or "busy" in str(e)
            hint = (
                f"another process held the write lock for more than {BUSY_TIMEOUT_SECONDS:g} s; retry"
                if locked
                else "check that the file is a syncmap SQLite store and that it is writable"
            )
            raise ConnectorError(f"sqlite `{self.path}`: {action} failed: {e}", hint=hint) from e


def _decoded(path: Path | str, object_type: str, record_id: str, data: str) -> dict[str, Any]:
    """A row's `data` column, which must hold a JSON object."""
    try:
        values = msgspec.json.decode(data)  # three times as fast as the json module
    except msgspec.DecodeError:
        try:  # what only the json module reads: NaN, an integer past 64 bits
            values = json.loads(data)
        except json.JSONDecodeError:
            values = None
    if not isinstance(values, dict):
        raise ConnectorError(
            f"sqlite `{path}`: `{object_type}` record `{record_id}` does not hold a JSON object",
            hint="the `data` column must hold a JSON object; was the table written by another program?",
        )
    return values


def _table_name(object_type: str) -> str:
    if object_type.lower().startswith("sqlite_") or not object_type:
        raise ConnectorError(
            f"`{object_type}` cannot be a sqlite record type",
            hint="names starting with `sqlite_` are reserved by SQLite; choose another record type name",
        )
    return object_type


def _connect(path: Path | str, read_only: bool, errors: Callable[[str], AbstractContextManager]) -> sqlite3.Connection:
    """The store's connection: read-only for a dry run (a missing file is then an error, never
    made), else in WAL mode, its folder made first."""
    if read_only and path != ":memory:":
        assert isinstance(path, Path)
        if not path.is_file():
            raise SettingError(
                "path", f"the sqlite database {path} does not exist",
                hint=did_you_mean(path.name, [p.name for p in path.parent.glob("*.db")])
                or "check `path`; `syncmap apply` creates a new store, a dry run creates nothing",
            )  # fmt: skip
        with errors("opening the file"):
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    with errors("opening the file"):
        db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error:
            db.close()
            raise
    return db

"""The sql connector: a customer's own tables in PostgreSQL, SQLite or any database SQLAlchemy
reaches, with their real columns (Heroku Connect's model: Salesforce on one side, the app's own
tables on the other).

Settings: ``url`` (``postgresql://app:${APP_DB_PASSWORD}@db/app``, ``sqlite:///app.db`` relative
to the mapping's folder) and an optional ``schema``. Each side names a table as its ``object``
(``schema.table`` allowed) and may say which column is the id (``id:``, default: the primary key),
which the modification time (``modified:``, default ``updated_at`` where the table has one) and
which marks soft-deleted rows (``deleted:``). A side may give a read-only ``query:`` instead of a
table; ``object`` then names its result.

- Describe reads the database catalogue: columns, types, nullability, defaults, the primary key,
  generated columns. It is authoritative, so a misspelled table or column is a document error.
- Reads stream in pages by (modified, id) keyset: no OFFSET, no cursor held between pages, no
  table in memory. Rows modified after a read began are left for the next read.
- Writes run one transaction per batch and a savepoint per record, so a row the database refuses
  fails alone with the database's message. Values are converted by column type; a dotted field
  (``address.city``) reaches into a JSON column. ``modified`` is stamped on every write unless the
  table has a trigger for it (or, on insert, a default).
- Opened read-only (a dry run), PostgreSQL transactions are READ ONLY and SQLite files are opened
  with ``mode=ro``: a plan never creates or changes anything, not even a missing file.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SAWarning, SQLAlchemyError

from engine.connectors import (
    BaseConnector,
    Declared,
    FieldInfo,
    ObjectInfo,
    Record,
    Write,
    WriteResult,
    typed_settings,
)
from engine.connectors.local import RecordRefused
from engine.connectors.settings import SqlSettings
from engine.connectors.sql.values import (
    Unconvertible,
    Unreadable,
    aware,
    for_column,
    from_database,
    to_column,
)
from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError, QueryError, SettingError, UnknownObjectError
from engine.redact import register
from engine.times import Clock, canonical_time, format_time, parse_time

READ_PAGE = 1000  # rows per keyset page
# what a driver (psycopg: a time past year 9999) or SQLAlchemy's type processing (SQLite: text in
# a NUMERIC column) raises for a value it cannot convert: that row alone is unreadable
UNCONVERTIBLE = (sa.exc.DataError, ValueError, TypeError, OverflowError, ArithmeticError)
NORMALISED_TIME = "%Y-%m-%d %H:%M:%f"  # SQLite's strftime: one spelling of every time, to the millisecond
OTHER_TIME_SPELLINGS = (
    "*[TtZz+]*",
    "*-[0-9][0-9]:[0-9][0-9]",
    "*-[0-9][0-9][0-9][0-9]",
)  # text order is not time order
IN_BATCH = 500  # values per IN (...) list in get and find
LOCK_TIMEOUT_SECONDS = 5  # how long a write waits for a row another transaction holds
LOCK_RETRIES = 3  # then the batch is tried again this many times before the run gives up
DEFAULT_MODIFIED = "updated_at"
SELECT = re.compile(r"^\s*(--[^\n]*\n\s*)*(select|with)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    """One record type as the connector reads it: a reflected table or a query's result."""

    name: str
    selectable: sa.FromClause
    id_field: str
    modified_field: str | None
    deleted_field: str | None
    table: sa.Table | None  # None for a query: read-only
    stamps_itself: bool = False  # a trigger sets `modified` on every write

    @property
    def columns(self) -> sa.ColumnCollection:
        return self.selectable.c

    def live(self) -> sa.ColumnElement[bool]:
        """Rows not soft-deleted."""
        if self.deleted_field is None:
            return sa.true()
        mark = self.columns[self.deleted_field]
        return sa.or_(mark.is_(None), mark == sa.false()) if _is_boolean(mark) else mark.is_(None)


class SqlConnector(BaseConnector):
    """Records in a database's own tables (see the module docstring)."""

    opens_read_only = True
    takes_declarations = True
    default_modified_field = DEFAULT_MODIFIED

    def __init__(self, settings: Mapping[str, Any], base_dir: Path | None = None, read_only: bool = False):
        typed = typed_settings("sql", SqlSettings, settings)
        self.read_only = read_only
        self.schema: str | None = typed.schema_ or None
        self.url = _database_url(typed.url, base_dir, read_only)
        if self.url.password:
            register(str(self.url.password))
        self.calls: Counter[str] = Counter()
        self.clock = Clock()
        self.declared: dict[str, Declared] = {}
        self.sources: dict[str, Source] = {}
        self.engine = self._engine()

    def __repr__(self) -> str:
        return f"SqlConnector({{'url': {self.where!r}}})"

    @property
    def where(self) -> str:
        """The database, as messages name it: never with its password."""
        return _shown(self.url)

    def close(self) -> None:
        self.engine.dispose()

    # --- the protocol

    def declare(self, object_type: str, declared: Declared) -> None:
        """What a side says of a table or query; two sides saying different things is an error."""
        known = self.declared.get(object_type)
        if known is not None and known != declared:
            raise ConnectorError(
                f"two sides describe `{object_type}` differently (id, modified, deleted or query)",
                hint="give every side on this table the same `id:`, `modified:`, `deleted:` and `query:`",
            )
        if declared.query is not None and not SELECT.match(declared.query):
            raise ConnectorError(
                f"the query of `{object_type}` is not a SELECT",
                hint="a side's `query:` only reads: SELECT ... or WITH ...",
            )
        self.declared[object_type] = declared

    def describe(self, object_type: str) -> ObjectInfo:
        self.calls["describe"] += 1
        source = self._source(object_type)
        if source.table is None:
            fields = {
                name: FieldInfo(name, "string", createable=False, updateable=False)
                for name in source.columns.keys()  # noqa: SIM118
            }
            return ObjectInfo(
                object_type, fields, id_field=source.id_field, modified_field=source.modified_field,
                createable=False, updateable=False, deletable=False, authoritative=True,
            )  # fmt: skip
        fields = {column.name: _field_info(column, source) for column in source.table.columns}
        return ObjectInfo(
            object_type, fields, id_field=source.id_field, modified_field=source.modified_field,
            authoritative=True, flags={"deleted_field": source.deleted_field},
        )  # fmt: skip

    def read(
        self,
        object_type: str,
        since: str | None = None,
        where: str | None = None,
        own_writes: Sequence[tuple[str, ...]] = (),
    ) -> Iterator[Record]:
        """Rows modified at or after ``since`` (every row when None), oldest first; unstamped rows,
        whose changes no time tells, come first on every read."""
        self.calls["read"] += 1
        if where is not None:
            raise ConnectorError(
                f"the sql connector does not take `where` (reading `{object_type}`)",
                hint="give the side a `query:` (a SELECT with its WHERE) instead",
            )
        source = self._source(object_type)
        return self._rows(source, canonical_time(since, "since") if since is not None else None)

    def get(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        self.calls["get"] += 1
        source = self._source(object_type)
        return {record.id: record for record in self._select_in(source, source.columns[source.id_field], ids)}

    def find(self, object_type: str, field_name: str, values: Sequence[Any]) -> list[Record]:
        """Live rows whose column (or, dotted, a JSON column's member) equals one of the values."""
        self.calls["find"] += 1
        source = self._source(object_type)
        column, _, member = field_name.partition(".")
        if column not in source.columns:
            raise ConnectorError(
                f"`{object_type}` has no column `{column}`", hint=did_you_mean(column, source.columns.keys())
            )
        if member:
            element = source.columns[column][tuple(member.split("."))].as_string()
            return self._select_in(source, element, [str(v) for v in values if v is not None], convert=False)
        return self._select_in(source, source.columns[column], values)

    def write(self, object_type: str, writes: Sequence[Write]) -> list[WriteResult]:
        """One transaction per batch, a savepoint per record; a batch waiting too long on a row
        lock is tried again (nothing of it was committed)."""
        self.calls["write"] += 1
        if not writes:
            return []
        source = self._writable(object_type)
        for attempt in range(LOCK_RETRIES + 1):
            try:
                with self._connection(f"writing `{object_type}`") as connection, connection.begin():
                    if connection.dialect.name == "postgresql":
                        connection.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'"))
                    self.clock.observe(self._latest(connection, source))
                    return [self._apply(connection, source, write) for write in writes]
            except _LockTimeout:
                if attempt == LOCK_RETRIES:
                    raise ConnectorError(
                        f"{self.where}: `{object_type}` rows stayed locked by another transaction",
                        hint=f"waited {LOCK_TIMEOUT_SECONDS} s {LOCK_RETRIES + 1} times; the next run tries again",
                    ) from None
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    # --- reading

    def _rows(self, source: Source, since: str | None) -> Iterator[Record]:
        """Pages by keyset, each its own short query: unstamped rows by id, then stamped rows by
        (modified, id) up to the latest time when the read began."""
        id_column = source.columns[source.id_field]
        if source.modified_field is None:
            yield from self._pages(source, [], (id_column,))
            return
        modified = source.columns[source.modified_field]
        with self._connection(f"reading `{source.name}`") as connection:
            key, bound = self._time_order(connection, source, modified)
            # as text: a time past what the driver converts (year 9999) still bounds the read
            latest = sa.select(sa.cast(sa.func.max(key), sa.String)).select_from(source.selectable)
            until = connection.execute(latest).scalar()
        # unstamped: no time, or (SQLite) text that is no time, which orders as none; a NOT NULL
        # column ordered by itself has none, and the look is left out
        spelled = isinstance(key, sa.sql.functions.FunctionElement)
        if since is None or spelled or getattr(modified, "nullable", True):
            yield from self._pages(source, [key.is_(None)], (id_column,))
        if until is None:
            return
        start = key >= bound(since) if since else modified.is_not(None)
        yield from self._pages(source, [key <= _from_text(until), start], (key, id_column))

    def _time_order(
        self, connection: sa.Connection, source: Source, modified: sa.ColumnElement
    ) -> tuple[sa.ColumnElement, Callable[[str], Any]]:
        """What time order is read by, and how a time becomes a bound in it. A time column orders
        itself. SQLite keeps times as text: spelled `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC (as
        `CURRENT_TIMESTAMP` and SQLAlchemy write them), text order is time order and the table's
        (modified, id) index serves the read; any other spelling in the column (a `T`, a zone)
        is ordered by one normalised spelling, which only an index on that expression serves."""
        if self.engine.dialect.name != "sqlite":
            if source.table is None:
                return modified, lambda since: parse_time(since)
            return modified, lambda since: to_column(modified, since)
        text = sa.type_coerce(modified, sa.String())
        other_spelling = sa.or_(*(text.op("GLOB")(pattern) for pattern in OTHER_TIME_SPELLINGS))
        if (
            connection.execute(
                sa.select(sa.literal(1)).select_from(source.selectable).where(other_spelling).limit(1)
            ).first()
            is None
        ):
            return text, lambda since: sa.literal(_sqlite_time(since), sa.String())
        key = sa.func.strftime(NORMALISED_TIME, modified)
        return key, lambda since: sa.func.strftime(NORMALISED_TIME, _sqlite_time(since))

    def _pages(self, source: Source, conditions: list, order: tuple) -> Iterator[Record]:
        keys = [column.label(f"_syncmap_key{i}") for i, column in enumerate(order)]
        after: tuple | None = None
        while True:
            query = sa.select(source.selectable, *keys).where(*conditions).order_by(*order).limit(READ_PAGE)
            if after is not None:
                query = query.where(_after(order, after))
            try:
                rows = self._fetch(source, query, sa.Result.all)
            except Unconvertible:
                records, ends = self._page_by_rows(source, query, order)
                yield from records
                if len(records) < READ_PAGE:
                    return
                after = ends
                continue
            width = len(rows[0]) - len(keys) if rows else 0
            for row in rows:
                yield self._record(source, dict(zip(source.columns.keys(), row[:width], strict=True)))
            if len(rows) < READ_PAGE:
                return
            after = tuple(rows[-1][width:])

    def _page_by_rows(self, source: Source, query: sa.Select, order: tuple) -> tuple[list[Record], tuple]:
        """A page holding a value the driver cannot convert, read again by id: the rows that
        convert as records, each other one as an unreadable record naming its column. Its keys
        come as text, which every database compares with the key's column."""
        id_column = source.columns[source.id_field]
        keyed = query.with_only_columns(id_column, *(sa.cast(column, sa.String) for column in order))
        found = self._fetch(source, keyed, sa.Result.all)
        by_id = {str(record.id): record for record in self._rows_by_id(source, [row[0] for row in found])}
        ends = tuple(_from_text(text) for text in found[-1][1:]) if found else ()
        return [by_id[str(row[0])] for row in found], ends

    def _rows_by_id(self, source: Source, ids: list[Any]) -> list[Record]:
        """The rows with these ids; where one cannot be converted, the ids are halved until it
        is found alone."""
        query = sa.select(source.selectable).where(source.columns[source.id_field].in_(ids))
        try:
            return self._fetch(
                source, query, lambda result: [self._record(source, row) for row in result.mappings()]
            )
        except Unconvertible:
            if len(ids) == 1:
                return [self._unreadable_row(source, ids[0])]
            middle = len(ids) // 2
            return self._rows_by_id(source, ids[:middle]) + self._rows_by_id(source, ids[middle:])

    def _unreadable_row(self, source: Source, record_id: Any) -> Record:
        """A row one of whose values the driver cannot convert: the others, and what the bad
        ones hold (as the database spells them) with the driver's reason."""
        id_column = source.columns[source.id_field]
        row: dict[str, Any] = {}
        problems: list[str] = []
        for name, column in source.columns.items():
            where = id_column == record_id
            try:
                row[name] = self._fetch(source, sa.select(column).where(where), sa.Result.scalar)
            except Unconvertible as e:
                text = self._fetch(
                    source, sa.select(sa.cast(column, sa.String)).where(where), sa.Result.scalar
                )
                problems.append(f"`{name}` holds `{text}`: {e}")
        record = self._record(source, row)
        unreadable = "; ".join(filter(None, [record.unreadable, *problems]))
        return Record(record.type, record.id, record.values, record.modified, record.deleted, unreadable)

    def _select_in(
        self, source: Source, column: sa.ColumnElement, values: Sequence[Any], convert: bool = True
    ) -> list[Record]:
        """Live rows where ``column`` is one of ``values``, oldest first. A table's column takes
        values converted to its type (those it cannot hold match nothing); a query's columns,
        whose types are not known, are compared as text."""
        if convert and source.table is None:
            column, convert = sa.cast(column, sa.String), False
            values = [str(v) for v in values if v is not None]
        converted = (for_column(column, v) if convert else v for v in values)
        wanted = list(dict.fromkeys(v for v in converted if v is not None))
        records = []
        for start in range(0, len(wanted), IN_BATCH):
            query = sa.select(source.selectable).where(
                source.live(), column.in_(wanted[start : start + IN_BATCH])
            )
            try:
                records.extend(
                    self._fetch(
                        source, query, lambda result: [self._record(source, row) for row in result.mappings()]
                    )
                )
            except Unconvertible:
                found = self._fetch(
                    source, query.with_only_columns(source.columns[source.id_field]), sa.Result.all
                )
                records.extend(self._rows_by_id(source, [row[0] for row in found]))
        return sorted(records, key=lambda r: (r.modified or "", r.id))

    def _fetch(self, source: Source, query: sa.Executable, shape: Callable[[sa.Result], Any]) -> Any:
        """A read's result in ``shape``; a value the driver cannot convert raises Unconvertible,
        which passes the error wrapper so the caller can narrow it down to its row."""
        with self._connection(f"reading `{source.name}`") as connection:
            try:
                return shape(connection.execute(query))
            except UNCONVERTIBLE as e:
                raise Unconvertible(_first_line(e)) from e

    def _record(self, source: Source, row: Mapping[str, Any]) -> Record:
        """A row as a record; a value no other system could hold (a NaN, an infinity) makes it
        unreadable, named with its column."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, value in row.items():
            try:
                values[name] = from_database(value)
            except Unreadable as e:
                problems.append(f"`{name}` holds {e}")
        modified = values.get(source.modified_field) if source.modified_field else None
        deleted = bool(source.deleted_field and values.get(source.deleted_field) not in (None, False, 0))
        record_id = str(values[source.id_field])
        return Record(source.name, record_id, values, modified, deleted, "; ".join(problems) or None)

    @staticmethod
    def _latest(connection: sa.Connection, source: Source) -> str | None:
        if source.modified_field is None:
            return None
        column = source.columns[source.modified_field]
        latest = connection.execute(sa.select(sa.cast(sa.func.max(column), sa.String))).scalar()
        try:
            return format_time(aware(parse_time(latest))) if latest is not None else None
        except ValueError:  # past year 9999: no stamp syncmap gives can follow it
            return None

    # --- writing

    def _apply(self, connection: sa.Connection, source: Source, write: Write) -> WriteResult:
        handler = {"create": self._insert, "update": self._update, "delete": self._delete}.get(write.op)
        savepoint = connection.begin_nested()
        try:
            if handler is None:
                raise RecordRefused(f"unknown write operation `{write.op}`")
            record_id = handler(connection, source, write)
        except (RecordRefused, DBAPIError, sa.exc.StatementError, UnicodeError) as e:  # a lone surrogate
            savepoint.rollback()
            if isinstance(e, DBAPIError) and _is_lock_timeout(e):
                raise _LockTimeout from e
            if isinstance(e, DBAPIError) and e.connection_invalidated:
                raise
            return WriteResult(write.ref, ok=False, id=write.id, error=_record_error(source, write, e))
        savepoint.commit()
        return WriteResult(write.ref, ok=True, id=record_id)

    def _insert(self, connection: sa.Connection, source: Source, write: Write) -> str:
        table = _table(source)
        row = self._row(table, {}, write.values)
        if (
            source.modified_field
            and not source.stamps_itself
            and table.c[source.modified_field].server_default is None
        ):
            row[source.modified_field] = self._stamp(table.c[source.modified_field])
        query = sa.insert(table).values(row).returning(table.c[source.id_field])
        return str(connection.execute(query).scalar_one())

    def _update(self, connection: sa.Connection, source: Source, write: Write) -> str:
        table = _table(source)
        stored = self._stored(connection, source, write)
        row = self._row(table, stored, write.values)
        if source.id_field in row and str(from_database(row[source.id_field])) != str(
            stored[source.id_field]
        ):
            raise RecordRefused(
                f"{source.name} `{write.id}`: the id column `{source.id_field}` cannot change"
            )
        self._stamp_update(source, row)
        connection.execute(
            sa.update(table).where(table.c[source.id_field] == stored[source.id_field]).values(row)
        )
        return str(stored[source.id_field])

    def _delete(self, connection: sa.Connection, source: Source, write: Write) -> str:
        table = _table(source)
        stored = self._stored(connection, source, write)
        where = table.c[source.id_field] == stored[source.id_field]
        if source.deleted_field is None:
            connection.execute(sa.delete(table).where(where))
        else:
            mark = table.c[source.deleted_field]
            row = {source.deleted_field: True if _is_boolean(mark) else self._stamp(mark)}
            self._stamp_update(source, row)
            connection.execute(sa.update(table).where(where).values(row))
        return str(stored[source.id_field])

    def _stored(self, connection: sa.Connection, source: Source, write: Write) -> dict[str, Any]:
        """The live row an update or delete names, locked until the batch commits."""
        if not write.id:
            raise RecordRefused(f"an {write.op} of `{source.name}` needs the record id")
        table = _table(source)
        record_id = for_column(table.c[source.id_field], write.id)
        query = sa.select(table).where(table.c[source.id_field] == record_id, source.live())
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        row = connection.execute(query).mappings().first() if record_id is not None else None
        if row is None:
            raise RecordRefused(f"{source.name} `{write.id}` not found")
        return dict(row)

    def _row(self, table: sa.Table, stored: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
        """Column values for a write: each converted to its column's type; ``address.city``
        sets one member of the JSON column ``address``, keeping the others."""
        row: dict[str, Any] = {}
        for name, value in values.items():
            column_name, _, member = name.partition(".")
            if column_name not in table.c:
                raise RecordRefused(
                    f"{table.name} has no column `{column_name}`"
                    + (f" ({hint})" if (hint := did_you_mean(column_name, table.c.keys())) else "")
                )
            column = table.c[column_name]
            if member:
                document = row.get(column_name, stored.get(column_name))
                document = json.loads(document) if isinstance(document, str) else dict(document or {})
                _set_member(document, member.split("."), value)
                value = document
            row[column_name] = to_column(column, value)
        return row

    def _stamp_update(self, source: Source, row: dict[str, Any]) -> None:
        if source.modified_field and not source.stamps_itself:
            row[source.modified_field] = self._stamp(_table(source).c[source.modified_field])

    def _stamp(self, column: sa.Column) -> Any:
        """Now, strictly after every stamp seen, in the column's type."""
        return to_column(column, self.clock.tick())

    # --- the database and its catalogue

    def _engine(self) -> sa.Engine:
        options: dict[str, Any] = {}
        if self.url.get_backend_name() == "postgresql":
            options["execution_options"] = {"postgresql_readonly": self.read_only}
            options["connect_args"] = {"connect_timeout": 10}
        try:
            engine = sa.create_engine(self.url, pool_pre_ping=True, **options)
        except (ArgumentError, NoSuchModuleError, ImportError) as e:
            raise SettingError(
                "url", f"cannot use the database url {self.where}: {e}", hint=_url_hint()
            ) from None
        with self._errors("connecting"):
            engine.connect().close()
        return engine

    def _source(self, object_type: str) -> Source:
        if object_type not in self.sources:
            self.sources[object_type] = self._reflect(object_type, self.declared.get(object_type, Declared()))
        return self.sources[object_type]

    def _reflect(self, object_type: str, declared: Declared) -> Source:
        if declared.query is not None:
            return self._query_source(object_type, declared)
        named, _, name = object_type.rpartition(".")
        schema = named or self.schema
        with self._errors(f"describing `{object_type}`"):
            inspector = sa.inspect(self.engine)
            if schema and schema not in (schemas := inspector.get_schema_names()):
                message = f"{self.where} has no schema `{schema}`"
                hint = did_you_mean(schema, schemas) or f"schemas: {', '.join(sorted(schemas))}"
                if named:
                    raise UnknownObjectError(message, hint=hint)
                raise SettingError("schema", message, hint=hint)
            if not inspector.has_table(name, schema=schema):
                tables = inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema)
                raise UnknownObjectError(
                    f"{self.where} has no table `{object_type}`",
                    hint=did_you_mean(name, tables) or f"tables: {', '.join(sorted(tables)) or 'none'}",
                )
            with warnings.catch_warnings():  # what it cannot reflect (an expression index) syncmap never uses
                warnings.simplefilter("ignore", SAWarning)
                table = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=self.engine)
            triggers = _has_triggers(self.engine, name, schema)
        primary = [column.name for column in table.primary_key.columns]
        id_field = declared.id_field or (primary[0] if len(primary) == 1 else "id")
        modified = declared.modified_field or (DEFAULT_MODIFIED if DEFAULT_MODIFIED in table.c else None)
        for field, what in ((id_field, "id"), (modified, "modified"), (declared.deleted_field, "deleted")):
            if field is not None and field not in table.c:
                hint = did_you_mean(field, table.c.keys()) or f"columns: {', '.join(table.c.keys())}"
                if what == "id" and not declared.id_field:
                    hint = "the table has no single-column primary key: say which column is the id with `id:`"
                raise UnknownObjectError(
                    f"table `{object_type}` has no column `{field}` (its {what})", hint=hint
                )
        return Source(
            object_type, table, id_field, modified, declared.deleted_field, table, stamps_itself=triggers
        )

    def _query_source(self, object_type: str, declared: Declared) -> Source:
        """A side's SELECT, tried once (no rows) so a mistake is an error before anything is read."""
        text = declared.query.strip().rstrip(";")
        with self._errors(f"checking the query of `{object_type}`"), self.engine.connect() as connection:
            try:
                names = list(connection.execute(sa.text(f"SELECT * FROM ({text}) AS q WHERE 1 = 0")).keys())
            except SQLAlchemyError as e:
                raise QueryError(
                    f"the query of `{object_type}` fails on {self.where}: {_first_line(e)}",
                    hint="try it in the database's own client; a side's query is one SELECT (or WITH ...)",
                ) from None
        selectable = sa.text(text).columns(*(sa.column(name) for name in names)).subquery("q")
        id_field = declared.id_field or "id"
        for field, what in (
            (id_field, "id"),
            (declared.modified_field, "modified"),
            (declared.deleted_field, "deleted"),
        ):
            if field is not None and field not in names:
                raise UnknownObjectError(
                    f"the query of `{object_type}` gives no column `{field}` (its {what})",
                    hint=did_you_mean(field, names) or f"it gives: {', '.join(names)}",
                )
        return Source(
            object_type, selectable, id_field, declared.modified_field, declared.deleted_field, None
        )

    def _writable(self, object_type: str) -> Source:
        source = self._source(object_type)
        if source.table is None:
            raise ConnectorError(
                f"`{object_type}` is a query: it cannot be written", hint="write to a table instead"
            )
        return source

    @contextmanager
    def _connection(self, action: str) -> Iterator[sa.Connection]:
        with self._errors(action), self.engine.connect() as connection:
            yield connection

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Database errors leave the connector as ConnectorError naming the database (never its
        password) and what failed."""
        try:
            yield
        except SQLAlchemyError as e:
            raise _database_error(self.url, action, e) from None


class _LockTimeout(Exception):
    """A row lock held by another transaction outlasted the lock timeout: try the batch again."""


# --- urls and errors


def _database_url(text: str, base_dir: Path | None, read_only: bool) -> sa.URL:
    """The url SQLAlchemy opens: psycopg 3 for PostgreSQL unless a driver is named; a relative
    SQLite path taken from the mapping's folder; a read-only SQLite file opened ``mode=ro``."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise SettingError("url", "the `url` setting is not a database url", hint=_url_hint()) from None
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return url
    path = Path(base_dir or Path.cwd()) / url.database
    if read_only:
        if not path.is_file():
            raise SettingError(
                "url", f"the database file {path} does not exist",
                hint="check `url`; a dry run opens databases read-only and creates nothing",
            )  # fmt: skip
        return url.set(database=f"file:{path}?mode=ro", query={**url.query, "uri": "true"})
    return url.set(database=str(path))


def _url_hint() -> str:
    return "write it like postgresql://app:${APP_DB_PASSWORD}@host:5432/app or sqlite:///app.db"


def _after(order: tuple, after: tuple) -> sa.ColumnElement:
    """Rows after the key ``after`` in ``order``, written so an index on the columns serves it:
    (a, b) > (x, y) as a >= x AND (a > x OR b > y)."""
    if len(order) == 1:
        return order[0] > after[0]
    (first, second), (x, y) = order, after
    return sa.and_(first >= x, sa.or_(first > x, second > y))


def _from_text(text: str) -> sa.ColumnElement:
    """A key read as text (a time past what the driver converts) as a bound of its column: a
    literal of no type, which the database reads as the column's type."""
    return sa.literal(text, sa.types.NullType())


def _sqlite_time(since: str) -> str:
    """A time in SQLite's text spelling, as short as it can be (`.5`, not `.500000`, and no
    fraction at a whole second) so that `>=` holds for every spelling of that same instant."""
    moment = aware(parse_time(since)).astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S.%f}".rstrip("0").rstrip(".")


def _shown(url: sa.URL) -> str:
    """The url as messages show it: never the password, and a SQLite file by its path rather
    than the read-only URI it is opened with."""
    if url.get_backend_name() == "sqlite" and (url.database or "").startswith("file:"):
        url = url.set(database=(url.database or "").removeprefix("file:").split("?")[0], query={})
    return url.render_as_string(hide_password=True)


def _database_error(url: sa.URL, action: str, error: SQLAlchemyError) -> ConnectorError:
    where = _shown(url)
    text = _first_line(error)
    if isinstance(error, sa.exc.OperationalError):
        lowered = text.lower()
        if "authentication failed" in lowered or ("role" in lowered and "does not exist" in lowered):
            return ConnectorError(
                f"{where}: {action} failed: {text}", hint="check the user and the password variable"
            )
        if "does not exist" in lowered and "database" in lowered:
            return SettingError("url", f"{where}: {text}", hint="check the database name in `url`")
        if any(
            word in lowered
            for word in ("refused", "could not connect", "timeout expired", "no route", "name or service")
        ):
            host = f"{url.host or 'localhost'}:{url.port or 5432}"
            return ConnectorError(
                f"cannot reach {host} ({action}): {text}",
                hint="is the database server running and reachable?",
            )
        if url.get_backend_name() == "sqlite" and ("unable to open" in lowered or "readonly" in lowered):
            return SettingError(
                "url",
                f"{where}: {action} failed: {text}",
                hint="check the path in `url` and that the file is writable",
            )
    return ConnectorError(f"{where}: {action} failed: {text}")


def _record_error(source: Source, write: Write, error: Exception) -> str:
    if isinstance(error, RecordRefused):
        return str(error)
    return f"{write.op} of {source.name} failed: {_first_line(error)}"


def _first_line(error: Exception) -> str:
    """The driver's own message (not SQLAlchemy's wrapping with the statement), its first line."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    return text.splitlines()[0] if text else type(original).__name__


def _is_lock_timeout(error: DBAPIError) -> bool:
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return code in ("55P03", "40P01") or "database is locked" in str(error.orig)


# --- types: reading gives JSON-like values; writing converts to the column's type


def _field_info(column: sa.Column, source: Source) -> FieldInfo:
    generated = column.computed is not None or (column.identity is not None and column.identity.always)
    defaulted = (
        column.server_default is not None
        or column.identity is not None
        or (column.primary_key and column.autoincrement is True)
        or (
            column.primary_key
            and isinstance(column.type, sa.Integer)
            and len(source.table.primary_key.columns) == 1
        )
        or (column.name == source.modified_field)
    )
    # a generated key is the database's to give; syncmap plans ids only for keys it may choose
    stamped = column.name == source.modified_field or (column.name == source.id_field and defaulted)
    return FieldInfo(
        column.name,
        _field_type(column),
        createable=not generated and not stamped,
        updateable=not generated and not stamped and column.name != source.id_field,
        nillable=bool(column.nullable),
        defaulted=defaulted,
    )


def _field_type(column: sa.Column) -> str:
    kind = column.type
    if column.primary_key:
        return "id"
    for types, name in (
        (sa.Boolean, "boolean"), (sa.DateTime, "datetime"), (sa.Date, "date"),
        ((sa.Integer, sa.Numeric, sa.Float), "number"), (sa.JSON, "object"),
    ):  # fmt: skip
        if isinstance(kind, types):
            return name
    return "string"


def _is_boolean(column: sa.ColumnElement) -> bool:
    return isinstance(column.type, sa.Boolean)


def _has_triggers(engine: sa.Engine, table: str, schema: str | None) -> bool:
    """Whether a trigger may stamp the table's rows (then syncmap leaves `modified` to it)."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        query = sa.text(
            "SELECT 1 FROM information_schema.triggers WHERE event_object_table = :t "
            "AND event_object_schema = coalesce(:s, current_schema())"
        )
    elif dialect == "sqlite":
        query = sa.text("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t")
    else:
        return False
    with engine.connect() as connection:
        return connection.execute(query, {"t": table, "s": schema}).first() is not None


def _table(source: Source) -> sa.Table:
    assert source.table is not None  # _writable checked
    return source.table


def _set_member(document: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        inner = document.get(key)
        document[key] = inner = dict(inner) if isinstance(inner, dict) else {}
        document = inner
    document[path[-1]] = value

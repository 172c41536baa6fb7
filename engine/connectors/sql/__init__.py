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

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_incrementing

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
from engine.connectors.settings import SqlSettings
from engine.connectors.sql.catalogue import DEFAULT_MODIFIED, Source, field_info, reflect
from engine.connectors.sql.database import Database
from engine.connectors.sql.reads import (
    READ_PAGE as READ_PAGE,  # rows per page, as tests and benchmarks see it
)
from engine.connectors.sql.reads import Reader
from engine.connectors.sql.writes import LockTimeout, Writer, latest_stamp
from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError
from engine.times import Clock, canonical_time

LOCK_TIMEOUT_SECONDS = 5  # how long a write waits for a row another transaction holds
LOCK_RETRIES = 3  # then the batch is tried again this many times before the run gives up
SELECT = re.compile(r"^\s*(--[^\n]*\n\s*)*(select|with)\b", re.IGNORECASE)


class SqlConnector(BaseConnector):
    """Records in a database's own tables (see the module docstring): what a side is comes from
    the catalogue (`catalogue.py`), reads and writes have a module each."""

    opens_read_only = True
    takes_declarations = True
    default_modified_field = DEFAULT_MODIFIED

    def __init__(self, settings: Mapping[str, Any], base_dir: Path | None = None, read_only: bool = False):
        typed = typed_settings("sql", SqlSettings, settings)
        self.read_only = read_only
        self.schema: str | None = typed.schema_ or None
        self.database = Database(typed.url, base_dir, read_only)
        self.calls: Counter[str] = Counter()
        self.clock = Clock()
        self.declared: dict[str, Declared] = {}
        self.sources: dict[str, Source] = {}
        self.reader, self.writer = Reader(self.database), Writer(self.clock)
        # a batch waiting too long on a row lock is tried again: nothing of it was committed
        self.lock_retries = Retrying(
            retry=retry_if_exception_type(LockTimeout), stop=stop_after_attempt(LOCK_RETRIES + 1),
            wait=wait_incrementing(start=0.2, increment=0.2), reraise=True,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"SqlConnector({{'url': {self.where!r}}})"

    @property
    def where(self) -> str:
        """The database, as messages name it: never with its password."""
        return self.database.where

    @property
    def engine(self) -> sa.Engine:
        return self.database.engine

    def close(self) -> None:
        self.database.engine.dispose()

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
        fields = {column.name: field_info(column, source) for column in source.table.columns}
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
        return self.reader.rows(source, canonical_time(since, "since") if since is not None else None)
    def get(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        self.calls["get"] += 1
        source = self._source(object_type)
        return {record.id: record for record in self.reader.select_in(source, source.columns[source.id_field], ids)}
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
            return self.reader.select_in(source, element, [str(v) for v in values if v is not None], convert=False)
        return self.reader.select_in(source, source.columns[column], values)
    def write(self, object_type: str, writes: Sequence[Write]) -> list[WriteResult]:
        """One transaction per batch, a savepoint per record; a batch waiting too long on a row
        lock is tried again (nothing of it was committed)."""
        self.calls["write"] += 1
        if not writes:
            return []
        source = self._writable(object_type)
        try:
            return self.lock_retries(self._write_batch, object_type, source, writes)
        except LockTimeout:
            raise ConnectorError(
                f"{self.where}: `{object_type}` rows stayed locked by another transaction",
                hint=f"waited {LOCK_TIMEOUT_SECONDS} s {LOCK_RETRIES + 1} times; the next run tries again",
            ) from None

    def _write_batch(self, object_type: str, source: Source, writes: Sequence[Write]) -> list[WriteResult]:
        with self.database.connection(f"writing `{object_type}`") as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'"))
            self.clock.observe(latest_stamp(connection, source))
            return [self.writer.apply(connection, source, write) for write in writes]

    # --- what each record type is

    def _source(self, object_type: str) -> Source:
        if object_type not in self.sources:
            declared = self.declared.get(object_type, Declared())
            self.sources[object_type] = reflect(self.database, object_type, declared, self.schema)
        return self.sources[object_type]
    def _writable(self, object_type: str) -> Source:
        source = self._source(object_type)
        if source.table is None:
            raise ConnectorError(
                f"`{object_type}` is a query: it cannot be written", hint="write to a table instead"
            )
        return source

"""Writing a sql side: a savepoint per record, so a row the database refuses fails alone with
the database's message. Values are converted by column type; a dotted field (``address.city``)
reaches into a JSON column. ``modified`` is stamped on every write unless the table has a
trigger for it (or, on insert, a default)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from engine.connectors import Write, WriteResult
from engine.connectors.local import RecordRefused
from engine.connectors.sql.catalogue import Source, is_boolean, table_of
from engine.connectors.sql.database import first_line, is_lock_timeout
from engine.connectors.sql.values import aware, for_column, from_database, to_column
from engine.diagnostics import did_you_mean
from engine.times import Clock, format_time, parse_time


class LockTimeout(Exception):
    """A row lock held by another transaction outlasted the lock timeout: try the batch again."""


class Writer:
    """The writes of one connection, stamped by its clock."""

    def __init__(self, clock: Clock):
        self.clock = clock

    def apply(self, connection: sa.Connection, source: Source, write: Write) -> WriteResult:
        handler = {"create": self._insert, "update": self._update, "delete": self._delete}.get(write.op)
        savepoint = connection.begin_nested()
        try:
            if handler is None:
                raise RecordRefused(f"unknown write operation `{write.op}`")
            record_id = handler(connection, source, write)
        except (RecordRefused, DBAPIError, sa.exc.StatementError, UnicodeError) as e:  # a lone surrogate
            savepoint.rollback()
            if isinstance(e, DBAPIError) and is_lock_timeout(e):
                raise LockTimeout from e
            if isinstance(e, DBAPIError) and e.connection_invalidated:
                raise
            return WriteResult(write.ref, ok=False, id=write.id, error=_record_error(source, write, e))
        savepoint.commit()
        return WriteResult(write.ref, ok=True, id=record_id)
    def _insert(self, connection: sa.Connection, source: Source, write: Write) -> str:
        table = table_of(source)
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
        table = table_of(source)
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
        table = table_of(source)
        stored = self._stored(connection, source, write)
        where = table.c[source.id_field] == stored[source.id_field]
        if source.deleted_field is None:
            connection.execute(sa.delete(table).where(where))
        else:
            mark = table.c[source.deleted_field]
            row = {source.deleted_field: True if is_boolean(mark) else self._stamp(mark)}
            self._stamp_update(source, row)
            connection.execute(sa.update(table).where(where).values(row))
        return str(stored[source.id_field])
    def _stored(self, connection: sa.Connection, source: Source, write: Write) -> dict[str, Any]:
        """The live row an update or delete names, locked until the batch commits."""
        if not write.id:
            raise RecordRefused(f"an {write.op} of `{source.name}` needs the record id")
        table = table_of(source)
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
            row[source.modified_field] = self._stamp(table_of(source).c[source.modified_field])
    def _stamp(self, column: sa.Column) -> Any:
        """Now, strictly after every stamp seen, in the column's type."""
        return to_column(column, self.clock.tick())


def latest_stamp(connection: sa.Connection, source: Source) -> str | None:
    """The newest modification time in the table, so a write's stamp comes after it."""
    if source.modified_field is None:
        return None
    column = source.columns[source.modified_field]
    latest = connection.execute(sa.select(sa.cast(sa.func.max(column), sa.String))).scalar()
    try:
        return format_time(aware(parse_time(latest))) if latest is not None else None
    except ValueError:  # past year 9999: no stamp syncmap gives can follow it
        return None


def _record_error(source: Source, write: Write, error: Exception) -> str:
    if isinstance(error, RecordRefused):
        return str(error)
    return f"{write.op} of {source.name} failed: {first_line(error)}"


def _set_member(document: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        inner = document.get(key)
        document[key] = inner = dict(inner) if isinstance(inner, dict) else {}
        document = inner
    document[path[-1]] = value

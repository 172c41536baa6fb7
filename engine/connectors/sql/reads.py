"""Reading a sql side: pages by (modified, id) keyset, each its own short query (no OFFSET, no
cursor held between pages, no table in memory); rows modified after a read began are left for
the next read. A row holding a value the driver cannot convert is read alone, unreadable, and
the others still read."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC
from typing import Any

import sqlalchemy as sa

from engine.connectors import Record
from engine.connectors.sql.catalogue import Source
from engine.connectors.sql.database import Database, first_line
from engine.connectors.sql.values import (
    AS_READ,
    TIMES,
    Unconvertible,
    Unreadable,
    aware,
    for_column,
    format_times,
    from_database,
    to_column,
)
from engine.records import batched
from engine.times import parse_time

READ_PAGE = 5000  # rows per keyset page: fewer queries, each a little longer
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


class Reader:
    """The reads of one database."""

    def __init__(self, database: Database):
        self.database = database

    def rows(self, source: Source, since: str | None) -> Iterator[Record]:
        """Pages by keyset, each its own short query: unstamped rows by id, then stamped rows by
        (modified, id) up to the latest time when the read began."""
        id_column = source.columns[source.id_field]
        if source.modified_field is None:
            yield from self._pages(source, [], (id_column,))
            return
        modified = source.columns[source.modified_field]
        with self.database.connection(f"reading `{source.name}`") as connection:
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
        if self.database.dialect != "sqlite":
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
            yield from self._page(source, rows, width)
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
                source, query, lambda result: [self._record(source, dict(row)) for row in result.mappings()]
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
    def select_in(
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
        for batch in batched(wanted, IN_BATCH):
            query = sa.select(source.selectable).where(source.live(), column.in_(batch))
            try:
                records.extend(
                    self._fetch(
                        source, query, lambda result: [self._record(source, dict(row)) for row in result.mappings()]
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
        with self.database.connection(f"reading `{source.name}`") as connection:
            try:
                return shape(connection.execute(query))
            except UNCONVERTIBLE as e:
                raise Unconvertible(first_line(e)) from e

    def _page(self, source: Source, rows: list[Sequence[Any]], width: int) -> Iterator[Record]:
        """A page's rows (their first `width` columns) as records, a column at a time: only the
        columns holding values the engine does not take as read (times, decimals, bytes) are
        converted, times a column at once, the others value by value."""
        if not rows:
            return
        names = list(source.columns.keys())
        columns = list(zip(*rows, strict=True))[:width]
        converted = []
        for index, column in enumerate(columns):
            kinds = set(map(type, column))
            if kinds <= AS_READ:
                continue
            if kinds <= TIMES:  # a time column, the modified one most often: converted whole
                columns[index] = format_times(column)
            else:
                converted.append(names[index])
        for row in zip(*columns, strict=True):
            yield self._record(source, dict(zip(names, row, strict=True)), converted)

    def _record(self, source: Source, values: dict[str, Any], converted: Sequence[str] | None = None) -> Record:
        """A row's values as a record, converted in place (``converted``: the columns that may
        need it, else all); a value no other system could hold (a NaN, an infinity) makes it
        unreadable, named with its column."""
        problems: list[str] = []
        for name in list(values) if converted is None else converted:
            try:
                values[name] = from_database(values[name])
            except Unreadable as e:
                del values[name]
                problems.append(f"`{name}` holds {e}")
        modified = values.get(source.modified_field) if source.modified_field else None
        deleted = bool(source.deleted_field and values.get(source.deleted_field) not in (None, False, 0))
        record_id = str(values[source.id_field])
        return Record(source.name, record_id, values, modified, deleted, "; ".join(problems) or None)


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

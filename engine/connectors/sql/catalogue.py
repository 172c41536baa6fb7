"""What a sql side reads and writes, from the database catalogue: a table's columns, types,
nullability, defaults, primary key, generated columns and triggers, or a side's SELECT tried once.
It is authoritative: a misspelled table or column is a document error."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import SAWarning, SQLAlchemyError

from engine.connectors import Declared, FieldInfo
from engine.connectors.sql.database import Database, first_line
from engine.diagnostics import did_you_mean
from engine.errors import QueryError, SettingError, UnknownObjectError

DEFAULT_MODIFIED = "updated_at"


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
        return sa.or_(mark.is_(None), mark == sa.false()) if is_boolean(mark) else mark.is_(None)


def reflect(database: Database, object_type: str, declared: Declared, default_schema: str | None) -> Source:
    """A table as the catalogue describes it, with the columns the side names checked."""
    if declared.query is not None:
        return query_source(database, object_type, declared)
    named, _, name = object_type.rpartition(".")
    schema = named or default_schema
    with database.errors(f"describing `{object_type}`"):
        inspector = sa.inspect(database.engine)
        if schema and schema not in (schemas := inspector.get_schema_names()):
            message = f"{database.where} has no schema `{schema}`"
            hint = did_you_mean(schema, schemas) or f"schemas: {', '.join(sorted(schemas))}"
            if named:
                raise UnknownObjectError(message, hint=hint)
            raise SettingError("schema", message, hint=hint)
        if not inspector.has_table(name, schema=schema):
            tables = inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema)
            raise UnknownObjectError(
                f"{database.where} has no table `{object_type}`",
                hint=did_you_mean(name, tables) or f"tables: {', '.join(sorted(tables)) or 'none'}",
            )
        with warnings.catch_warnings():  # what it cannot reflect (an expression index) syncmap never uses
            warnings.simplefilter("ignore", SAWarning)
            table = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=database.engine)
        triggers = _has_triggers(database.engine, name, schema)
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


def query_source(database: Database, object_type: str, declared: Declared) -> Source:
    """A side's SELECT, tried once (no rows) so a mistake is an error before anything is read."""
    text = declared.query.strip().rstrip(";")
    with database.errors(f"checking the query of `{object_type}`"), database.engine.connect() as connection:
        try:
            names = list(connection.execute(sa.text(f"SELECT * FROM ({text}) AS q WHERE 1 = 0")).keys())
        except SQLAlchemyError as e:
            raise QueryError(
                f"the query of `{object_type}` fails on {database.where}: {first_line(e)}",
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


def field_info(column: sa.Column, source: Source) -> FieldInfo:
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


def is_boolean(column: sa.ColumnElement) -> bool:
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


def table_of(source: Source) -> sa.Table:
    assert source.table is not None  # a side writing a query is refused first
    return source.table

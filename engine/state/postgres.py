"""The state store on PostgreSQL (`--state postgresql://...`): the same tables and migrations as
SQLite's file, for jobs run from more than one machine. Writers take one advisory lock per
transaction, as SQLite's writers take its file's lock, so the store's rules hold unchanged. The
password comes from the URL or the environment (`PGPASSWORD`, `~/.pgpass`) and is never shown."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from engine.errors import StateError
from engine.state.database import Result
from engine.state.location import shown

WRITE_LOCK = 0x73796E63  # with the schema's name, the advisory lock a write transaction holds ("sync")
STREAM_CHUNK = 1000 if psycopg.pq.version() >= 170000 else 1  # rows a message (libpq 17 sends chunks)


class PostgresDatabase:
    """A store's connection to PostgreSQL, with `Database`'s methods (its SQL is written with
    `?` for a parameter, as SQLite's is) and every error a StateError naming the database."""

    dialect = "postgresql"

    def __init__(self, url: str, read_only: bool = False):
        self.path = shown(url)  # what messages name
        try:
            self.connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
            if read_only:  # a dry run: whatever it asks, the server writes nothing
                self.connection.execute("SET default_transaction_read_only = on")
        except psycopg.Error as e:
            raise StateError(
                f"the state store {self.path} cannot be opened: {_message(e)}",
                hint="check the server is up, the URL, and the password (PGPASSWORD or ~/.pgpass)",
            ) from None
        self._texts: dict[str, str] = {}

    def execute(self, sql: str, args: Iterable[Any] = ()) -> Result:
        try:
            return Result(self.connection.execute(self._text(sql), tuple(args)))
        except psycopg.Error as e:
            raise self.failure(e) from None

    def stream(self, sql: str, args: Iterable[Any] = ()) -> Iterator[tuple]:
        """A query's rows as the server sends them (a step's million links are not held twice);
        the connection serves nothing else until they are all read."""
        try:
            with self.connection.cursor() as cursor:
                yield from cursor.stream(self._text(sql), tuple(args), size=STREAM_CHUNK)
        except psycopg.Error as e:
            raise self.failure(e) from None

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        rows = [tuple(row) for row in rows]
        if not rows:
            return
        try:
            with self.connection.cursor() as cursor:
                cursor.executemany(self._text(sql), rows)
        except psycopg.Error as e:
            raise self.failure(e) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with self.connection.transaction():
                self.connection.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", (WRITE_LOCK,)
                )
                yield
        except psycopg.Error as e:
            raise self.failure(e) from None

    def set_schema_version(self, number: int) -> None:
        self.execute("CREATE TABLE IF NOT EXISTS syncmap_schema (version INTEGER NOT NULL)")
        self.execute("DELETE FROM syncmap_schema")
        self.execute("INSERT INTO syncmap_schema VALUES (?)", (number,))

    def schema_version(self) -> int:
        """The store's schema version; 0 when the database holds no syncmap store yet."""
        row = self.execute(  # the catalog as of now: another process may have made the store meanwhile
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
            "AND tablename = 'syncmap_schema'"
        ).fetchone()
        if not row or not row[0]:
            return 0
        found = self.execute("SELECT max(version) FROM syncmap_schema").fetchone()
        return (found[0] if found else None) or 0

    def close(self) -> None:
        self.connection.close()

    def failure(self, error: psycopg.Error) -> StateError:
        return StateError(
            f"the state store {self.path} failed: {_message(error)}",
            hint="check the server is up and reachable; nothing more was written to the store",
        )

    def _text(self, sql: str) -> str:
        """`?` parameters as psycopg's `%s` (a literal `%` doubled)."""
        if sql not in self._texts:
            self._texts[sql] = sql.replace("%", "%%").replace("?", "%s")
        return self._texts[sql]


def _message(error: psycopg.Error) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]

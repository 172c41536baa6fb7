"""The state store's SQLite connection: every error turned into a StateError naming the file, and
damage told apart from a store that is only busy, full or not writable."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import StateError


class CorruptStateError(StateError):
    """The state store file is not a whole syncmap store; nothing may be synced over it."""

    def __init__(self, path: Path, problem: str):
        super().__init__(
            f"the state store {path} {problem}; nothing was read or written",
            hint="restore it from a backup, or move it aside to start this project's jobs over "
            "(a new initial sync matches existing records by their keys only)",
        )


class Result:
    """A statement's rows (SQLite's or PostgreSQL's), fetched while errors can still be told apart
    from the caller's, and how many rows it changed."""

    def __init__(self, cursor: Any):
        self.rows = cursor.fetchall() if cursor.description is not None else []
        self.rowcount = cursor.rowcount

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.rows)

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple]:
        return self.rows


class Database:
    """The store's connection, turning SQLite's errors into a StateError naming the file. Its SQL
    is what SQLite and PostgreSQL both run (`?` marks a parameter); ``postgres.py`` holds the rest."""

    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection, path: Path | str):
        self.connection = connection
        self.path = path

    def schema_version(self) -> int:
        return self.execute("PRAGMA user_version").fetchone()[0]

    def set_schema_version(self, number: int) -> None:
        self.execute(f"PRAGMA user_version = {int(number)}")

    def close(self) -> None:
        self.connection.close()

    def execute(self, sql: str, args: Iterable[Any] = ()) -> Result:
        try:
            return Result(self.connection.execute(sql, tuple(args)))
        except sqlite3.DatabaseError as e:
            raise self.failure(self.path, e) from e

    def stream(self, sql: str, args: Iterable[Any] = ()) -> Iterator[tuple]:
        """A query's rows one by one (a step's million links are not listed twice in memory)."""
        try:
            yield from self.connection.execute(sql, tuple(args))
        except sqlite3.DatabaseError as e:
            raise self.failure(self.path, e) from e

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> Result:
        try:
            return Result(self.connection.executemany(sql, rows))
        except sqlite3.DatabaseError as e:
            raise self.failure(self.path, e) from e

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    @staticmethod
    def failure(path: Path, error: sqlite3.DatabaseError) -> StateError:
        """Damage is told apart from a store that is busy, full or not writable: only damage
        is answered with "restore it" (moving a store aside starts the jobs over)."""
        if getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return CorruptStateError(path, f"is damaged ({error})")
        if "locked" in str(error) or "busy" in str(error):
            return StateError(
                f"the state store {path} stayed locked by another process: {error}",
                hint="another syncmap command is writing to it; try again",
            )
        return StateError(
            f"the state store {path} failed: {error}",
            hint="check the disk has room and the file is writable; the store itself was not found damaged",
        )

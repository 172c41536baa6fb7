"""Where the sandbox org keeps its records: one SQLite database, on disk or in memory.

Records are stored whole as JSON documents keyed by id; the store knows nothing about fields,
validation or SOQL. Every access goes through one lock because the HTTP server is threaded and
a collection call with allOrNone must be all-or-nothing against concurrent writers.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import StateError
from engine.records import batched

FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # what an sObject field is called, and all it may be
LOOKUP_CHUNK = 500  # values per statement, well within SQLite's limit on parameters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    sobject TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_sobject ON records (sobject, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Store:
    """Records by id and by sObject, plus named counters for id numbering."""

    def __init__(self, path: Path | None = None):
        try:
            self._db = sqlite3.connect(
                str(path) if path else ":memory:", check_same_thread=False, isolation_level=None
            )
            if path:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise StateError(f"cannot open sandbox database {path}: {e}") from e
        self._lock = threading.RLock()
        self._depth = 0
        self._indexes: set[str] = set()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the store for a unit of work; an exception rolls back everything inside it."""
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self._depth == 1:
                    self._db.execute("ROLLBACK")
                raise
            else:
                if self._depth == 1:
                    self._db.execute("COMMIT")
            finally:
                self._depth -= 1

    def next_number(self, name: str) -> int:
        """The next value of a named counter, starting at 1 and never reused."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO counters VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
                (name,),
            )
            return self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]

    def put(self, sobject: str, record: dict[str, Any]) -> None:
        """Insert or replace a record (its ``Id`` and ``IsDeleted`` keys are indexed)."""
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
                (record["Id"], sobject, int(record.get("IsDeleted", False)), json.dumps(record)),
            )

    def get(self, record_id: str) -> tuple[str, dict[str, Any]] | None:
        """The sObject name and record stored under an id, deleted or not."""
        with self._lock:
            row = self._db.execute("SELECT sobject, body FROM records WHERE id = ?", (record_id,)).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def scan(self, sobject: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every record of an sObject in id order, which is creation order."""
        sql = "SELECT body FROM records WHERE sobject = ?"
        if not include_deleted:
            sql += " AND deleted = 0"
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id", (sobject,)).fetchall()
        return [json.loads(body) for (body,) in rows]

    def find(self, sobject: str, field: str, value: Any, ignore_case: bool) -> list[dict[str, Any]]:
        """Live records whose field equals value, found through the field's index."""
        return self.find_any(sobject, field, [value], ignore_case)

    def find_any(
        self,
        sobject: str,
        field: str,
        values: Sequence[Any],
        ignore_case: bool,
        include_deleted: bool = False,
    ) -> list[dict[str, Any]]:
        """Records whose field equals one of the values, in id order: an org looks records up
        by an indexed field (Id, unique, External ID) without reading the others. Each field
        looked up gets an index on its value the first time."""
        if field == "Id":
            column = "id"
        else:
            if not FIELD_NAME.fullmatch(field):
                raise ValueError(f"not a field name: {field!r}")
            column = f"json_extract(body, '$.{field}')"
            column = f"lower({column})" if ignore_case else column
            self._index(sobject, field, column)
        wanted = list(dict.fromkeys(v.lower() if ignore_case and isinstance(v, str) else v for v in values))
        live = "" if include_deleted else " AND deleted = 0"
        found: list[tuple[str, str]] = []
        with self._lock:
            for chunk in batched(wanted, LOOKUP_CHUNK):
                marks = ", ".join("?" * len(chunk))
                sql = f"SELECT id, body FROM records WHERE sobject = ?{live} AND {column} IN ({marks})"
                found += self._db.execute(sql, (sobject, *chunk)).fetchall()
        return [json.loads(body) for _, body in sorted(dict(found).items())]

    def find_since(
        self, sobject: str, field: str, earliest: str, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Records whose datetime field is at or after ``earliest`` (both in Salesforce's one
        spelling, which sorts as text), in id order, through the field's index."""
        if not FIELD_NAME.fullmatch(field):
            raise ValueError(f"not a field name: {field!r}")
        column = f"json_extract(body, '$.{field}')"
        self._index(sobject, field, column)
        live = "" if include_deleted else " AND deleted = 0"
        sql = f"SELECT body FROM records WHERE sobject = ?{live} AND {column} >= ? ORDER BY id"
        with self._lock:
            rows = self._db.execute(sql, (sobject, earliest)).fetchall()
        return [json.loads(body) for (body,) in rows]

    def _index(self, sobject: str, field: str, column: str) -> None:
        name = f"by_{sobject}_{field}{'_ci' if column.startswith('lower') else ''}"
        if name not in self._indexes:
            with self._lock:
                self._db.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON records (sobject, {column})')
            self._indexes.add(name)

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM records").fetchone()[0]

    def clear(self) -> None:
        """Remove every record; counters are kept so ids are never handed out twice."""
        with self.transaction():
            self._db.execute("DELETE FROM records")

    def close(self) -> None:
        with self._lock:
            self._db.close()

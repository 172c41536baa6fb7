"""The state store: what syncmap remembers between runs, in one SQLite file per project.

It holds the links between records on both sides (and how each was made), the last synced
values of every linked pair (the base of three-way change detection), per-step watermarks and
the times each step last wrote to each side, the match-key index, run history, dead letters, and
the write journal. Only ``apply`` writes here; a dry run reads it. The schema is versioned
(``PRAGMA user_version``) and migrated on open.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import tomllib
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import StateError
from engine.state.database import CorruptStateError, Database
from engine.state.decisions import DecisionTables
from engine.state.jobs import JobTables
from engine.state.journal import JournalTables
from engine.state.location import is_database_url, shown
from engine.state.pairs import PairTables
from engine.state.reads import ReadTables
from engine.state.records import Decision, JournalEntry, Lease, Link, now
from engine.state.schema import KEPT_WRITE_WINDOWS, MIGRATIONS, migrate

if TYPE_CHECKING:
    from engine.state.postgres import PostgresDatabase

__all__ = [
    "KEPT_WRITE_WINDOWS",
    "MIGRATIONS",
    "STATE_FILE",
    "Decision",
    "JournalEntry",
    "Lease",
    "Link",
    "StateStore",
    "now",
    "project_journal_days",
    "project_state",
]


STATE_FILE = Path(".syncmap") / "state.db"
JOURNAL_DAYS = 90  # settled writes kept for `explain`; a store at 15-minute runs adds ~100,000 a day


def _project_settings(root: Path) -> dict:
    config = root / "syncmap.toml"
    try:
        return tomllib.loads(config.read_text()) if config.is_file() else {}
    except tomllib.TOMLDecodeError as e:
        raise StateError(f"{config} cannot be read: {e}", hint="it is TOML: `state = \"postgresql://host/db\"`") from e


def project_journal_days(root: Path) -> int:
    """How many days a project keeps the journal's settled writes: `journal_days` in its
    syncmap.toml, else 90. (Writes whose outcome is not known yet are kept until it is.)"""
    days = _project_settings(root).get("journal_days", JOURNAL_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 36_500:
        raise StateError(
            f"{root / 'syncmap.toml'}: `journal_days` must be a whole number of days from 1 to 36,500 "
            f"(got {days!r})",
            hint=f"e.g. `journal_days = {JOURNAL_DAYS}`; `syncmap explain` shows the writes of that many days",
        )
    return days


def project_state(root: Path) -> Path | str:
    """Where a project's state lives: `state` in its syncmap.toml (a file, relative to the
    project, or a PostgreSQL database's URL), else `.syncmap/state.db`."""
    config = root / "syncmap.toml"
    state = _project_settings(root).get("state")
    if state is None:
        return root / STATE_FILE
    if not isinstance(state, str) or not state:
        raise StateError(f"{config}: `state` must be a file path or a postgresql:// URL", hint="e.g. `state = \"postgresql://host/db\"`")
    return state if is_database_url(state) else root / state


class StateStore(PairTables, ReadTables, JournalTables, JobTables, DecisionTables):
    """One SQLite file of sync state, shared safely by several processes (WAL, busy timeout).

    A store is created whole or not at all (built aside, then linked into place), so a file that
    exists is a store syncmap wrote: one that is empty, damaged or of no known schema is refused
    with its path, never migrated over or synced anew (that would create every record again)."""

    def __init__(
        self, path: Path | str, read_only: bool = False, checked: bool = True, journal_days: int = JOURNAL_DAYS
    ):
        """Open (creating and migrating) the store: a file, or a PostgreSQL database named by its
        URL. ``read_only`` never touches it, and stands in an empty store when it does not exist
        yet, so a dry run leaves no trace. ``checked=False`` skips the integrity check (a second
        connection of a process that made it). A run's end prunes its job's journal to
        ``journal_days``."""
        self.path, self.journal_days = path, journal_days
        self.db: Database | PostgresDatabase | None = None
        if is_database_url(path):
            self._open_postgres(str(path), read_only)
            return
        path = Path(path)
        try:
            if not path.exists():
                if read_only:
                    self.db = Database(sqlite3.connect(":memory:", isolation_level=None), path)
                    self._migrate()
                    return
                _create(path)
            _check_file(path)
            self.db = Database(self._connect(read_only), path)
            if checked:
                self._check_contents()
            if read_only:
                self._migrate_in_memory()
            else:
                self._migrate()
        except BaseException as e:
            if self.db is not None:
                self.db.connection.close()
            if isinstance(e, OSError):
                raise StateError(
                    f"the state store {path} cannot be opened: {e.strerror or e}",
                    hint="check the path (its folder must be a folder) and its permissions",
                ) from e
            if isinstance(e, sqlite3.OperationalError):
                raise StateError(
                    f"the state store {path} cannot be opened: {e}", hint="check the path and its permissions"
                ) from e
            if isinstance(e, sqlite3.DatabaseError):
                raise Database.failure(path, e) from e
            raise

    def _open_postgres(self, url: str, read_only: bool) -> None:
        from engine.state.postgres import PostgresDatabase  # its driver, loaded when a database is named

        self.db = PostgresDatabase(url, read_only)
        version = self.db.schema_version()
        if version > len(MIGRATIONS):
            self.db.close()
            raise StateError(
                f"the state store {self.db.path} was written by a newer syncmap (schema {version})",
                hint="upgrade syncmap, or point --state at another database",
            )
        if not read_only:
            self._migrate()
        elif version < len(MIGRATIONS):  # nothing there yet (or older): an empty store stands in
            self.db.close()
            self.db = Database(sqlite3.connect(":memory:", isolation_level=None), shown(url))
            self._migrate()

    def _connect(self, read_only: bool) -> sqlite3.Connection:
        if read_only:
            return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30, isolation_level=None)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _check_contents(self) -> None:
        """Refuse a damaged store, or one of a schema this syncmap does not know."""
        problems = [row[0] for row in self.db.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise CorruptStateError(self.path, f"is damaged ({problems[0]})")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StateError(
                f"the state store {self.path} was written by a newer syncmap (schema {version})",
                hint="upgrade syncmap, or point --state at another file",
            )
        if version == 0:
            raise CorruptStateError(self.path, "holds no syncmap state (schema version 0)")

    def _migrate(self) -> None:
        migrate(self.db)

    def _migrate_in_memory(self) -> None:
        """A dry run on a store of an older schema reads a migrated copy in memory: the file
        stays as it is until a command that writes upgrades it."""
        if self.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS):
            return
        copy = sqlite3.connect(":memory:", isolation_level=None)
        self.db.connection.backup(copy)
        self.db.connection.close()
        self.db = Database(copy, self.path)
        self._migrate()

    @property
    def where(self) -> str:
        """The store as messages name it (a database's URL without its password)."""
        return str(self.db.path)

    def transaction(self) -> AbstractContextManager[None]:
        return self.db.transaction()

    def close(self) -> None:
        self.db.close()


def _check_file(path: Path) -> None:
    """Refuse a file that is not an SQLite database at all (emptied, truncated to nothing, garbage)."""
    if not path.is_file():
        raise StateError(f"the state store {path} is not a file", hint="point --state at a file")
    with path.open("rb") as file:
        header = file.read(100)
    if not header:
        raise CorruptStateError(path, "is empty (0 bytes)")
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise CorruptStateError(path, "is not an SQLite database")


def _create(path: Path) -> None:
    """Create a new store whole: built under a temporary name, then linked into place, so no
    process ever opens a half-made store (and two creating one at once end with one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")
    try:
        db = sqlite3.connect(building, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        migrate(Database(db, building))
        db.close()
        try:
            os.link(building, path)
        except FileExistsError:
            pass  # another process created it first: theirs is the store
        except OSError:  # a file system without hard links: move it, unless one appeared meanwhile
            if not path.exists():
                os.replace(building, path)
    finally:
        building.unlink(missing_ok=True)

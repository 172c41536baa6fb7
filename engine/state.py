"""The state store: what syncmap remembers between runs, in one SQLite file per project.

It holds the links between records on both sides (and how each was made), the last synced
values of every linked pair (the base of three-way change detection), per-step watermarks and
the times each step last wrote to each side, the match-key index, run history, dead letters, and
the write journal. Only ``apply`` writes here; a dry run reads it. The schema is versioned
(``PRAGMA user_version``) and migrated on open.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import StateError
from engine.redact import redact

MIGRATIONS = [
    """
    CREATE TABLE links (
        job TEXT NOT NULL, step TEXT NOT NULL,
        source_type TEXT NOT NULL, source_id TEXT NOT NULL,
        target_type TEXT NOT NULL, target_id TEXT NOT NULL,
        made_by TEXT NOT NULL,          -- 'created:<side>', 'recovered:<side>', 'key:<name>', 'shared:<name>'
        created_at TEXT NOT NULL,
        PRIMARY KEY (job, step, source_id)
    );
    CREATE UNIQUE INDEX links_by_target ON links (job, step, target_id);
    CREATE TABLE snapshots (
        job TEXT NOT NULL, step TEXT NOT NULL, source_id TEXT NOT NULL,
        synced TEXT NOT NULL,           -- JSON: target field -> value both sides agreed on
        PRIMARY KEY (job, step, source_id)
    );
    CREATE TABLE watermarks (
        job TEXT NOT NULL, step TEXT NOT NULL, side TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (job, step, side)
    );
    CREATE TABLE match_keys (
        job TEXT NOT NULL, step TEXT NOT NULL, side TEXT NOT NULL,
        record_type TEXT NOT NULL, record_id TEXT NOT NULL, key_index INTEGER NOT NULL,
        value TEXT NOT NULL, modified TEXT
    );
    CREATE INDEX match_keys_lookup ON match_keys (job, step, side, key_index, value);
    CREATE INDEX match_keys_record ON match_keys (job, step, side, record_id);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY, job TEXT NOT NULL, plan_hash TEXT NOT NULL,
        started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
        counts TEXT, error TEXT
    );
    CREATE TABLE dead_letters (
        job TEXT NOT NULL, step TEXT NOT NULL, side TEXT NOT NULL, record_id TEXT NOT NULL,
        error TEXT NOT NULL, attempts INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
        PRIMARY KEY (job, step, side, record_id)
    );
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY, job TEXT NOT NULL, step TEXT NOT NULL, run_id INTEGER,
        op TEXT NOT NULL, side TEXT NOT NULL, record_type TEXT NOT NULL,
        origin_id TEXT NOT NULL, record_id TEXT, payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending', created_at TEXT NOT NULL
    );
    CREATE INDEX journal_pending ON journal (job, state);
    CREATE TABLE jobs (
        job TEXT PRIMARY KEY, status TEXT NOT NULL, last_error TEXT, updated_at TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE own_writes (
        job TEXT NOT NULL, step TEXT NOT NULL, side TEXT NOT NULL,
        started TEXT NOT NULL, ended TEXT NOT NULL
    );
    CREATE INDEX own_writes_by_step ON own_writes (job, step, side, ended);
    ALTER TABLE watermarks ADD COLUMN seen TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE snapshots ADD COLUMN target_known INTEGER NOT NULL DEFAULT 0;
    """,
    """
    CREATE TABLE leases (
        job TEXT PRIMARY KEY, owner TEXT NOT NULL, command TEXT NOT NULL, host TEXT NOT NULL,
        pid INTEGER NOT NULL, started TEXT NOT NULL, heartbeat TEXT NOT NULL
    );
    DROP INDEX links_by_target;
    CREATE INDEX links_by_target ON links (job, step, target_id);
    """,
    """
    CREATE TABLE holds (
        job TEXT NOT NULL, step TEXT NOT NULL, side TEXT NOT NULL, record_type TEXT NOT NULL,
        record_id TEXT NOT NULL, code TEXT, reason TEXT NOT NULL, since TEXT NOT NULL,
        PRIMARY KEY (job, step, side, record_id)
    );
    """,
]
KEPT_WRITE_WINDOWS = 10  # per step and side; an older window's records are read back, harmlessly


def now() -> str:
    """The time in UTC, always with microseconds, so stored times also sort as text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Link:
    source_type: str
    source_id: str
    target_type: str
    target_id: str
    made_by: str

    @property
    def shared(self) -> bool:
        """Whether this source record shares its target with the one that made it (`link_all`)."""
        return self.made_by.startswith("shared:")


@dataclass(frozen=True)
class Lease:
    """A run's claim on its job: who holds it, since when, and when it last said it was alive."""

    job: str
    owner: str  # unique per claim
    command: str  # `apply`, `watch`, `delete`
    host: str
    pid: int
    started: str
    heartbeat: str


@dataclass(frozen=True)
class JournalEntry:
    id: int
    step: str
    op: str
    side: str
    record_type: str
    origin_id: str
    record_id: str | None
    payload: dict[str, Any]


class StateStore:
    """One SQLite file of sync state, shared safely by several processes (WAL, busy timeout).

    A store is created whole or not at all (built aside, then linked into place), so a file that
    exists is a store syncmap wrote: one that is empty, damaged or of no known schema is refused
    with its path, never migrated over or synced anew (that would create every record again)."""

    def __init__(self, path: Path, read_only: bool = False, checked: bool = True):
        """Open (creating and migrating) the store; ``read_only`` never touches the file, and
        stands in an empty store when it does not exist yet, so a dry run leaves no trace.
        ``checked=False`` skips the integrity check (a second connection of a process that made it)."""
        self.path = path
        self.db: _Database | None = None
        try:
            if not path.exists():
                if read_only:
                    self.db = _Database(sqlite3.connect(":memory:", isolation_level=None), path)
                    self._migrate()
                    return
                _create(path)
            _check_file(path)
            self.db = _Database(self._connect(read_only), path)
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
                raise _Database.failure(path, e) from e
            raise

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
        """Bring the schema up to date, in the transaction that reads its version: two processes
        opening one old store migrate it once."""
        with self.transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    def _migrate_in_memory(self) -> None:
        """A dry run on a store of an older schema reads a migrated copy in memory: the file
        stays as it is until a command that writes upgrades it."""
        if self.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS):
            return
        copy = sqlite3.connect(":memory:", isolation_level=None)
        self.db.connection.backup(copy)
        self.db.connection.close()
        self.db = _Database(copy, self.path)
        self._migrate()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.connection.close()

    # -- links ----------------------------------------------------------------------------------

    def links(self, job: str, step: str) -> dict[str, Link]:
        """All links of a step by source id (a step's links fit in memory: one row per record)."""
        rows = self.db.stream(
            "SELECT source_type, source_id, target_type, target_id, made_by FROM links WHERE job=? AND step=?",
            (job, step),
        )
        return {row[1]: Link(*row) for row in rows}

    def save_link(self, job: str, step: str, link: Link) -> None:
        """Save a link; a target record linked anew leaves its old source, unless the link shares
        it (`duplicates: link_all`: several source records of one person, one target)."""
        if not link.shared:
            self.db.execute(
                "DELETE FROM links WHERE job=? AND step=? AND target_id=? AND made_by NOT LIKE 'shared:%'",
                (job, step, link.target_id),
            )
        self.db.execute(
            "INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job,
                step,
                link.source_type,
                link.source_id,
                link.target_type,
                link.target_id,
                link.made_by,
                now(),
            ),
        )

    def drop_link(self, job: str, step: str, source_id: str) -> None:
        self.db.execute("DELETE FROM links WHERE job=? AND step=? AND source_id=?", (job, step, source_id))
        self.db.execute(
            "DELETE FROM snapshots WHERE job=? AND step=? AND source_id=?", (job, step, source_id)
        )

    # -- snapshots -------------------------------------------------------------------------------

    def snapshots(
        self, job: str, step: str, source_ids: Iterable[str], target_known: bool = False
    ) -> dict[str, dict[str, Any]]:
        """The agreed values of pairs by source id; with ``target_known``, only of the pairs whose
        target record is known to hold them."""
        found: dict[str, dict[str, Any]] = {}
        ids = list(source_ids)
        only_known = " AND target_known=1" if target_known else ""
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT source_id, synced FROM snapshots WHERE job=? AND step=?{only_known} "
                f"AND source_id IN ({marks})",
                (job, step, *chunk),
            )
            found.update((source_id, json.loads(synced)) for source_id, synced in rows)
        return found

    def save_snapshot(
        self, job: str, step: str, source_id: str, synced: dict[str, Any], target_known: bool = False
    ) -> None:
        """The values a pair agreed on; ``target_known`` when they are the target record's values
        as of the agreement (it was read or written then), so a later run may stand them in for it."""
        self.db.execute(
            "INSERT OR REPLACE INTO snapshots (job, step, source_id, synced, target_known) VALUES (?, ?, ?, ?, ?)",
            (job, step, source_id, json.dumps(synced, sort_keys=True, default=str), int(target_known)),
        )

    def forget_targets(self, job: str, step: str, source_ids: Iterable[str]) -> None:
        """The target records of these pairs changed without being agreed: read them next time."""
        self.db.executemany(
            "UPDATE snapshots SET target_known=0 WHERE job=? AND step=? AND source_id=?",
            ((job, step, source_id) for source_id in source_ids),
        )

    # -- watermarks ----------------------------------------------------------------------------

    def watermark(self, job: str, step: str, side: str) -> str | None:
        row = self.db.execute(
            "SELECT value FROM watermarks WHERE job=? AND step=? AND side=?", (job, step, side)
        ).fetchone()
        return row[0] if row else None

    def seen_at_watermark(self, job: str, step: str, side: str) -> dict[str, str]:
        """The records read at exactly the watermark's time (id -> digest of their values)."""
        row = self.db.execute(
            "SELECT seen FROM watermarks WHERE job=? AND step=? AND side=?", (job, step, side)
        ).fetchone()
        return json.loads(row[0]) if row else {}

    def save_watermark(self, job: str, step: str, side: str, value: str, seen: dict[str, str]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO watermarks (job, step, side, value, seen) VALUES (?, ?, ?, ?, ?)",
            (job, step, side, value, json.dumps(seen, sort_keys=True)),
        )

    def own_writes(self, job: str, step: str, side: str) -> list[tuple[str, str]]:
        """The (started, ended) times of a step's latest writes to a side, oldest first: a
        connector that can tell its own changes apart leaves those out of the next read."""
        rows = self.db.execute(
            "SELECT started, ended FROM own_writes WHERE job=? AND step=? AND side=? ORDER BY ended",
            (job, step, side),
        ).fetchall()
        return [(started, ended) for started, ended in rows]

    def save_own_write(self, job: str, step: str, side: str, started: str, ended: str) -> None:
        self.db.execute("INSERT INTO own_writes VALUES (?, ?, ?, ?, ?)", (job, step, side, started, ended))
        self.db.execute(
            "DELETE FROM own_writes WHERE job=? AND step=? AND side=? AND ended NOT IN "
            "(SELECT ended FROM own_writes WHERE job=? AND step=? AND side=? ORDER BY ended DESC LIMIT ?)",
            (job, step, side, job, step, side, KEPT_WRITE_WINDOWS),
        )

    # -- match keys ------------------------------------------------------------------------------

    def has_keys(self, job: str, step: str, side: str) -> bool:
        """Whether any match key of this side was saved (a first run has none to look up)."""
        row = self.db.execute(
            "SELECT 1 FROM match_keys WHERE job=? AND step=? AND side=? LIMIT 1", (job, step, side)
        ).fetchone()
        return row is not None

    def find_keys(
        self, job: str, step: str, side: str, key_index: int, value: str
    ) -> list[tuple[str, str, str | None]]:
        """(record type, record id, modified) of the records on ``side`` holding this key value."""
        rows = self.db.execute(
            "SELECT record_type, record_id, modified FROM match_keys "
            "WHERE job=? AND step=? AND side=? AND key_index=? AND value=?",
            (job, step, side, key_index, value),
        )
        return [tuple(row) for row in rows]

    def save_keys(
        self,
        job: str,
        step: str,
        side: str,
        record_type: str,
        record_id: str,
        keys: Iterable[tuple[int, str]],
        modified: str | None,
    ) -> None:
        self.db.execute(
            "DELETE FROM match_keys WHERE job=? AND step=? AND side=? AND record_id=?",
            (job, step, side, record_id),
        )
        self.db.executemany(
            "INSERT INTO match_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(job, step, side, record_type, record_id, index, value, modified) for index, value in keys],
        )

    # -- leases ------------------------------------------------------------------------------------

    def lease(self, job: str) -> Lease | None:
        row = self.db.execute(
            "SELECT job, owner, command, host, pid, started, heartbeat FROM leases WHERE job=?", (job,)
        ).fetchone()
        return Lease(*row) if row else None

    def take_lease(self, lease: Lease) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?, ?, ?)",
            (lease.job, lease.owner, lease.command, lease.host, lease.pid, lease.started, lease.heartbeat),
        )

    def renew_lease(self, job: str, owner: str) -> bool:
        """Say the holder is alive; False when the lease is no longer this owner's."""
        cursor = self.db.execute("UPDATE leases SET heartbeat=? WHERE job=? AND owner=?", (now(), job, owner))
        return cursor.rowcount == 1

    def release_lease(self, job: str, owner: str) -> None:
        self.db.execute("DELETE FROM leases WHERE job=? AND owner=?", (job, owner))

    # -- journal -----------------------------------------------------------------------------------

    def journal_intent(
        self,
        job: str,
        step: str,
        run_id: int,
        op: str,
        side: str,
        record_type: str,
        origin_id: str,
        record_id: str | None,
        payload: dict,
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO journal (job, step, run_id, op, side, record_type, origin_id, record_id, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job,
                step,
                run_id,
                op,
                side,
                record_type,
                origin_id,
                record_id,
                json.dumps(payload, default=str),
                now(),
            ),
        )
        return cursor.lastrowid

    def journal_done(self, entry_id: int, state: str = "done", record_id: str | None = None) -> None:
        """Settle a write: its state, and the id of the record it wrote (a create's new id)."""
        self.db.execute(
            "UPDATE journal SET state=?, record_id=COALESCE(?, record_id) WHERE id=?",
            (state, record_id, entry_id),
        )

    def pending_journal(self, job: str) -> list[JournalEntry]:
        rows = self.db.execute(
            "SELECT id, step, op, side, record_type, origin_id, record_id, payload FROM journal WHERE job=? AND state='pending' ORDER BY id",
            (job,),
        )
        return [JournalEntry(*row[:7], json.loads(row[7])) for row in rows]

    # -- dead letters --------------------------------------------------------------------------------

    def dead_letter(self, job: str, step: str, side: str, record_id: str, error: str) -> None:
        stamp = now()
        self.db.execute(
            "INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?, 1, ?, ?) "
            "ON CONFLICT (job, step, side, record_id) DO UPDATE SET error=excluded.error, attempts=attempts+1, last_seen=excluded.last_seen",
            (job, step, side, record_id, redact(error), stamp, stamp),
        )

    def clear_dead_letter(self, job: str, step: str, side: str, record_id: str) -> None:
        self.db.execute(
            "DELETE FROM dead_letters WHERE job=? AND step=? AND side=? AND record_id=?",
            (job, step, side, record_id),
        )

    def dead_letters(self, job: str, step: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT step, side, record_id, error, attempts FROM dead_letters WHERE job=?"
        args: tuple = (job,)
        if step:
            query, args = query + " AND step=?", (job, step)
        keys = ("step", "side", "record_id", "error", "attempts")
        return [dict(zip(keys, row, strict=True)) for row in self.db.execute(query, args)]

    # -- held records ----------------------------------------------------------------------------------

    def save_holds(self, job: str, step: str, held: Iterable[tuple[str, str, str, str | None, str]]) -> None:
        """The step's held records now, as (side, type, id, code, reason): every run decides
        each held record again, so this set replaces the last; a record still held keeps the
        time it was first held."""
        since = {
            (side, record_id): first
            for side, record_id, first in self.db.execute(
                "SELECT side, record_id, since FROM holds WHERE job=? AND step=?", (job, step)
            )
        }
        self.db.execute("DELETE FROM holds WHERE job=? AND step=?", (job, step))
        stamp = now()
        self.db.executemany(
            "INSERT OR REPLACE INTO holds VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    job,
                    step,
                    side,
                    record_type,
                    record_id,
                    code,
                    redact(reason),
                    since.get((side, record_id), stamp),
                )
                for side, record_type, record_id, code, reason in held
            ],
        )

    def holds(self, job: str, step: str | None = None) -> list[dict[str, Any]]:
        """The job's held records, oldest first."""
        query = "SELECT step, side, record_type, record_id, code, reason, since FROM holds WHERE job=?"
        args: tuple = (job,)
        if step:
            query, args = query + " AND step=?", (job, step)
        keys = ("step", "side", "record_type", "record_id", "code", "reason", "since")
        return [dict(zip(keys, row, strict=True)) for row in self.db.execute(query + " ORDER BY since", args)]

    # -- runs and jobs -------------------------------------------------------------------------------

    def start_run(self, job: str, plan_hash: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO runs (job, plan_hash, started_at, status) VALUES (?, ?, ?, 'running')",
            (job, plan_hash, now()),
        )
        return cursor.lastrowid

    def finish_run(self, run_id: int, status: str, counts: dict[str, Any], error: str | None = None) -> None:
        self.db.execute(
            "UPDATE runs SET finished_at=?, status=?, counts=?, error=? WHERE id=?",
            (now(), status, json.dumps(counts), redact(error) if error else None, run_id),
        )

    def runs(self, job: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, plan_hash, started_at, finished_at, status, counts, error FROM runs WHERE job=? ORDER BY id",
            (job,),
        )
        keys = ("id", "plan_hash", "started_at", "finished_at", "status", "counts", "error")
        return [dict(zip(keys, (*row[:5], json.loads(row[5] or "{}"), row[6]), strict=True)) for row in rows]

    def set_job_status(
        self, job: str, status: str, error: str | None = None, keep_stopped: bool = False
    ) -> None:
        """Set a job's status; ``keep_stopped`` (a run reporting how it goes) leaves a job that
        `syncmap pause` or `delete` stopped meanwhile as it is."""
        self.db.execute(
            "INSERT INTO jobs VALUES (?, ?, ?, ?) ON CONFLICT (job) DO UPDATE SET status = excluded.status, "
            "last_error = excluded.last_error, updated_at = excluded.updated_at"
            + (" WHERE jobs.status NOT IN ('deleted', 'paused')" if keep_stopped else ""),
            (job, status, redact(error) if error else None, now()),
        )

    def job_status(self, job: str) -> tuple[str, str | None] | None:
        row = self.db.execute("SELECT status, last_error FROM jobs WHERE job=?", (job,)).fetchone()
        return (row[0], row[1]) if row else None

    def jobs(self) -> list[dict[str, Any]]:
        """Every job this store knows, with its status, its latest run and how many of its
        records are held for a person."""
        rows = self.db.execute("SELECT job, status, last_error, updated_at FROM jobs ORDER BY job").fetchall()
        found = []
        for job, status, error, updated in rows:
            runs = self.runs(job)
            found.append(
                {"job": job, "status": status, "last_error": error, "updated_at": updated,
                 "last_run": runs[-1] if runs else None, "held": len(self.holds(job))}
            )  # fmt: skip
        return found

    def forget(self, job: str) -> None:
        """Stop a job and forget it: its links, agreed values, watermarks, keys, dead letters,
        held records and journal go (the records on both sides stay); its run history is kept, and its status says
        `deleted` so that nothing runs it again until it is resumed (a new initial sync)."""
        forgotten = (
            "links",
            "snapshots",
            "watermarks",
            "own_writes",
            "match_keys",
            "dead_letters",
            "holds",
            "journal",
        )
        with self.transaction():
            for table in forgotten:
                self.db.execute(f"DELETE FROM {table} WHERE job=?", (job,))
            self.set_job_status(job, "deleted")


class CorruptStateError(StateError):
    """The state store file is not a whole syncmap store; nothing may be synced over it."""

    def __init__(self, path: Path, problem: str):
        super().__init__(
            f"the state store {path} {problem}; nothing was read or written",
            hint="restore it from a backup, or move it aside to start this project's jobs over "
            "(a new initial sync matches existing records by their keys only)",
        )


class _Result:
    """A query's rows, fetched while errors can still be told apart from the caller's."""

    def __init__(self, cursor: sqlite3.Cursor):
        self.rows = cursor.fetchall()
        self.lastrowid = cursor.lastrowid
        self.rowcount = cursor.rowcount

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.rows)

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple]:
        return self.rows


class _Database:
    """The store's connection, turning SQLite's errors into a StateError naming the file."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.connection = connection
        self.path = path

    def execute(self, sql: str, args: Iterable[Any] = ()) -> _Result:
        try:
            return _Result(self.connection.execute(sql, tuple(args)))
        except sqlite3.DatabaseError as e:
            raise self.failure(self.path, e) from e

    def stream(self, sql: str, args: Iterable[Any] = ()) -> Iterator[tuple]:
        """A query's rows one by one (a step's million links are not listed twice in memory)."""
        try:
            yield from self.connection.execute(sql, tuple(args))
        except sqlite3.DatabaseError as e:
            raise self.failure(self.path, e) from e

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> _Result:
        try:
            return _Result(self.connection.executemany(sql, rows))
        except sqlite3.DatabaseError as e:
            raise self.failure(self.path, e) from e

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
        store = StateStore.__new__(StateStore)
        store.path, store.db = building, _Database(db, building)
        store._migrate()
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

"""The state store's schema: one migration per version (``PRAGMA user_version`` counts those
applied), run in order on open. A migration is never edited once shipped; a change is a new one."""

from __future__ import annotations

import json

from engine.state.database import Database


def _journal_by_batch(db: Database) -> None:
    """Migration 16: the journal as batches; each write of the old journal becomes a batch of one."""
    _run(db, """
    CREATE TABLE journal_batches (
        id INTEGER PRIMARY KEY, job TEXT NOT NULL, step TEXT NOT NULL, run_id INTEGER,
        op TEXT NOT NULL, side TEXT NOT NULL, record_type TEXT NOT NULL,
        writes TEXT NOT NULL,           -- JSON: [origin id, record id, payload] of each write, in order
        states TEXT NOT NULL,           -- a letter per write (see `engine.state.journal.STATES`)
        new_ids TEXT,                   -- JSON: the record id each write's answer gave, or null
        pending INTEGER NOT NULL,       -- how many of its writes wait for their answer
        created_at TEXT NOT NULL
    );
    CREATE INDEX journal_batches_pending ON journal_batches (job) WHERE pending > 0;
    CREATE INDEX journal_batches_by_age ON journal_batches (job, created_at);
    """)  # fmt: skip
    letters = {"pending": "p", "done": "d", "failed": "f", "reconciled": "r", "abandoned": "a"}
    last = 0
    while rows := db.execute(
        "SELECT id, job, step, run_id, op, side, record_type, origin_id, record_id, payload, state, created_at "
        "FROM journal WHERE id > ? ORDER BY id LIMIT 10000",
        (last,),
    ).fetchall():
        db.executemany(
            "INSERT INTO journal_batches (id, job, step, run_id, op, side, record_type, writes, states, pending, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (row_id, job, step, run_id, op, side, record_type,
                 json.dumps([[origin_id, record_id, json.loads(payload)]], default=str), letters[state],
                 int(state == "pending"), created_at)
                for row_id, job, step, run_id, op, side, record_type, origin_id, record_id, payload, state, created_at
                in rows
            ),
        )  # fmt: skip
        last = rows[-1][0]
    db.execute("DROP TABLE journal")


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
    """
    ALTER TABLE own_writes ADD COLUMN creates_only INTEGER NOT NULL DEFAULT 0;
    """,
    """
    ALTER TABLE dead_letters ADD COLUMN op TEXT NOT NULL DEFAULT '';
    ALTER TABLE dead_letters ADD COLUMN record_type TEXT NOT NULL DEFAULT '';
    """,
    """
    ALTER TABLE jobs ADD COLUMN mapping TEXT;
    """,
    """
    CREATE TABLE decisions (
        job TEXT NOT NULL, step TEXT NOT NULL, side TEXT NOT NULL, record_id TEXT NOT NULL,
        kind TEXT NOT NULL, candidate TEXT, made_at TEXT NOT NULL, applied_run INTEGER,
        PRIMARY KEY (job, step, side, record_id)
    );
    """,
    """
    CREATE INDEX journal_by_record ON journal (job, record_id);
    """,
    """
    ALTER TABLE holds ADD COLUMN candidates TEXT NOT NULL DEFAULT '[]';
    """,
    """
    CREATE TABLE api_reservations (
        org TEXT NOT NULL, job TEXT NOT NULL, run_id INTEGER NOT NULL, calls INTEGER NOT NULL,
        reserved_at TEXT NOT NULL,
        PRIMARY KEY (org, job, run_id)
    );
    """,
    """
    ALTER TABLE jobs ADD COLUMN next_run TEXT;
    """,
    """
    CREATE INDEX journal_by_age ON journal (job, created_at);
    """,
    """
    CREATE INDEX runs_by_job ON runs (job, id);
    """,
    # a record's writes are found through its origin too, which no index serves: the job's
    # journal is read by age, and this index only slowed every write and its outcome
    """
    DROP INDEX journal_by_record;
    """,
    # the journal keeps a batch of writes (one op on one record type, as apply sends them) as one
    # row: a Bulk job of 100,000 writes is recorded and settled in a statement, not 200,000
    _journal_by_batch,
    # a step side's match keys under a number of their own (a key's row was three names longer)
    """
    CREATE TABLE key_scopes (id INTEGER PRIMARY KEY, job TEXT NOT NULL, step TEXT NOT NULL, side TEXT NOT NULL);
    CREATE UNIQUE INDEX key_scopes_by_name ON key_scopes (job, step, side);
    CREATE TABLE record_keys (
        scope INTEGER NOT NULL, record_id TEXT NOT NULL, key_index INTEGER NOT NULL,
        record_type TEXT NOT NULL, value TEXT NOT NULL, modified TEXT,
        PRIMARY KEY (scope, record_id, key_index)
    ) WITHOUT ROWID;
    CREATE INDEX record_keys_lookup ON record_keys (scope, key_index, value);
    INSERT INTO key_scopes (job, step, side) SELECT DISTINCT job, step, side FROM match_keys;
    INSERT INTO record_keys (scope, record_id, key_index, record_type, value, modified)
        SELECT s.id, m.record_id, m.key_index, m.record_type, m.value, m.modified
        FROM match_keys m JOIN key_scopes s ON s.job = m.job AND s.step = m.step AND s.side = m.side
        WHERE true ON CONFLICT DO NOTHING;
    DROP TABLE match_keys;
    """,
]
KEPT_WRITE_WINDOWS = 10  # per step and side; an older window's records are read back, harmlessly


def migrate(db: Database) -> None:
    """Bring the schema up to date, in the transaction that reads its version: two processes
    opening one old store migrate it once. A migration is a script, or a function for one that
    moves data."""
    with db.transaction():
        version = db.schema_version()
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            if callable(migration):
                migration(db)
            else:
                _run(db, migration)
            db.set_schema_version(number)


def _run(db: Database, script: str) -> None:
    for statement in filter(str.strip, script.split(";")):
        db.execute(_in_dialect(statement, db.dialect))


def _in_dialect(statement: str, dialect: str) -> str:
    """A migration's statement as the store's database runs it: PostgreSQL numbers a run's
    rows from a sequence where SQLite numbers them by rowid, and has no rowid to leave out."""
    if dialect == "postgresql":
        statement = statement.replace("id INTEGER PRIMARY KEY", "id BIGSERIAL PRIMARY KEY")
        return statement.replace(") WITHOUT ROWID", ")")
    return statement

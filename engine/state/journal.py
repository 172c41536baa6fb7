"""What the state store knows of writes: the journal (every write recorded before it is sent),
the dead letters (records that failed, read again next run) and the records held for a person."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from engine.redact import redact
from engine.state.database import Database
from engine.state.records import JournalEntry, now, stored_json


class JournalTables:
    """The journal, dead letters and held records."""

    db: Database

    # -- journal -----------------------------------------------------------------------------------

    def journal_intent(
        self, job: str, step: str, run_id: int, op: str, side: str, record_type: str,
        origin_id: str, record_id: str | None, payload: dict,
    ) -> int:  # fmt: skip
        return self.journal_intents(
            job, step, run_id, [(op, side, record_type, origin_id, record_id, payload)]
        )[0]

    def journal_intents(
        self, job: str, step: str, run_id: int, writes: Sequence[tuple[str, str, str, str, str | None, dict]]
    ) -> list[int]:
        """Record writes about to be sent, each (op, side, record type, origin id, record id,
        payload), in one statement; their journal ids, in order. Inside the caller's transaction,
        which holds the store, so the ids are given here."""
        first = self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM journal").fetchone()[0]
        stamp = now()
        self.db.executemany(
            "INSERT INTO journal (id, job, step, run_id, op, side, record_type, origin_id, record_id, payload, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (first + n, job, step, run_id, op, side, record_type, origin, record_id,
                 stored_json(payload), stamp)
                for n, (op, side, record_type, origin, record_id, payload) in enumerate(writes)
            ),
        )  # fmt: skip
        return list(range(first, first + len(writes)))

    def writes_of(self, job: str, record_id: str) -> list[dict[str, Any]]:
        """Every write a job made to a record or because of it (its origin: `<type> <id>`), oldest
        first, with its run. (It looks through the job's whole journal: a question a person asks.)"""
        keys = (
            "run_id",
            "step",
            "op",
            "side",
            "record_type",
            "origin_id",
            "record_id",
            "state",
            "created_at",
        )
        ending = " " + record_id  # an origin is `<type> <id>`: compared exactly, case and all
        rows = self.db.execute(
            f"SELECT {', '.join(keys)} FROM journal WHERE job=? AND (record_id=? OR "
            "(length(origin_id) >= ? AND substr(origin_id, length(origin_id) - ? + 1) = ?)) ORDER BY id",
            (job, record_id, len(ending), len(ending), ending),
        )
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def journal_done(self, entry_id: int, state: str = "done", record_id: str | None = None) -> None:
        self.journal_settle([(entry_id, state, record_id)])

    def journal_settle(self, outcomes: Iterable[tuple[int, str, str | None]]) -> None:
        """Settle writes, each (journal id, state, the id of the record it wrote: a create's new id)."""
        self.db.executemany(
            "UPDATE journal SET state=?, record_id=COALESCE(?, record_id) WHERE id=?",
            ((state, record_id, entry_id) for entry_id, state, record_id in outcomes),
        )

    def pending_journal(self, job: str) -> list[JournalEntry]:
        rows = self.db.execute(
            "SELECT id, step, op, side, record_type, origin_id, record_id, payload FROM journal WHERE job=? AND state='pending' ORDER BY id",
            (job,),
        )
        return [JournalEntry(*row[:7], json.loads(row[7])) for row in rows]

    # -- dead letters --------------------------------------------------------------------------------

    def dead_letter(
        self, job: str, step: str, side: str, record_id: str, error: str, op: str = "", record_type: str = ""
    ) -> None:
        """A record read on ``side`` whose write (``op`` of a ``record_type`` on the other side) failed."""
        stamp = now()
        self.db.execute(
            "INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?) "
            "ON CONFLICT (job, step, side, record_id) DO UPDATE SET error=excluded.error, attempts=dead_letters.attempts+1, "
            "last_seen=excluded.last_seen, op=excluded.op, record_type=excluded.record_type",
            (job, step, side, record_id, redact(error), stamp, stamp, op, record_type),
        )

    def clear_dead_letters(self, job: str, step: str, side: str, record_ids: Iterable[str]) -> None:
        """Forget the failures of records written since (asked first: a step seldom has any)."""
        if not self.db.execute(
            "SELECT 1 FROM dead_letters WHERE job=? AND step=? AND side=? LIMIT 1", (job, step, side)
        ).fetchone():
            return
        self.db.executemany(
            "DELETE FROM dead_letters WHERE job=? AND step=? AND side=? AND record_id=?",
            ((job, step, side, record_id) for record_id in record_ids),
        )

    def dead_letters(self, job: str | None = None, step: str | None = None) -> list[dict[str, Any]]:
        """The records whose write failed, of a job (of every job without one), oldest first."""
        keys = (
            "job",
            "step",
            "side",
            "record_id",
            "op",
            "record_type",
            "error",
            "attempts",
            "first_seen",
            "last_seen",
        )
        query = (
            f"SELECT {', '.join(keys)} FROM dead_letters WHERE (CAST(? AS TEXT) IS NULL OR job=?) AND (CAST(? AS TEXT) IS NULL OR step=?)"
        )
        rows = self.db.execute(query + " ORDER BY first_seen, job, step, record_id", (job, job, step, step))
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def forget_dead_letters(self, job: str) -> int:
        """Stop retrying a job's failed records; how many there were."""
        return self.db.execute("DELETE FROM dead_letters WHERE job=?", (job,)).rowcount

    # -- held records ----------------------------------------------------------------------------------

    def save_holds(self, job: str, step: str, held: Iterable[tuple[str, str, str, str | None, str, tuple]]) -> None:
        """The step's held records now, as (side, type, id, code, reason, candidates): every run decides
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
            "INSERT INTO holds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job, step, side, record_id) DO UPDATE SET "
            "record_type=excluded.record_type, code=excluded.code, reason=excluded.reason, since=excluded.since, "
            "candidates=excluded.candidates",
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
                    json.dumps(list(candidates)),
                )
                for side, record_type, record_id, code, reason, candidates in held
            ],
        )

    def holds(self, job: str | None = None, step: str | None = None) -> list[dict[str, Any]]:
        """The held records of a job (of every job without one), oldest first."""
        keys = ("job", "step", "side", "record_type", "record_id", "code", "reason", "since", "candidates")
        query = f"SELECT {', '.join(keys)} FROM holds WHERE (CAST(? AS TEXT) IS NULL OR job=?) AND (CAST(? AS TEXT) IS NULL OR step=?)"
        rows = self.db.execute(query + " ORDER BY since, job, step, record_id", (job, job, step, step))
        return [{**dict(zip(keys, row, strict=True)), "candidates": json.loads(row[-1])} for row in rows]

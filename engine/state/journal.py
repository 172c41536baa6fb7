"""What the state store knows of writes: the journal (every write recorded before it is sent),
the dead letters (records that failed, read again next run) and the records held for a person."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from engine.records import batched
from engine.redact import redact
from engine.state.database import Database
from engine.state.records import JournalEntry, now, stored_json

# writes a journal row holds at most: its text stays under a megabyte or so, and `explain`
# decodes only the rows naming a record
BATCH_ROW_WRITES = 5_000
STATES = {"p": "pending", "d": "done", "f": "failed", "r": "reconciled", "a": "abandoned"}  # by letter
STATE_LETTERS = {name: ord(letter) for letter, name in STATES.items()}


class JournalTables:
    """The journal, dead letters and held records."""

    db: Database

    # -- journal -----------------------------------------------------------------------------------

    def journal_intent(
        self, job: str, step: str, run_id: int, op: str, side: str, record_type: str,
        origin_id: str, record_id: str | None, payload: dict,
    ) -> str:  # fmt: skip
        return self.journal_intents(
            job, step, run_id, [(op, side, record_type, origin_id, record_id, payload)]
        )[0]

    def journal_intents(
        self, job: str, step: str, run_id: int, writes: Sequence[tuple[str, str, str, str, str | None, dict]]
    ) -> list[str]:
        """Record writes about to be sent, each (op, side, record type, origin id, record id,
        payload); their references, in order. Writes of one op on one record type in a row (a
        batch, as apply sends them) are a row for each ``BATCH_ROW_WRITES`` of them. Inside the
        caller's transaction, which holds the store, so the ids are given here."""
        batch = self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM journal_batches").fetchone()[0]
        refs, stamp = [], now()
        for (op, side, record_type), same in groupby(writes, key=itemgetter(0, 1, 2)):
            for chunk in batched(same, BATCH_ROW_WRITES):
                self.db.execute(
                    "INSERT INTO journal_batches (id, job, step, run_id, op, side, record_type, writes, states, "
                    "pending, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (batch, job, step, run_id, op, side, record_type, stored_json([write[3:] for write in chunk]),
                     "p" * len(chunk), len(chunk), stamp),
                )  # fmt: skip
                refs += (f"{batch}.{index}" for index in range(len(chunk)))
                batch += 1
        return refs

    def journal_settle(self, outcomes: Iterable[tuple[str, str, str | None]]) -> None:
        """Settle writes, each (reference, state, the id of the record it wrote: a create's new
        id): a read and a write of each journal row they are in."""
        settled: dict[int, list[tuple[int, int, str | None]]] = defaultdict(list)  # row -> (index, letter, id)
        for ref, state, record_id in outcomes:
            batch, _, index = ref.partition(".")
            settled[int(batch)].append((int(index), STATE_LETTERS[state], record_id))
        for batch, outcomes_of_batch in settled.items():
            row = self.db.execute("SELECT states, new_ids FROM journal_batches WHERE id=?", (batch,)).fetchone()
            if row is None:
                continue
            states, new_ids = bytearray(row[0], "ascii"), json.loads(row[1]) if row[1] else None
            for index, letter, record_id in outcomes_of_batch:
                states[index] = letter
                if record_id is not None:
                    new_ids = new_ids or [None] * len(states)
                    new_ids[index] = record_id
            self.db.execute(
                "UPDATE journal_batches SET states=?, new_ids=?, pending=? WHERE id=?",
                (states.decode(), stored_json(new_ids) if new_ids else None, states.count(b"p"), batch),
            )

    def pending_journal(self, job: str) -> list[JournalEntry]:
        """The writes of a job whose answer never came, oldest first."""
        rows = self.db.execute(
            "SELECT id, step, op, side, record_type, writes, states FROM journal_batches "
            "WHERE job=? AND pending > 0 ORDER BY id",
            (job,),
        )
        return [
            JournalEntry(f"{batch}.{index}", step, op, side, record_type, origin_id, record_id, payload)
            for batch, step, op, side, record_type, writes, states in rows
            for index, (origin_id, record_id, payload) in enumerate(json.loads(writes))
            if states[index] == "p"
        ]

    def writes_of(self, job: str, record_id: str) -> list[dict[str, Any]]:
        """Every write a job made to a record or because of it (its origin: `<type> <id>`), oldest
        first, with its run. (It looks through the job's whole journal: a question a person asks.
        An id written the same way in any JSON is looked for in the batches' text first.)"""
        found, ending = [], " " + record_id  # an origin is `<type> <id>`: compared exactly, case and all
        plain = record_id.isascii() and record_id.isprintable() and not set(record_id) & set('"\\')
        pattern = "%" + record_id.replace("%", "\\%").replace("_", "\\_") + "%" if plain else "%"
        rows = self.db.execute(
            "SELECT run_id, step, op, side, record_type, writes, states, new_ids, created_at FROM journal_batches "
            "WHERE job=? AND (writes LIKE ? ESCAPE '\\' OR new_ids LIKE ? ESCAPE '\\') ORDER BY id",
            (job, pattern, pattern),
        )
        for run_id, step, op, side, record_type, writes, states, new_ids, created_at in rows:
            new_ids = json.loads(new_ids) if new_ids else None
            for index, (origin_id, written, _) in enumerate(json.loads(writes)):
                written = (new_ids[index] if new_ids else None) or written
                if written == record_id or origin_id.endswith(ending):
                    found.append({"run_id": run_id, "step": step, "op": op, "side": side, "record_type": record_type,
                                  "origin_id": origin_id, "record_id": written, "state": STATES[states[index]],
                                  "created_at": created_at})  # fmt: skip
        return found

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

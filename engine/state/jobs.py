"""What the state store knows of jobs: leases (one run at a time), run history and status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.redact import redact
from engine.state.database import Database
from engine.state.records import Lease, now

RESERVATION_SECONDS = 3600  # an API call reservation no run gave back lapses after this


class JobTables:
    """Leases, runs and job statuses (forgetting a job uses the store's transaction and holds)."""

    db: Database
    journal_days: int

    # -- leases ------------------------------------------------------------------------------------

    def lease(self, job: str) -> Lease | None:
        row = self.db.execute(
            "SELECT job, owner, command, host, pid, started, heartbeat FROM leases WHERE job=?", (job,)
        ).fetchone()
        return Lease(*row) if row else None

    def take_lease(self, lease: Lease) -> None:
        self.db.execute(
            "INSERT INTO leases VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job) DO UPDATE SET owner=excluded.owner, "
            "command=excluded.command, host=excluded.host, pid=excluded.pid, started=excluded.started, "
            "heartbeat=excluded.heartbeat",
            (lease.job, lease.owner, lease.command, lease.host, lease.pid, lease.started, lease.heartbeat),
        )

    def renew_lease(self, job: str, owner: str) -> bool:
        """Say the holder is alive; False when the lease is no longer this owner's."""
        cursor = self.db.execute("UPDATE leases SET heartbeat=? WHERE job=? AND owner=?", (now(), job, owner))
        return cursor.rowcount == 1

    def release_lease(self, job: str, owner: str) -> None:
        self.db.execute("DELETE FROM leases WHERE job=? AND owner=?", (job, owner))

    # -- runs and jobs -------------------------------------------------------------------------------

    def start_run(self, job: str, plan_hash: str) -> int:
        row = self.db.execute(
            "INSERT INTO runs (job, plan_hash, started_at, status) VALUES (?, ?, ?, 'running') RETURNING id",
            (job, plan_hash, now()),
        ).fetchone()
        return row[0]

    def reserved_calls(self, org: str, job: str, run_id: int) -> int:
        """The calls other runs writing to an org reserved and have not given back (a run that
        died without giving them back holds them for ``RESERVATION_SECONDS``)."""
        expired = (datetime.now(UTC) - timedelta(seconds=RESERVATION_SECONDS)).isoformat(timespec="microseconds")
        row = self.db.execute(
            "SELECT COALESCE(SUM(calls), 0) FROM api_reservations WHERE org=? AND NOT (job=? AND run_id=?) "
            "AND reserved_at > ?",
            (org, job, run_id, expired),
        ).fetchone()
        return int(row[0]) if row else 0

    def reserve_calls(self, org: str, job: str, run_id: int, calls: int) -> None:
        self.db.execute(
            "INSERT INTO api_reservations VALUES (?, ?, ?, ?, ?) ON CONFLICT (org, job, run_id) "
            "DO UPDATE SET calls=api_reservations.calls + excluded.calls",
            (org, job, run_id, calls, now()),
        )

    def finish_run(self, run_id: int, status: str, counts: dict[str, Any], error: str | None = None) -> None:
        self.db.execute(
            "UPDATE runs SET finished_at=?, status=?, counts=?, error=? WHERE id=?",
            (now(), status, json.dumps(counts), redact(error) if error else None, run_id),
        )
        self.db.execute("DELETE FROM api_reservations WHERE run_id=?", (run_id,))  # the org's count has them now
        # the job's settled writes older than `journal_days` go; one still pending (sent, its
        # outcome not known) stays however old: it is how a killed run is finished
        kept_from = (datetime.now(UTC) - timedelta(days=self.journal_days)).isoformat(timespec="microseconds")
        self.db.execute(
            "DELETE FROM journal_batches WHERE job=(SELECT job FROM runs WHERE id=?) AND created_at < ? "
            "AND pending = 0",
            (run_id, kept_from),
        )

    def runs(self, job: str, newest: int | None = None) -> list[dict[str, Any]]:
        """A job's runs, oldest first (``newest``: only that many of the latest)."""
        rows = self.db.execute(
            "SELECT id, plan_hash, started_at, finished_at, status, counts, error FROM runs WHERE job=? "
            "ORDER BY id DESC" + (" LIMIT ?" if newest is not None else ""),
            (job,) if newest is None else (job, newest),
        ).fetchall()
        keys = ("id", "plan_hash", "started_at", "finished_at", "status", "counts", "error")
        return [dict(zip(keys, (*row[:5], json.loads(row[5] or "{}"), row[6]), strict=True)) for row in rows[::-1]]

    def ever_done(self, job: str) -> bool:
        """Whether a run of the job ever ended well (before it did, a run is the initial sync)."""
        found = self.db.execute("SELECT 1 FROM runs WHERE job=? AND status='done' LIMIT 1", (job,))
        return found.fetchone() is not None

    def set_job_status(
        self, job: str, status: str, error: str | None = None, keep_stopped: bool = False
    ) -> None:
        """Set a job's status; ``keep_stopped`` (a run reporting how it goes) leaves a job that
        `syncmap pause` or `delete` stopped meanwhile as it is."""
        self.db.execute(
            "INSERT INTO jobs (job, status, last_error, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (job) DO UPDATE SET status = excluded.status, "
            "last_error = excluded.last_error, updated_at = excluded.updated_at"
            + (" WHERE jobs.status NOT IN ('deleted', 'paused')" if keep_stopped else ""),
            (job, status, redact(error) if error else None, now()),
        )

    def note_next_run(self, job: str, mapping: str, when: str) -> None:
        """When a scheduler (`syncmap watch`) runs a job next; a job it has not run yet is listed
        as scheduled."""
        self.db.execute(
            "INSERT INTO jobs (job, status, updated_at, mapping, next_run) VALUES (?, 'scheduled', ?, ?, ?) "
            "ON CONFLICT (job) DO UPDATE SET next_run = excluded.next_run",
            (job, now(), mapping, when),
        )

    def note_mapping(self, job: str, mapping: str) -> None:
        """The document a job was last run from, for `syncmap status` to name."""
        self.db.execute("UPDATE jobs SET mapping=? WHERE job=?", (mapping, job))

    def job_status(self, job: str) -> tuple[str, str | None] | None:
        row = self.db.execute("SELECT status, last_error FROM jobs WHERE job=?", (job,)).fetchone()
        return (row[0], row[1]) if row else None

    def jobs(self) -> list[dict[str, Any]]:
        """Every job this store knows, with its status, its latest run and how many of its
        records are held for a person."""
        rows = self.db.execute("SELECT job, status, last_error, updated_at, mapping, next_run FROM jobs ORDER BY job")
        found = []
        for job, status, error, updated, mapping, next_run in rows.fetchall():
            runs, holder = self.runs(job, newest=1), self.lease(job)
            found.append(
                {"job": job, "status": status, "last_error": error, "updated_at": updated, "mapping": mapping,
                 "last_run": runs[-1] if runs else None, "next_run": next_run, "held": len(self.holds(job)),
                 "running": {"command": holder.command, "host": holder.host, "pid": holder.pid,
                             "since": holder.started} if holder else None}
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
            "dead_letters",
            "holds",
            "journal_batches",
            "key_scopes",
        )
        with self.transaction():
            self.db.execute("DELETE FROM record_keys WHERE scope IN (SELECT id FROM key_scopes WHERE job=?)", (job,))
            for table in forgotten:
                self.db.execute(f"DELETE FROM {table} WHERE job=?", (job,))
            self.set_job_status(job, "deleted")

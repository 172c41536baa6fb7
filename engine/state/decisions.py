"""A person's decisions on held records (`syncmap resolve`): kept until a run applies them, then
marked with that run; an `ignore` stands for every run until it is undone."""

from __future__ import annotations

from engine.state.database import Database
from engine.state.records import Decision, now


class DecisionTables:
    db: Database

    def decide(self, job: str, decision: Decision) -> None:
        self.db.execute(
            "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (job, step, side, record_id) "
            "DO UPDATE SET kind=excluded.kind, candidate=excluded.candidate, made_at=excluded.made_at, applied_run=NULL",
            (job, decision.step, decision.side, decision.record_id, decision.kind, decision.candidate, now()),
        )

    def decisions(self, job: str, step: str | None = None, pending: bool = False) -> list[Decision]:
        """A job's decisions (of one step), oldest first; ``pending``: those no run applied yet,
        and every `ignore`."""
        rows = self.db.execute(
            "SELECT step, side, record_id, kind, candidate, made_at, applied_run FROM decisions "
            "WHERE job=? AND (CAST(? AS TEXT) IS NULL OR step=?) AND (? = 0 OR applied_run IS NULL OR kind = 'ignore') "
            "ORDER BY made_at",
            (job, step, step, int(pending)),
        )
        return [Decision(*row) for row in rows]

    def applied_decisions(self, job: str, step: str, side: str, record_ids: list[str], run_id: int) -> None:
        self.db.executemany(
            "UPDATE decisions SET applied_run=? WHERE job=? AND step=? AND side=? AND record_id=? AND applied_run IS NULL",
            ((run_id, job, step, side, record_id) for record_id in record_ids),
        )

    def undecide(self, job: str, step: str, side: str, record_id: str) -> Decision | None:
        """Take a decision back; the one taken back, if there was one."""
        found = [d for d in self.decisions(job, step) if d.side == side and d.record_id == record_id]
        self.db.execute(
            "DELETE FROM decisions WHERE job=? AND step=? AND side=? AND record_id=?",
            (job, step, side, record_id),
        )
        return found[0] if found else None

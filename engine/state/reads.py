"""What the state store knows of reads: each step's watermarks, and the times it last wrote to
each side (a connector that can tell its own changes apart leaves those out of the next read)."""

from __future__ import annotations

import json

from engine.state.database import Database
from engine.state.schema import KEPT_WRITE_WINDOWS


class ReadTables:
    """Watermarks and own writes, per job, step and side."""

    db: Database

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
            "INSERT INTO watermarks (job, step, side, value, seen) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (job, step, side) DO UPDATE SET value=excluded.value, seen=excluded.seen",
            (job, step, side, value, json.dumps(seen, sort_keys=True)),
        )

    def own_writes(self, job: str, step: str, side: str) -> list[tuple[str, ...]]:
        """The (started, ended) times of a step's latest writes to a side, oldest first, as
        (started, ended, "create") for those that only created records: a connector that can
        tell its own changes apart leaves those out of the next read."""
        rows = self.db.execute(
            "SELECT started, ended, creates_only FROM own_writes WHERE job=? AND step=? AND side=? ORDER BY ended",
            (job, step, side),
        ).fetchall()
        return [
            (started, ended, "create") if creates else (started, ended) for started, ended, creates in rows
        ]

    def save_own_write(
        self, job: str, step: str, side: str, started: str, ended: str, creates_only: bool = False
    ) -> None:
        self.db.execute(
            "INSERT INTO own_writes VALUES (?, ?, ?, ?, ?, ?)",
            (job, step, side, started, ended, int(creates_only)),
        )
        self.db.execute(
            "DELETE FROM own_writes WHERE job=? AND step=? AND side=? AND ended NOT IN "
            "(SELECT ended FROM own_writes WHERE job=? AND step=? AND side=? ORDER BY ended DESC LIMIT ?)",
            (job, step, side, job, step, side, KEPT_WRITE_WINDOWS),
        )

"""What the state store knows of pairs: links, the values each pair agreed on, and the match-key
index of the records read."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from engine.records import batched
from engine.state.database import Database
from engine.state.records import Link, now, stored_json

KEY_SCOPE = "(SELECT id FROM key_scopes WHERE job=? AND step=? AND side=?)"  # the number a step side's keys have


class PairTables:
    """Links, agreed values (the base of three-way change detection) and match keys."""

    db: Database

    # -- links ----------------------------------------------------------------------------------

    def links(self, job: str, step: str) -> dict[str, Link]:
        """All links of a step by source id (a step's links fit in memory: one row per record)."""
        rows = self.db.stream(
            "SELECT source_type, source_id, target_type, target_id, made_by FROM links WHERE job=? AND step=?",
            (job, step),
        )
        return {row[1]: Link(*row) for row in rows}

    def save_link(self, job: str, step: str, link: Link) -> None:
        self.save_links(job, step, [link])

    def save_links(self, job: str, step: str, links: Sequence[Link], new_targets: bool = False) -> None:
        """Save links, in order; a target record linked anew leaves its old source, unless the
        link shares it (`duplicates: link_all`: several source records of one person, one target).
        ``new_targets``: the target records were just created, so no link names them yet."""
        kept: Sequence[Link] = links  # a target record just created is in one link
        if not new_targets:
            latest = {link.target_id: position for position, link in enumerate(links) if not link.shared}
            kept = [
                link for position, link in enumerate(links) if link.shared or latest[link.target_id] == position
            ]
            self.db.executemany(
                "DELETE FROM links WHERE job=? AND step=? AND target_id=? AND made_by NOT LIKE 'shared:%'",
                ((job, step, target_id) for target_id in latest),
            )
        stamp = now()
        self.db.executemany(
            "INSERT INTO links VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job, step, source_id) DO UPDATE SET "
            "source_type=excluded.source_type, target_type=excluded.target_type, target_id=excluded.target_id, "
            "made_by=excluded.made_by, created_at=excluded.created_at",
            ((job, step, *link, stamp) for link in kept),
        )

    def links_of_record(self, job: str, step: str, record_id: str) -> list[Link]:
        """The links of one record, on either side (by the keys, not a walk through the step's links)."""
        rows = self.db.execute(
            "SELECT source_type, source_id, target_type, target_id, made_by FROM links "
            "WHERE job=? AND step=? AND source_id=? UNION "
            "SELECT source_type, source_id, target_type, target_id, made_by FROM links "
            "WHERE job=? AND step=? AND target_id=?",
            (job, step, record_id, job, step, record_id),
        )
        return [Link(*row) for row in rows]

    def linked_steps(self, job: str) -> list[str]:
        """The steps of a job with links."""
        return [
            step
            for (step,) in self.db.execute(
                "SELECT DISTINCT step FROM links WHERE job=? ORDER BY step", (job,)
            )
        ]

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
        for chunk in batched(ids, 500):
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
        self.save_snapshots(job, step, [(source_id, synced, target_known)])

    def save_snapshots(self, job: str, step: str, agreed: Iterable[tuple[str, dict[str, Any], bool]]) -> None:
        """The values pairs agreed on, as (source id, values, target known): ``target_known`` when
        they are the target record's values as of the agreement (it was read or written then), so
        a later run may stand them in for it."""
        self.db.executemany(
            "INSERT INTO snapshots (job, step, source_id, synced, target_known) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (job, step, source_id) DO UPDATE SET synced=excluded.synced, target_known=excluded.target_known",
            (
                (job, step, source_id, stored_json(synced, sort_keys=True), int(known))
                for source_id, synced, known in agreed
            ),
        )

    def forget_targets(self, job: str, step: str, source_ids: Iterable[str]) -> None:
        """The target records of these pairs changed without being agreed: read them next time."""
        self.db.executemany(
            "UPDATE snapshots SET target_known=0 WHERE job=? AND step=? AND source_id=?",
            ((job, step, source_id) for source_id in source_ids),
        )

    # -- match keys ------------------------------------------------------------------------------
    # A step side's keys are kept under a number of its own (`key_scopes`): each key's row is
    # small, and a look-up compares a number where it compared three names.

    def has_keys(self, job: str, step: str, side: str) -> bool:
        """Whether any match key of this side was saved (a first run has none to look up)."""
        row = self.db.execute(f"SELECT 1 FROM record_keys WHERE scope={KEY_SCOPE} LIMIT 1", (job, step, side))
        return row.fetchone() is not None

    def find_keys(
        self, job: str, step: str, side: str, key_index: int, value: str
    ) -> list[tuple[str, str, str | None]]:
        """(record type, record id, modified) of the records on ``side`` holding this key value."""
        rows = self.db.execute(
            f"SELECT record_type, record_id, modified FROM record_keys WHERE scope={KEY_SCOPE} AND key_index=? "
            "AND value=?",
            (job, step, side, key_index, value),
        )
        return [tuple(row) for row in rows]

    def save_keys(
        self,
        job: str,
        step: str,
        side: str,
        records: Iterable[tuple[str, str, str | None, Iterable[tuple[int, str]]]],
        new_records: bool = False,
    ) -> None:
        """The match keys of records of ``side`` as (record type, record id, modified, keys),
        replacing what was known of them (``new_records``: nothing was, they were just created;
        so too when this side has no keys saved yet, as on a first run)."""
        new_records = new_records or not self.has_keys(job, step, side)
        self.db.execute(
            "INSERT INTO key_scopes (job, step, side) VALUES (?, ?, ?) ON CONFLICT (job, step, side) DO NOTHING",
            (job, step, side),
        )
        scope = self.db.execute(f"SELECT {KEY_SCOPE}", (job, step, side)).fetchone()[0]
        for chunk in batched(records, 10_000):  # a step's keys are read from its spool, a chunk at a time
            if not new_records:
                self.db.executemany(
                    "DELETE FROM record_keys WHERE scope=? AND record_id=?",
                    ((scope, record_id) for _, record_id, _, _ in chunk),
                )
            self.db.executemany(
                "INSERT INTO record_keys VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, record_id, key_index) "
                "DO UPDATE SET record_type=excluded.record_type, value=excluded.value, modified=excluded.modified",
                (
                    (scope, record_id, index, record_type, value, modified)
                    for record_type, record_id, modified, keys in chunk
                    for index, value in keys
                ),
            )

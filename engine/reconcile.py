"""Reconcile: settle the writes a killed process left pending in the journal.

A create whose outcome is unknown is looked for by the id syncmap gave it, then by its match
keys, then by the values it wrote (among the records this job has not linked): one found is
linked; none found means the call never created it, and it is created again; several found are
held for a person, never guessed, and looked for again on every run. The look-ups go a record
type at a time, so a Bulk job of 100,000 creates killed halfway costs a few searches, not one
per record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.apply import created_link
from engine.connectors import Connector, FieldInfo
from engine.errors import ConnectorError
from engine.plan import Step
from engine.records import get_path
from engine.run import RunContext
from engine.state import JournalEntry, Link

TEXT_TYPES = ("string", "phone", "email", "picklist", "url", "textarea", "id", "reference")


@dataclass
class Reconciled:
    """What the journal of interrupted runs settled: records found and linked, and the records
    whose create may have happened but cannot be told (held, by step and origin id)."""

    recovered: int = 0
    held: dict[str, dict[str, str]] = field(default_factory=dict)  # step -> "<type> <id>" -> reason


def reconcile(context: RunContext, steps: dict[str, Step]) -> Reconciled:
    """Settle the pending journal (see the module docstring)."""
    settled = Reconciled()
    pending = context.state.pending_journal(context.job)
    found = _look_for_creates(context, steps, [e for e in pending if e.op == "create" and e.step in steps])
    links: dict[str, list[Link]] = defaultdict(list)
    outcomes: list[tuple[str, str, str | None]] = []
    with context.state.transaction():
        for entry in pending:
            ids = found.get(entry.id, [])
            if len(ids) > 1:  # the record and every candidate wait: none may be paired elsewhere
                reason = (
                    f"an interrupted run's create of {entry.origin_id} may have made one of "
                    f"{', '.join(f'{entry.record_type} {found_id}' for found_id in ids)}, which hold "
                    "exactly what it wrote; held until all but one are deleted"
                )
                held = settled.held.setdefault(entry.step, {})
                for ref in (entry.origin_id, *(f"{entry.record_type} {found_id}" for found_id in ids)):
                    held[ref] = reason
                continue
            if ids:
                settled.recovered += 1
                links[entry.step].append(created_link(entry.side, entry.record_type, entry.origin_id,
                                         entry.payload.get("source_id"), ids[0], f"recovered:{entry.side}"))  # fmt: skip
            outcomes.append((entry.id, "reconciled" if ids else "abandoned", ids[0] if ids else None))
        for step, found_links in links.items():
            context.state.save_links(context.job, step, found_links)
        context.state.journal_settle(outcomes)  # a Bulk job's 100,000 in a statement per journal row
    return settled


def _look_for_creates(
    context: RunContext, steps: dict[str, Step], creates: list[JournalEntry]
) -> dict[str, list[str]]:
    """The ids of the records each interrupted create may have made (by journal entry), most
    certain way first, a step, side and record type at a time."""
    groups: dict[tuple[str, str, str], list[JournalEntry]] = defaultdict(list)
    for entry in creates:
        groups[(entry.step, entry.side, entry.record_type)].append(entry)
    found: dict[str, list[str]] = {}
    for (step_name, side, record_type), entries in groups.items():
        step = steps[step_name]
        connection = step.target.connection if side == "target" else step.source.connection
        connector = context.connector(connection)
        claimed = _linked_ids(context, step, side)  # a record found for one create is no other's
        planned = {e.payload["planned_id"]: e for e in entries if e.payload.get("planned_id")}
        existing = connector.get(record_type, list(planned)) if planned else {}
        for planned_id, entry in planned.items():
            found[entry.id] = [planned_id] if planned_id in existing else []
        rest = [e for e in entries if not e.payload.get("planned_id")]
        if side == "target":
            rest = _by_keys(connector, step, record_type, rest, claimed, found)
        for entry in rest:
            found[entry.id] = ids = _by_values(context, connection, record_type, entry, claimed)
            claimed.update(ids)
    return found


def _by_keys(
    connector: Connector, step: Step, record_type: str, entries: list[JournalEntry],
    claimed: set[str], found: dict[str, list[str]],
) -> list[JournalEntry]:  # fmt: skip
    """Find the one unclaimed target record holding a key each create wrote, one search per key
    field for all of them. A create whose key no unclaimed record holds made nothing (what it
    made holds the key it wrote), so it is settled too, without a search by its values; the
    entries no key settled (several hold it, or they wrote none) are returned."""
    for name in (name for key in step.match for name in key.target_fields):
        wanted = {
            e.id: value
            for e in entries
            if isinstance(value := e.payload.get("values", {}).get(name), str | int | float) and value != ""
        }
        if not wanted:
            continue
        try:
            records = connector.find(record_type, name, list(dict.fromkeys(wanted.values())))
        except ConnectorError:
            continue  # a field the system cannot search by: the next key, or the values
        holding: dict[Any, list[str]] = defaultdict(list)
        for record in records:
            value = get_path(record.values, name)
            if record.id not in claimed and isinstance(value, str | int | float):
                holding[_folded(value)].append(record.id)
        for entry in entries:
            ids = holding.get(_folded(wanted.get(entry.id)), []) if entry.id in wanted else []
            if entry.id in wanted and not ids:
                found[entry.id] = []
            elif len(ids) == 1 and ids[0] not in claimed:
                found[entry.id] = ids
                claimed.add(ids[0])
        entries = [entry for entry in entries if entry.id not in found]
    return entries


def _linked_ids(context: RunContext, step: Step, side: str) -> set[str]:
    links = context.state.links(context.job, step.name).values()
    return {link.target_id if side == "target" else link.source_id for link in links}


def _by_values(
    context: RunContext, connection: str, record_type: str, entry: JournalEntry, claimed: set[str]
) -> list[str]:
    """Unclaimed records holding every text value the create wrote."""
    info = context.describe(connection, record_type)
    written = {
        path: value
        for path, value in _flatten(entry.payload.get("values", {}))
        if isinstance(value, str) and value and info.fields.get(path, FieldInfo(path)).type in TEXT_TYPES
    }
    for path, value in written.items():
        try:
            candidates = context.connector(connection).find(record_type, path, [value])
        except ConnectorError:
            continue  # a field the system cannot search by: try the next
        return [
            record.id
            for record in candidates
            if record.id not in claimed
            and all(
                _folded(get_path(record.values, name)) == _folded(wanted) for name, wanted in written.items()
            )
        ]
    return []


def _flatten(values: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in values.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield prefix + name, value


def _folded(value: Any) -> Any:
    """Text as a system keeps it may differ in case and surrounding space from what was sent."""
    return value.strip().casefold() if isinstance(value, str) else value

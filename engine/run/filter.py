"""The reasons a step leaves a record alone before matching it, each a value for the step to
emit: a filter of its side it fails, a match key none of whose values is valid, a create an
interrupted run may have made, a parent not linked yet, a lesser type outranked by the priority
type that shares its key."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from engine.changeset import Side
from engine.connectors import Record
from engine.errors import RecordError
from engine.plan import Step
from engine.records import get_path
from engine.run.context import RunContext
from engine.run.keys import KeyIndex
from engine.run.outcomes import Hold, Skip


@dataclass(frozen=True)
class Filtered:
    """A record failing a filter: its skip, and the source id whose link goes with it (`unlink`)."""

    skip: Skip
    unlink: str | None = None


class Filters:
    """The checks of one step run (see the module docstring)."""

    def __init__(self, step: Step, context: RunContext, keys: KeyIndex):
        self.step, self.context, self.keys = step, context, keys
        # the ids whose filters were evaluated: passing ones are forgotten with their batch, as a
        # record is rarely asked again (a failing one is known by ``failing`` for the run)
        self.checked: dict[str, set[str]] = {"source": set(), "target": set()}
        self.failing: set[str] = set()  # ids failing a filter: skipped, never paired this run
        self.in_doubt = context.held.get(step.name, {})

    def filter(self, side: Side, record: Record, source_id: str | None) -> Filtered | None:
        """How a record fails a filter of its side, the first time it is asked (afterwards,
        ``failing`` tells). A linked record (``source_id``) failing a filter with `unlink`
        loses its link."""
        if record.id in self.checked[side] or record.id in self.failing:
            return None
        self.checked[side].add(record.id)
        for rule in self.step.filters:
            if rule.side != side:
                continue
            try:
                if _truthy(rule.require.evaluate(record.values)):
                    continue
                code, reason = "filtered", rule.reason
            except RecordError as e:
                code, reason = "invalid_value", e.message
            unlink = source_id if rule.unlink else None
            if unlink is not None:
                reason += "; its link is removed"
            self.failing.add(record.id)
            return Filtered(Skip.of(side, record, code, reason), unlink)
        return None

    def forget(self) -> None:
        """A batch is decided: a record asked about again is checked again."""
        for checked in self.checked.values():
            checked.clear()

    def invalid_key(self, side: Side, record: Record) -> Skip | None:
        """A record holding match keys none of which is valid is skipped, not created again
        beside the partner its key would find once written right (`invalid_key: skip`)."""
        if self.keys.of(side, record) or self.step.conflicts.invalid_key == "create":
            return None
        invalid = self.keys.invalid(side, record.id)
        if invalid is None:
            return None
        region = f" (phone_region {self.keys.region})" if "phone" in invalid else ""
        return Skip.of(
            side, record, "invalid_key", f"its match key holds {invalid}{region}: not matched, not created"
        )

    def create_in_doubt(self, side: Side, record: Record) -> Hold | None:
        """A record whose create an interrupted run may have made is held, not created again."""
        reason = self.in_doubt.get(f"{record.type} {record.id}") if self.in_doubt else None
        return None if reason is None else Hold(side, record.type, record.id, "create_in_doubt", reason)

    def outranked(self, record: Record) -> Skip | None:
        """A target record of a lesser type is left alone when one of the priority type shares its key."""
        priority = self.step.target.priority
        if priority is None or record.type == priority:
            return None
        for index, value in self.keys.of("target", record):
            if any(
                kind == priority and rid != record.id
                for kind, rid, _ in self.keys.candidates("target", index, value)
            ):
                reason = f"a {priority} with the same {self.step.match[index].source.text} has priority"
                return Skip.of("target", record, "outranked", reason)
        return None

    def parent_missing(self, side: Side, record: Record) -> Skip | None:
        """A record whose parent (the record its `link:` field names) is not linked yet is
        skipped uncounted (with `wait`, the step reads it again until it is)."""
        parent = self.step.parent
        rule = next(rule for rule in self.step.fields if rule.link == parent.object)
        parent_id = (
            (rule.source(record.values) if rule.source else None)
            if side == "source"
            else get_path(record.values, rule.target)
        )
        if parent_id is not None and str(parent_id) in self._linked_parents[side]:
            return None
        waiting = " yet; waiting" if parent.when_missing == "wait" else ""
        return Skip.of(
            side,
            record,
            "parent_not_linked",
            f"{parent.object} {parent_id} is not linked{waiting}",
            counted=False,
        )

    @cached_property
    def _linked_parents(self) -> dict[str, set[str]]:
        """The ids of linked parent records on each side, read once per step (the parent step ran
        before this one, so they do not change during it)."""
        links = self.context.links_of(self.step.parent.object)
        return {"source": set(links), "target": set(links.values())}


def _truthy(value: Any) -> bool:
    return value not in (None, False, "", [], {})

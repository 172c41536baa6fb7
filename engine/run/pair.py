"""A pair's decision: field by field, which way values flow between two linked records
(`decide.py` says it for each field), and the changes, link and agreed values that come of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.changeset import Change, FieldChange, PairState
from engine.connectors import Record
from engine.decide import FieldFacts, decide_field, same
from engine.errors import RecordError
from engine.plan import FLOWS, FieldRule, Step
from engine.records import get_path, set_path
from engine.run.outcomes import Decided, Hold, PairUp, Skip
from engine.run.values import Values
from engine.times import newer


@dataclass
class _Fields:
    """What the fields of a pair decided, gathered field by field."""

    to_target: dict[str, FieldChange] = field(default_factory=dict)
    to_source: dict[str, FieldChange] = field(default_factory=dict)
    source_values: dict[str, Any] = field(default_factory=dict)  # the source record's values, updated
    synced: dict[str, Any] = field(default_factory=dict)  # what the next run compares with
    resolved: list[str] = field(default_factory=list)  # the conflict policies that decided a field


class Pairing:
    """The pair decisions of one step run."""

    def __init__(self, step: Step, values: Values):
        self.step, self.values = step, values

    def decide(self, pair: PairUp) -> Decided | Skip | Hold:
        source, target, new, base = pair.source, pair.target, pair.new, pair.agreed
        try:
            fields = self.fields(
                source, target, base, new, pair.first_match or self.step.conflicts.first_match
            )
        except RecordError as e:
            return Skip.of("source", source, "invalid_value", e.message)
        if "hold" in fields.resolved:
            names = f"{source.type} {source.id} and {target.type} {target.id}"
            return Hold(
                "source", source.type, source.id, "values_differ",
                f"{names} share a key but their values differ; held until resolved (first_match: hold)",
                origin=f"{target.type} {target.id}", candidates=(f"{target.type} {target.id}",),
            )  # fmt: skip
        to_target, to_source, synced = fields.to_target, fields.to_source, fields.synced
        written = {name: change.new for name, change in to_target.items()}
        exact = all(
            same(written.get(name, get_path(target.values, name)), value) for name, value in synced.items()
        )
        policy_note = "; ".join(sorted(set(fields.resolved))) or None
        origin, back = f"{source.type} {source.id}", f"{target.type} {target.id}"
        changes = []
        if new:
            reason = (
                "linked by a person"
                if pair.made_by == "person"
                else f"matched on {pair.made_by.removeprefix('key:')}"
            )
            changes.append(Change(self.step.name, "link", "target", target.type, target.id, origin=origin,
                                  reason=reason, source_id=source.id))  # fmt: skip
        if to_target:
            changes.append(Change(self.step.name, "update", "target", target.type, target.id, origin=origin,
                                  fields=tuple(to_target.values()), reason=policy_note, source_id=source.id,
                                  values=written))  # fmt: skip
        if to_source:
            changes.append(Change(self.step.name, "update", "source", source.type, source.id, origin=back,
                                  fields=tuple(to_source.values()), reason=policy_note, source_id=source.id,
                                  values=fields.source_values))  # fmt: skip
        state = None
        if new or to_target or to_source or base != synced:
            state = PairState(source.id, source.type, target.type, target.id, pair.made_by, synced, exact)
        shared = to_target and self.step.conflicts.duplicates == "link_all"
        return Decided(
            tuple(changes), state, (source.id, target.id) if new else None,
            agreed_target=target.id if exact else None,
            unsure_source=source.id if not exact and not new else None,  # a value kept on one side only
            shared_target=Record(target.type, target.id, {**target.values, **written}, target.modified)
            if shared else None,
        )  # fmt: skip

    def fields(
        self, source: Record, target: Record, base: dict[str, Any] | None, new: bool, first_match: str
    ) -> _Fields:
        fields = _Fields()
        later = newer(source.modified, target.modified)  # the source changed after the target
        for rule in self.step.fields:
            if not self.values.applies(rule, target.type):
                continue
            flows = FLOWS[rule.directions.update]  # linking an existing record is no creation
            # the source's value also for a field flowing back only: a concurrent edit compares it
            forward = self.values.forward(rule, source) if "to_target" in flows or rule.source else None
            current = get_path(target.values, rule.target)
            # what the next run compares with: the source's value for a field flowing only to
            # the target, else the target's (the agreed value once both sides hold it)
            one_way = "to_source" not in flows or rule.source is None
            fields.synced[rule.target] = forward if one_way and "to_target" in flows else current
            if "to_target" not in flows and "to_source" not in flows:
                continue
            way = self.direction_of_change(
                rule, forward, current, base, new, flows, later, fields.resolved, first_match
            )
            if way == "to_target" and forward != current:
                fields.to_target[rule.target] = FieldChange(rule.target, current, forward)
                fields.synced[rule.target] = forward
            elif way == "to_source" and rule.source is not None:
                value = self.values.backward(rule, target)
                old = rule.source(source.values)
                if not same(value, self.values.comparable(rule, old)):
                    path = self.values.written_back[id(rule)]
                    fields.to_source[path] = FieldChange(path, old, value)
                    set_path(fields.source_values, dict(source.values), path, value)
        return fields

    def direction_of_change(
        self, rule: FieldRule, forward: Any, current: Any, base: dict[str, Any] | None, new: bool,
        flows: tuple[str, ...], source_newer: bool, resolved: list[str], first_match: str,
    ) -> str | None:  # fmt: skip
        """Which way this field's value should flow (``decide_field``); the policy that decided
        goes to ``resolved``."""
        decision = decide_field(
            FieldFacts(
                field=rule.target,
                to_target="to_target" in flows,
                to_source="to_source" in flows and rule.source is not None,
                writes_back=rule.source is not None,
                source_value=forward,
                target_value=self.values.comparable(rule, current),
                first_match=new or base is None,
                agreed=self.values.comparable(rule, base.get(rule.target)) if base is not None else None,
                default=rule.default,
                source_newer=source_newer,
                first_match_policy=first_match,
                concurrent_policy=rule.conflict or self.step.conflicts.concurrent_edit,
            )
        )
        if decision.note:
            resolved.append(decision.note)
        return decision.way

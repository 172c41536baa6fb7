"""A create's decision: the record to make on one side from a record of the other that has no
partner, with the values the mapping gives it, the id it is planned under where its side lets
the caller choose one, and the link and agreed values apply saves once it exists."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from engine.changeset import Change, FieldChange, PairState
from engine.connectors import Record
from engine.errors import RecordError
from engine.expressions import field_path
from engine.normalize import normalize_key
from engine.plan import FLOWS, FieldRule, Step
from engine.records import get_path, set_path
from engine.run.context import RunContext
from engine.run.outcomes import CreateFor, Decided, Skip
from engine.run.values import Values

PLACEHOLDER = "(new {type} for {origin})"


class Creator:
    """The creates of one step run."""

    def __init__(self, step: Step, context: RunContext, values: Values):
        self.step, self.context, self.values = step, context, values
        self.region = context.plan.defaults.phone_region
        # ids planned for new records: random when applied (they are written); a dry run's count up
        self.dry_run_ids = None if context.applying else itertools.count(1)
        self._rules: dict[tuple[str, str], list[FieldRule]] = {}  # see ``rules``

    def decide(self, create: CreateFor) -> Decided | Skip:
        side, origin = create.side, create.origin
        spec = self.step.target if side == "target" else self.step.source
        record_type = spec.create_as or spec.types[0]
        try:
            values, synced = self.creation_values(side, origin, record_type)
        except RecordError as e:
            return Skip.of("source" if side == "target" else "target", origin, "invalid_value", e.message)
        planned_id = None
        info = self.context.describe(spec.connection, record_type)
        id_info = info.fields.get(spec.id_field or info.id_field)
        if id_info is not None and id_info.createable:
            planned_id = secrets.token_hex(16) if self.dry_run_ids is None else f"{next(self.dry_run_ids):032x}"
            values[spec.id_field or info.id_field] = planned_id
        origin_ref = f"{origin.type} {origin.id}"
        created = Change(
            self.step.name, "create", side, record_type, None, origin=origin_ref,
            source_id=origin.id if side == "target" else planned_id, planned_id=planned_id, values=values,
        )  # fmt: skip
        placeholder = planned_id or PLACEHOLDER.format(type=record_type, origin=origin_ref)
        if side == "target":
            pair = PairState(origin.id, origin.type, record_type, planned_id, "created:target", synced, True)
            return Decided((created,), pair, (origin.id, placeholder))
        fill = self.fill_gaps(Record(record_type, planned_id, values), origin, synced) if planned_id else None
        # where the source chooses the new id, apply finds the pair by its origin instead
        pair = PairState(placeholder, record_type, origin.type, origin.id, "created:source", synced)
        link = (planned_id, origin.id) if planned_id else None
        return Decided((created, fill) if fill else (created,), pair, link)

    def fill_gaps(self, created: Record, target: Record, synced: dict[str, Any]) -> Change | None:
        """A target record that a new source record was created from gets, where it is empty,
        what the mapping derives from that new record (its `Phone` copied into `MobilePhone`),
        as a first match would: the next run then has nothing left to do."""
        fills: dict[str, FieldChange] = {}
        for rule in self.step.fields:
            current = get_path(target.values, rule.target)
            if (
                current not in (None, "")
                or "to_target" not in FLOWS[rule.directions.update]
                or not self.values.applies(rule, target.type)
            ):
                continue
            try:
                value = self.values.forward(rule, created)
            except RecordError:
                continue  # left for the next run, which reports it
            if value not in (None, ""):
                fills[rule.target] = FieldChange(rule.target, current, value)
                synced[rule.target] = value
        if not fills:
            return None
        return Change(
            self.step.name, "update", "target", target.type, target.id,
            origin=f"{created.type} {created.id} (new)", fields=tuple(fills.values()),
            source_id=created.id, values={name: change.new for name, change in fills.items()},
        )  # fmt: skip

    def creation_values(self, side: str, origin: Record, record_type: str) -> tuple[dict, dict]:
        """The values a new record on `side` gets from `origin`, and the values the pair agrees on."""
        values: dict[str, Any] = {}
        synced: dict[str, Any] = {}
        if side == "target":
            for rule in self.rules(side, record_type):
                value = self.values.forward(rule, origin)
                if value is not None:
                    values[rule.target] = synced[rule.target] = value
            return values, synced
        for rule in self.rules(side, origin.type):
            if rule.source is not None:
                value = self.values.backward(rule, origin)
                synced[rule.target] = get_path(origin.values, rule.target)
                if value is not None:
                    set_path(values, {}, self.values.written_back[id(rule)], value)
        self.carry_keys(origin, values)
        return values, synced

    def rules(self, side: str, target_type: str) -> list[FieldRule]:
        """The field rules a create on `side` follows, for a record of this target type."""
        key = (side, target_type)
        if key not in self._rules:
            flow = "to_" + side
            self._rules[key] = [
                rule
                for rule in self.step.fields
                if flow in FLOWS[rule.directions.create] and self.values.applies(rule, target_type)
            ]
        return self._rules[key]

    def carry_keys(self, origin: Record, values: dict[str, Any]) -> None:
        """A source record created from a target record carries the key that matched them, even
        when no field maps it back (a Contact with only `Phone` gives the new contact its phone)."""
        for key in self.step.match:
            path = field_path(key.source.text)
            if path is None or get_path(values, ".".join(path)) not in (None, ""):
                continue
            for name in key.target_fields:
                normalized = normalize_key(get_path(origin.values, name), key.normalize, self.region)
                if normalized is not None:
                    set_path(values, {}, ".".join(path), normalized)
                    break

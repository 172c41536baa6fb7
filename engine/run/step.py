"""Run: read changes, filter, match, decide, and produce a ChangeSet. Nothing here writes.

For each step of the Plan, in dependency order: read both sides since their watermarks, drop
records that fail a filter (with the reason), find each record's partner (its link first, then
the match keys in order, the priority type winning), and decide field by field which way values
flow, using the directions, the last synced values (three-way) and the conflict policies.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from engine.changeset import Change, ChangeSet, FieldChange, PairState, StepChanges
from engine.connectors import Record
from engine.decide import FieldFacts, decide_field, same
from engine.errors import ConnectorError, RecordError
from engine.expressions import field_path
from engine.normalize import normalize_key
from engine.phones import PhonesAhead
from engine.plan import FLOWS, FieldRule, Plan, Step
from engine.records import batched, get_path, set_path
from engine.run.context import RunContext
from engine.run.delete import decide_delete
from engine.run.filter import Filters
from engine.run.keys import KeyIndex
from engine.run.ledger import Ledger
from engine.run.outcomes import CreateFor, DeleteFor, Hold, Outcome, PairUp, Route, Skip, as_change
from engine.run.partners import Partners
from engine.run.read import SideReader
from engine.run.route import RecordRouter
from engine.run.values import Values
from engine.spool import collector_paused
from engine.state import Link
from engine.times import newer

PLACEHOLDER = "(new {type} for {origin})"
BATCH = 2000  # source records decided together: their partners are fetched in one call per type


def run(plan: Plan, steps: Iterable[Step], context: RunContext) -> ChangeSet:
    """Decide the steps of a plan (a dry run: nothing is written anywhere)."""
    changeset = ChangeSet(job=context.job, plan_hash=plan.hash)
    for step in steps:
        changeset.steps.append(run_step(step, context))
    return changeset


def run_step(step: Step, context: RunContext) -> StepChanges:
    with collector_paused():
        return _StepRun(step, context).decide()


class _StepRun:
    """The decisions of one step: one instance per step and run."""

    def __init__(self, step: Step, context: RunContext):
        self.step = step
        self.context = context
        self.job = context.job
        self.state = context.state
        self.region = context.plan.defaults.phone_region
        self.source = context.connector(step.source.connection)
        self.target = context.connector(step.target.connection)
        self.out = StepChanges(step=step.name)
        self.links = context.state.links(self.job, step.name)
        self.by_target = {link.target_id: link for link in self.links.values() if not link.shared}
        self.sharers: dict[str, list[Link]] = defaultdict(list)  # target id -> other sources (link_all)
        for link in self.links.values():
            if link.shared:
                self.sharers[link.target_id].append(link)
        self.ledger = Ledger()
        self.refreshed: dict[str, set[str]] = {"source": set(), "target": set()}
        self.keys = KeyIndex(step, context, self.refreshed)
        self.partners = Partners(step, context, self.keys, self.links)
        self.values = Values(step, context)
        self.filters = Filters(step, context, self.keys)
        self.router = RecordRouter(
            step,
            self.keys,
            self.partners,
            self.filters,
            self.ledger,
            self.links,
            self.by_target,
            self.sharers,
        )
        self.known = self.partners.known  # side -> id -> record (None: not there)
        # the links this run plans, kept (for the steps translating ids through them) only if used
        self.planned = (
            context.planned_links.setdefault(step.name, {})
            if context.plan.translates_through(step.name)
            else None
        )
        self.from_watermark: dict[str, bool] = {}  # side -> read every change since the last run
        # the source field each rule writes back, as its keys (`"First Name"` is `First Name`)
        self.written_back = {
            id(rule): ".".join(field_path(rule.source.text) or (rule.source.text,))
            for rule in step.fields
            if rule.source is not None
        }

    # -- reading --------------------------------------------------------------------------------

    def read(self, side: str) -> Iterator[Record]:
        """The side's records (see ``read.py``), each noted for the fingerprint as it passes."""
        reader = SideReader(self.step, side, self.context, self.links, self.refreshed[side])
        self.from_watermark[side] = reader.from_watermark
        for record in reader.records():
            self.refreshed[side].add(record.id)
            self.out.saw(side, record.id, record.modified)
            yield record
        self.out.read[side] = reader.mark.count
        self.out.warnings += reader.mark.warnings
        if reader.mark.watermark is not None:
            self.out.watermarks[side], self.out.seen[side] = reader.mark.watermark, reader.mark.seen

    def index_keys(self, side: str, record: Record) -> None:
        keys = self.keys.add(side, record)
        if self.context.applying:
            self.out.keys[side].append((record.type, record.id, record.modified, keys))

    # -- deciding -------------------------------------------------------------------------------

    def decide(self) -> StepChanges:
        """The target side is read whole first (its keys are what source records match), then
        the source side streams through in batches, then the target records no source record
        reached. Only one batch of source records is in memory at a time."""
        self.check_declared_fields()
        targets_by_id = {}
        for record in self.read("target"):
            self.index_keys("target", record)
            targets_by_id[record.id] = record
        self.known["target"].update(targets_by_id)
        self.router.targets = targets_by_id
        phone_keys = [key.source for key in self.step.match if key.normalize == "phone"]
        stand_ins = self.partners.may_stand_in(self.from_watermark.get("target", False))
        for batch in PhonesAhead(phone_keys, self.region).batches(batched(self.read("source"), BATCH)):
            for record in batch:
                self.index_keys("source", record)
            self.known["source"] = {record.id: record for record in batch}
            if stand_ins:
                self.partners.stand_in(batch)
            self.partners.prefetch("target", self.partners.wanted("source", batch, self.links))
            for record in batch:
                self.act(self.router.route("source", record))
            self.forget("source", batch)
        self.known["source"] = {}
        unhandled = (
            record for record in targets_by_id.values() if record.id not in self.ledger.handled_targets
        )
        for batch in batched(unhandled, BATCH):
            self.partners.prefetch("source", self.partners.wanted("target", batch, self.by_target))
            for record in batch:
                if record.id not in self.ledger.handled_targets:
                    self.act(self.router.route("target", record))
            self.known["source"] = {}
        self.act(self.router.held_shared_keys())
        self.out.warnings += self.router.match_tally.warnings(
            self.step, self.out.read.get("source", 0), len(targets_by_id)
        )
        self.out.unsure_targets |= {  # read, but their pair never got to agree: read them next time
            link.source_id
            for target_id in self.refreshed["target"]
            if (link := self.by_target.get(target_id)) and target_id not in self.ledger.agreed_targets
        }
        for side, floor in self.ledger.waiting.items():  # records waiting for a parent are read again
            current = self.out.watermarks.get(side)
            self.out.watermarks[side] = min(current, floor) if current else floor
            self.out.seen.pop(side, None)
        if self.context.flow:
            self.out.watermarks.clear()  # changes flowing the other way are still to be synced
            self.out.seen.clear()
        return self.out

    def check_declared_fields(self) -> None:
        """A side's `id:` and `modified:` must name the fields its connection uses: a document
        saying otherwise would be read one way and meant another."""
        for side, spec in (("source", self.step.source), ("target", self.step.target)):
            for record_type in spec.types if spec.id_field or spec.modified_field else ():
                info = self.context.describe(spec.connection, record_type)
                for key, declared, used, what in (
                    ("id", spec.id_field, info.id_field, "ids"),
                    ("modified", spec.modified_field, info.modified_field, "modification times"),
                ):
                    if declared and declared != used:
                        raise ConnectorError(
                            f"objects.{self.step.name}.{side} says `{key}: {declared}`, but the "
                            f"`{spec.connection}` connection keeps the {what} of `{record_type}` in `{used}`",
                            hint=f"leave `{key}:` out to use the connection's, or set the connection up to use "
                            f"`{declared}`",
                        )

    def forget(self, side: str, batch: list[Record]) -> None:
        for record in batch:
            self.keys.forget(side, record.id)

    def act(self, routes: Iterable[Route]) -> None:
        """Do what the router says, route by route (each is acted on before the next is made)."""
        for route in routes:
            if isinstance(route, PairUp):
                self.pair(route.source, route.target, route.made_by, route.new)
            elif isinstance(route, CreateFor):
                self.create(route.side, route.origin)
            elif isinstance(route, DeleteFor):
                self.deleted(route)
            else:
                if route.outcome is not None:
                    self.emit(route.outcome)
                if route.unlink is not None:
                    self.out.unlinks.append(route.unlink)

    def emit(self, outcome: Outcome) -> None:
        """The one writer of skips and holds to the step's output."""
        self.out.add(as_change(self.step.name, outcome))

    # -- writes ------------------------------------------------------------------------------------

    def create(self, side: str, origin: Record) -> None:
        spec = self.step.target if side == "target" else self.step.source
        record_type = spec.create_as or spec.types[0]
        try:
            values, synced = self.creation_values(side, origin, record_type)
        except RecordError as e:
            self.emit(Skip.of("source" if side == "target" else "target", origin, "invalid_value", e.message))
            return
        planned_id = None
        info = self.context.describe(spec.connection, record_type)
        id_info = info.fields.get(spec.id_field or info.id_field)
        if id_info is not None and id_info.createable:
            planned_id = secrets.token_hex(16)
            values[spec.id_field or info.id_field] = planned_id
        origin_ref = f"{origin.type} {origin.id}"
        self.ledger.partnered["source" if side == "target" else "target"].add(origin.id)  # see shares_key
        source_id = origin.id if side == "target" else planned_id
        self.out.add(
            Change(
                self.step.name, "create", side, record_type, None, origin=origin_ref,
                fields=tuple(FieldChange(k, None, v) for k, v in values.items() if v != planned_id),
                source_id=source_id, planned_id=planned_id, values=values,
            )
        )  # fmt: skip
        placeholder = planned_id or PLACEHOLDER.format(type=record_type, origin=origin_ref)
        if side == "target":
            self.plan_link(origin.id, placeholder)
            self.remember(
                PairState(origin.id, origin.type, record_type, planned_id, "created:target", synced, True)
            )
        else:
            self.ledger.handled_targets.add(origin.id)
            if planned_id:
                self.plan_link(planned_id, origin.id)
                self.fill_gaps(Record(record_type, planned_id, values), origin, synced)
            # where the source chooses the new id, apply finds the pair by its origin instead
            self.remember(
                PairState(placeholder, record_type, origin.type, origin.id, "created:source", synced)
            )

    def remember(self, pair: PairState) -> None:
        """Note a pair's agreed values for apply to save (a dry run saves nothing: it skips this)."""
        if self.context.applying:
            self.out.pairs.append(pair)

    def plan_link(self, source_id: str, target_id: str) -> None:
        if self.planned is not None:
            self.context.plan_link(self.step.name, source_id, target_id)

    def fill_gaps(self, created: Record, target: Record, synced: dict[str, Any]) -> None:
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
        if fills:
            self.out.add(
                Change(
                    self.step.name, "update", "target", target.type, target.id,
                    origin=f"{created.type} {created.id} (new)", fields=tuple(fills.values()),
                    source_id=created.id, values={name: change.new for name, change in fills.items()},
                )
            )  # fmt: skip

    def creation_values(self, side: str, origin: Record, record_type: str) -> tuple[dict, dict]:
        values: dict[str, Any] = {}
        synced: dict[str, Any] = {}
        for rule in self.step.fields:
            flow = "to_" + side
            if flow not in FLOWS[rule.directions.create]:
                continue
            if side == "target":
                if not self.values.applies(rule, record_type):
                    continue
                value = self.values.forward(rule, origin)
                if value is not None:
                    values[rule.target] = synced[rule.target] = value
            elif rule.source is not None and self.values.applies(rule, origin.type):
                value = self.values.backward(rule, origin)
                synced[rule.target] = get_path(origin.values, rule.target)
                if value is not None:
                    set_path(values, {}, self.written_back[id(rule)], value)
        if side == "source":
            self.carry_keys(origin, values)
        return values, synced

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

    def deleted(self, route: DeleteFor) -> None:
        side, record, other_id = route.side, route.record, route.other_id
        sharers = self.router.sources_of(other_id) if side == "source" else []
        deletion = decide_delete(
            self.step, side, record, route.other_type, other_id, route.source_id, sharers
        )
        self.out.unlinks.append(deletion.unlink)
        if deletion.handled_target is not None:
            self.ledger.handled_targets.add(deletion.handled_target)
        if deletion.change is not None:
            self.out.add(deletion.change)

    def pair(self, source: Record, target: Record, made_by: str, new: bool) -> None:
        """Decide field by field which way values flow between two linked records."""
        base = None if new else self.state.snapshots(self.job, self.step.name, [source.id]).get(source.id)
        to_target: dict[str, FieldChange] = {}
        to_source: dict[str, FieldChange] = {}
        source_values: dict[str, Any] = {}
        synced: dict[str, Any] = {}
        resolved: list[str] = []
        later = newer(source.modified, target.modified)  # the source changed after the target
        try:
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
                synced[rule.target] = forward if one_way and "to_target" in flows else current
                if "to_target" not in flows and "to_source" not in flows:
                    continue
                way = self.direction_of_change(rule, forward, current, base, new, flows, later, resolved)
                if way == "to_target" and forward != current:
                    to_target[rule.target] = FieldChange(rule.target, current, forward)
                    synced[rule.target] = forward
                elif way == "to_source" and rule.source is not None:
                    value = self.values.backward(rule, target)
                    old = rule.source(source.values)
                    if not same(value, self.values.comparable(rule, old)):
                        path = self.written_back[id(rule)]
                        to_source[path] = FieldChange(path, old, value)
                        set_path(source_values, dict(source.values), path, value)
        except RecordError as e:
            self.emit(Skip.of("source", source, "invalid_value", e.message))
            return
        if resolved and "hold" in resolved:
            names = f"{source.type} {source.id} and {target.type} {target.id}"
            self.emit(Hold(
                "source", source.type, source.id, "values_differ",
                f"{names} share a key but their values differ; held until resolved (first_match: hold)",
                origin=f"{target.type} {target.id}",
            ))  # fmt: skip
            return
        written = {name: change.new for name, change in to_target.items()}
        exact = all(
            same(written.get(name, get_path(target.values, name)), value) for name, value in synced.items()
        )
        if exact:
            self.ledger.agreed_targets.add(target.id)
        elif not new:  # a value kept on one side only (a placeholder, a gap not filled)
            self.out.unsure_targets.add(source.id)
        reason = f"matched on {made_by.removeprefix('key:')}" if new else None
        policy_note = "; ".join(sorted(set(resolved))) or None
        if new:
            self.out.add(
                Change(
                    self.step.name,
                    "link",
                    "target",
                    target.type,
                    target.id,
                    origin=f"{source.type} {source.id}",
                    reason=reason,
                    source_id=source.id,
                )
            )
        if to_target:
            self.out.add(
                Change(
                    self.step.name, "update", "target", target.type, target.id, origin=f"{source.type} {source.id}",
                    fields=tuple(to_target.values()), reason=policy_note, source_id=source.id,
                    values={name: change.new for name, change in to_target.items()},
                )
            )  # fmt: skip
        if to_source:
            self.out.add(
                Change(
                    self.step.name, "update", "source", source.type, source.id, origin=f"{target.type} {target.id}",
                    fields=tuple(to_source.values()), reason=policy_note, source_id=source.id, values=source_values,
                )
            )  # fmt: skip
        if new or to_target or to_source or base != synced:
            self.remember(PairState(source.id, source.type, target.type, target.id, made_by, synced, exact))
        if new:
            self.plan_link(source.id, target.id)
        self.ledger.paired_sources.add(source.id)
        if to_target and self.step.conflicts.duplicates == "link_all":
            updated = Record(target.type, target.id, {**target.values, **written}, target.modified)
            self.act(self.router.pair_sharers(updated, skip=source.id))

    def direction_of_change(
        self, rule: FieldRule, forward: Any, current: Any, base: dict[str, Any] | None, new: bool,
        flows: tuple[str, ...], source_newer: bool, resolved: list[str],
    ) -> str | None:  # fmt: skip
        """Which way this field's value should flow (``decide_field``); the policy that decided
        goes to ``resolved``."""
        to_target = "to_target" in flows
        decision = decide_field(
            FieldFacts(
                field=rule.target,
                to_target=to_target,
                to_source="to_source" in flows and rule.source is not None,
                writes_back=rule.source is not None,
                source_value=forward,
                target_value=self.values.comparable(rule, current),
                first_match=new or base is None,
                agreed=self.values.comparable(rule, base.get(rule.target)) if base is not None else None,
                default=rule.default,
                source_newer=source_newer,
                first_match_policy=self.step.conflicts.first_match,
                concurrent_policy=rule.conflict or self.step.conflicts.concurrent_edit,
            )
        )
        if decision.note:
            resolved.append(decision.note)
        return decision.way

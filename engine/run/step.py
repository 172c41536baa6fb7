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
from engine.match_tally import MatchTally
from engine.normalize import normalize_key
from engine.phones import PhonesAhead
from engine.plan import FLOWS, FieldRule, Plan, Step
from engine.records import batched, get_path, set_path
from engine.run.context import RunContext
from engine.run.delete import decide_delete
from engine.run.filter import Filters
from engine.run.keys import KeyIndex
from engine.run.ledger import Ledger
from engine.run.match import Matcher
from engine.run.outcomes import Found, Hold, Matched, NoMatch, Outcome, Skip, as_change
from engine.run.partners import Partners
from engine.run.read import SideReader
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
        self.matcher = Matcher(step, self.keys, self.partners, self.ledger, self.links, self.by_target)
        self.known = self.partners.known  # side -> id -> record (None: not there)
        # the links this run plans, kept (for the steps translating ids through them) only if used
        self.planned = (
            context.planned_links.setdefault(step.name, {})
            if context.plan.translates_through(step.name)
            else None
        )
        self.match_tally = MatchTally()
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

    def count_match(self, side: str, record: Record, found: Found) -> None:
        if self.keys.has_keys(side, record.id):
            self.match_tally.count(side, isinstance(found, Matched))

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
                self.from_source(record, targets_by_id)
            self.forget("source", batch)
        self.known["source"] = {}
        unhandled = (
            record for record in targets_by_id.values() if record.id not in self.ledger.handled_targets
        )
        for batch in batched(unhandled, BATCH):
            self.partners.prefetch("source", self.partners.wanted("target", batch, self.by_target))
            for record in batch:
                if record.id not in self.ledger.handled_targets:
                    self.from_target(record)
            self.known["source"] = {}
        self.hold_shared_keys()
        self.out.warnings += self.match_tally.warnings(
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

    def emit(self, outcome: Outcome) -> None:
        """The one writer of skips and holds to the step's output."""
        self.out.add(as_change(self.step.name, outcome))

    def filtered_out(self, side: str, record: Record, source_id: str | None) -> bool:
        """Whether a record fails a filter of its side; the first time, skipped with the reason."""
        filtered = self.filters.filter(side, record, source_id)
        if filtered is not None:
            self.emit(filtered.skip)
            if filtered.unlink is not None:
                self.out.unlinks.append(filtered.unlink)
        return record.id in self.filters.failing

    def left_alone(self, outcome: Outcome | None) -> bool:
        """Emit a check's skip or hold, if any; whether there was one."""
        if outcome is not None:
            self.emit(outcome)
        return outcome is not None

    def parent_missing(self, side: str, record: Record) -> bool:
        """Whether a record's parent is not linked yet: skipped, and with `wait` read again."""
        skip = self.filters.parent_missing(side, record)
        if skip is not None and self.step.parent.when_missing == "wait":
            self.read_again(side, record)
        return self.left_alone(skip)

    def from_source(self, record: Record, targets_by_id: dict[str, Record]) -> None:
        if record.id in self.ledger.paired_sources or self.left_alone(
            self.filters.create_in_doubt("source", record)
        ):
            return
        link = self.links.get(record.id)
        if record.unreadable:
            if link:
                self.ledger.handled_targets.add(link.target_id)
            self.emit(Skip.of("source", record, "unreadable", record.unreadable))
            return
        if record.deleted:
            self.deleted(
                "source",
                record,
                link.target_type if link else None,
                link.target_id if link else None,
                record.id,
            )
            return
        if self.filtered_out("source", record, record.id if link else None):
            return
        if self.step.parent and self.parent_missing("source", record):
            return
        if link:
            if link.target_id in targets_by_id and targets_by_id[link.target_id].deleted:
                return  # the deletion is decided from the side where it happened
            self.ledger.handled_targets.add(link.target_id)
            partner = self.partners.get("target", link.target_type, link.target_id)
            if partner is None:
                reason = f"linked {link.target_type} {link.target_id} no longer exists"
                self.emit(Skip.of("source", record, "partner_gone", reason))
                return
            self.pair(record, partner, link.made_by, new=False)
            return
        if self.left_alone(self.filters.invalid_key("source", record)):
            return
        found = self.matcher.match("source", record)
        self.count_match("source", record, found)
        if not isinstance(found, Matched):
            if isinstance(found, NoMatch):
                self.create("target", record)
            elif isinstance(found, Hold):
                self.emit(found)
            return
        made_by = found.made_by
        partner = self.partners.get("target", found.partner_type, found.partner_id)
        if partner is None:
            self.create("target", record)
            return
        self.ledger.handled_targets.add(partner.id)
        self.pair(record, partner, made_by, new=True)

    def from_target(self, record: Record) -> None:
        if self.left_alone(self.filters.create_in_doubt("target", record)):
            return
        if record.unreadable:
            self.emit(Skip.of("target", record, "unreadable", record.unreadable))
            return
        link = next(iter(self.sources_of(record.id)), None)
        if record.deleted:  # every source record sharing it (`link_all`) loses its partner
            for shared in self.sources_of(record.id):
                self.deleted("target", record, shared.source_type, shared.source_id, shared.source_id)
            return
        if self.filtered_out("target", record, link.source_id if link else None):
            return
        if self.step.parent and self.parent_missing("target", record):
            return
        if self.left_alone(self.filters.outranked(record)):
            return
        if record.id in self.ledger.held:
            return
        if link:
            partner = self.partners.get("source", link.source_type, link.source_id)
            if partner is None:
                reason = f"linked {link.source_type} {link.source_id} no longer exists"
                self.emit(Skip.of("target", record, "partner_gone", reason))
                return
            self.pair(partner, record, link.made_by, new=False)
            self.pair_sharers(record)
            return
        if self.left_alone(self.filters.invalid_key("target", record)):
            return
        found = self.matcher.match("target", record)
        self.count_match("target", record, found)
        if not isinstance(found, Matched):
            if isinstance(found, NoMatch):
                self.create("source", record)
            elif isinstance(found, Hold):
                self.emit(found)
            return
        made_by = found.made_by
        partner = self.partners.get("source", found.partner_type, found.partner_id)
        if partner is None:
            self.create("source", record)
            return
        self.pair(partner, record, made_by, new=True)

    def join_shared(self, record: Record, key: tuple[str, int, str], group: list[str]) -> None:
        """`duplicates: link_all`: a source record sharing a key links to the target record of
        the first one; while that target is still to be created, it waits for the next run."""
        first_id = group[0].partition(" ")[2]
        link = self.links.get(first_id)
        name = self.matcher.key_name(key[1])
        if link is None:
            reason = f"shares its {name} with {group[0]}, whose new record it will link to; waiting"
            self.emit(Skip.of("source", record, "waiting_for_partner", reason, counted=False))
            self.read_again("source", record)
            return
        partner = self.partners.get("target", link.target_type, link.target_id)
        if partner is None:
            reason = f"linked {link.target_type} {link.target_id} no longer exists"
            self.emit(Skip.of("source", record, "partner_gone", reason))
            return
        self.ledger.handled_targets.add(partner.id)
        self.pair(record, partner, f"shared:{name}", new=True)

    def hold_shared_keys(self) -> None:
        """One conflict per record held for sharing a key, naming every record that shares it."""
        if self.step.conflicts.duplicates == "link_all":
            return
        for (side, index, value), group in self.ledger.sharing.items():
            for ref in (group or [])[1:]:
                record_type, _, record_id = ref.partition(" ")
                self.emit(Hold(
                    side, record_type, record_id, "duplicate_source_key",
                    self.matcher.shared_key_reason(side, index, value, group),
                ))  # fmt: skip

    def sources_of(self, target_id: str) -> list[Link]:
        """Every source record linked to a target record: one, or several with `link_all`."""
        primary = self.by_target.get(target_id)
        return ([primary] if primary else []) + self.sharers.get(target_id, [])

    def pair_sharers(self, target: Record, skip: str | None = None) -> None:
        """Pair the other source records sharing a target (`link_all`) with it as this run
        leaves it, so an update reaching the target flows to each of them too."""
        for link in self.sources_of(target.id):
            if link.source_id == skip or link.source_id in self.ledger.paired_sources:
                continue
            partner = self.partners.get("source", link.source_type, link.source_id)
            if partner is not None:
                self.pair(partner, target, link.made_by, new=False)

    def read_again(self, side: str, record: Record) -> None:
        """Keep the side's watermark at or before this record, so the next run reads it again."""
        if record.modified:
            current = self.ledger.waiting.get(side)
            self.ledger.waiting[side] = min(current, record.modified) if current else record.modified

    # -- writes ------------------------------------------------------------------------------------

    def create(self, side: str, origin: Record) -> None:
        spec = self.step.target if side == "target" else self.step.source
        if "to_" + side not in FLOWS[self.step.directions.create]:
            where = "the target" if side == "target" else "the source"
            other = "source" if side == "target" else "target"
            self.emit(
                Skip.of(other, origin, "create_disabled", f"no match, and creating records in {where} is off")
            )
            return
        shared = self.matcher.shares_key("source" if side == "target" else "target", origin)
        if shared is not None:
            if side == "target" and self.step.conflicts.duplicates == "link_all":
                self.join_shared(origin, *shared)
            return
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

    def deleted(
        self, side: str, record: Record, other_type: str | None, other_id: str | None, source_id: str | None
    ) -> None:
        if other_id is None:
            return
        sharers = self.sources_of(other_id) if side == "source" else []
        deletion = decide_delete(self.step, side, record, other_type, other_id, source_id, sharers)
        self.out.unlinks.append(deletion.unlink)
        if deletion.handled_target is not None:
            self.ledger.handled_targets.add(deletion.handled_target)
        if deletion.change is not None:
            self.out.add(deletion.change)

    def pair(self, source: Record, target: Record, made_by: str, new: bool) -> None:
        """Decide field by field which way values flow between two linked records."""
        linked_id = None if new else source.id
        for side, record, partner in (("source", source, target), ("target", target, source)):
            if partner.unreadable:  # a pair is never decided on part of a record
                reason = f"{partner.type} {partner.id}, its partner, could not be read: {partner.unreadable}"
                self.emit(Skip.of(side, record, "unreadable", reason))
                return
        if any(  # a partner reached from the other side answers to its own side's filters too
            self.filtered_out(side, record, linked_id)
            for side, record in (("source", source), ("target", target))
        ):
            return
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
            self.pair_sharers(updated, skip=source.id)

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

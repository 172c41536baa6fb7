"""Run: read changes, filter, match, decide, and produce a ChangeSet. Nothing here writes.

For each step of the Plan, in dependency order: read both sides since their watermarks, route
each record (`route.py`: its link, the checks that leave it alone, its match keys) and decide
what each route comes to (`pair.py`, `create.py`, `delete.py`). Only this driver writes the
step's output.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from engine.changeset import Change, ChangeSet, StepChanges
from engine.connectors import Record
from engine.errors import ConnectorError
from engine.phones import PhonesAhead
from engine.plan import Plan, Step
from engine.records import batched, get_path
from engine.run.context import RunContext
from engine.run.create import Creator
from engine.run.delete import decide_delete
from engine.run.keys import KeyIndex
from engine.run.ledger import Ledger
from engine.run.outcomes import CreateFor, Decided, DeleteFor, Left, PairUp, Route, as_change
from engine.run.packed import PackedRecords
from engine.run.pair import Pairing
from engine.run.read import SideReader
from engine.run.router import ROUTERS, Router
from engine.run.values import Values
from engine.spool import collector_paused

BATCH = 2000  # source records decided together: their partners are fetched in one call per type


def run(plan: Plan, steps: Iterable[Step], context: RunContext) -> ChangeSet:
    """Decide the steps of a plan (a dry run: nothing is written anywhere)."""
    changeset = ChangeSet(job=context.job, plan_hash=plan.hash)
    for step in steps:
        changeset.steps.append(run_step(step, context))
    return changeset


def run_step(step: Step, context: RunContext) -> StepChanges:
    with collector_paused():
        return StepDriver(step, context).decide()


class StepDriver:
    """One step of one run: reads both sides, acts on the router's routes, writes the output."""

    def __init__(self, step: Step, context: RunContext):
        self.step, self.context = step, context
        self.out = StepChanges(
            step.name, connections={"source": step.source.connection, "target": step.target.connection}
        )
        self.links = context.links(step.name)
        self.ledger = Ledger()
        self.refreshed: dict[str, set[str]] = {"source": set(), "target": set()}  # ids read, see `read`
        self.keys = KeyIndex(step, context, self.refreshed)
        self.router: Router = ROUTERS[context.router](step, context, self.keys, self.ledger, self.links)
        values = Values(step, context)
        self.pairing, self.creator = Pairing(step, values), Creator(step, context, values)
        # the links this run plans are kept (for the steps translating ids through them) only if used
        self.plans_links = context.plan.translates_through(step.name)
        self.from_watermark: dict[str, bool] = {}  # side -> read every change since the last run

    def read(self, side: str) -> Iterator[Record]:
        """The side's records (see ``read.py``), each noted for the fingerprint as it passes."""
        reader = SideReader(self.step, side, self.context, self.links, self.refreshed[side])
        self.from_watermark[side] = reader.from_watermark
        phase, meter = f"{self.step.name}: read {self.out.connections[side]}", self.context.meter
        meter.start(phase, reader.total() if meter.shows_totals else None)
        # every id is kept where stored keys of records read again must be told from this run's rows
        every = self.keys.stored[side]
        for record in reader.records():
            meter.advance(phase)
            if reader.noted(record.id, every):
                self.refreshed[side].add(record.id)
            if self.context.fingerprinted:
                self.out.saw(side, record.id, record.modified)
            yield record
        meter.finish(phase)
        self.out.read[side] = reader.mark.count
        self.out.warnings += reader.mark.warnings
        if reader.mark.watermark is not None:
            self.out.watermarks[side], self.out.seen[side] = reader.mark.watermark, reader.mark.seen

    def indexed(self, side: str, records: Iterable[Record]) -> Iterator[Record]:
        """Records indexed by their match keys (which apply saves) as they pass."""
        for record in records:
            keys = self.keys.add(side, record)
            if self.context.applying:
                self.out.keys[side].append((record.type, record.id, record.modified, keys))
            yield record

    def decide(self) -> StepChanges:
        """The target side is read whole first (its keys are what source records match), then
        the source side streams through in batches, then the target records no source record
        reached. Only one batch of source records is in memory at a time. In each pass, a
        helper process parses the phone numbers of the next batch's match keys."""
        self.check_declared_fields()
        with PhonesAhead(self.context.plan.defaults.phone_region) as phones:
            targets = PackedRecords()
            for batch in phones.batches(batched(self.read("target"), BATCH), self.phone_fields("target")):
                for record in self.indexed("target", batch):
                    targets.add(record)
                self.keys.forget("target")  # worked out again if its pass asks
            self.router.targets_read(targets, self.from_watermark.get("target", False))
            for batch in phones.batches(batched(self.read("source"), BATCH), self.phone_fields("source")):
                self.act(self.router.routes("source", list(self.indexed("source", batch))))
            handled = self.ledger.handled_targets
            unhandled = (targets[target_id] for target_id in targets if target_id not in handled)
            for batch in phones.batches(batched(unhandled, BATCH), self.phone_fields("target")):
                self.act(self.router.routes("target", batch))
        self.act(self.router.finish())
        self.finish(len(targets))
        return self.out

    def phone_fields(self, side: str) -> list[Callable[[Mapping[str, Any]], Any]]:
        """Where the records of a side keep the numbers of its phone match keys."""
        keys = [key for key in self.step.match if key.normalize == "phone"]
        if side == "source":
            return [key.source for key in keys]
        return [functools.partial(_field, name) for key in keys for name in key.target_fields]

    def finish(self, targets_read: int) -> None:
        """What the next run needs to know: the records to read again, and where reading starts."""
        self.out.warnings += self.router.warnings(self.out.read.get("source", 0), targets_read)
        self.out.decided = self.ledger.decided
        self.out.unsure_targets |= {  # read, but their pair never got to agree: read them next time
            link.source_id
            for target_id in self.refreshed["target"]
            if (link := self.links.by_target.get(target_id)) and target_id not in self.ledger.agreed_targets
        }
        for side, floor in self.ledger.waiting.items():  # records waiting for a parent are read again
            current = self.out.watermarks.get(side)
            self.out.watermarks[side] = min(current, floor) if current else floor
            self.out.seen.pop(side, None)
        if self.context.flow:
            self.out.watermarks.clear()  # changes flowing the other way are still to be synced
            self.out.seen.clear()

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

    def act(self, routes: Iterable[Route]) -> None:
        """Decide each route and write what it came to (each is acted on before the next is made)."""
        for route in routes:
            if isinstance(route, PairUp):
                self.pair(route)
            elif isinstance(route, CreateFor):
                self.create(route)
            elif isinstance(route, DeleteFor):
                self.delete(route)
            else:
                self.leave(route)

    def pair(self, route: PairUp) -> None:
        decided = self.pairing.decide(route)
        if not isinstance(decided, Decided):
            self.leave(Left(decided))
            return
        self.take(decided)
        self.ledger.paired_sources.add(route.source.id)
        if decided.agreed_target is not None:
            self.ledger.agreed_targets.add(decided.agreed_target)
        if decided.unsure_source is not None:
            self.out.unsure_targets.add(decided.unsure_source)
        if decided.shared_target is not None:
            self.act(self.router.pair_sharers(decided.shared_target, skip=route.source.id))

    def create(self, route: CreateFor) -> None:
        decided = self.creator.decide(route)
        if not isinstance(decided, Decided):
            self.leave(Left(decided))
            return
        other = "source" if route.side == "target" else "target"
        self.keys.partner_created(other, route.origin)  # see Matcher.shares_key
        if route.side == "source":
            self.ledger.handled_targets.add(route.origin.id)
        self.take(decided)

    def delete(self, route: DeleteFor) -> None:
        sharers = self.links.sources_of(route.other_id) if route.side == "source" else []
        deletion = decide_delete(
            self.step, route.side, route.record, route.other_type, route.other_id, route.source_id, sharers
        )
        self.out.unlinks.append(deletion.unlink)
        if deletion.handled_target is not None:
            self.ledger.handled_targets.add(deletion.handled_target)
        self.write(() if deletion.change is None else (deletion.change,))

    def leave(self, left: Left) -> None:
        if left.outcome is not None:
            self.write((as_change(self.step.name, left.outcome),))
        if left.unlink is not None:
            self.out.unlinks.append(left.unlink)

    def take(self, decided: Decided) -> None:
        """A decision's changes, the agreed values apply saves (a dry run saves none), its link."""
        self.write(decided.changes)
        if decided.pair is not None and self.context.applying:
            self.out.pairs.append(decided.pair)
        if decided.link is not None and self.plans_links:
            self.links.plan(*decided.link)

    def write(self, changes: Iterable[Change]) -> None:
        """The one writer of changes, skips and holds to the step's output."""
        for change in changes:
            self.out.add(change)


def _field(name: str, values: Mapping[str, Any]) -> Any:
    return get_path(values, name)

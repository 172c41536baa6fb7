"""Apply: execute a step's ChangeSet through the connectors, journaled, in batches.

Every write is recorded in the journal before it is sent; its outcome, the ids of the records it
created and their links are saved together once its answer arrives, so a process killed at any
moment leaves a trail: on the next start ``reconcile`` settles the writes whose answer never came
(finding what they created by the id syncmap gave, the match keys or the values written) and
links them instead of creating them again. A failing record never stops the run: it goes to the
dead-letter list and is read again on the next run.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from engine.changeset import Change, PairState, StepChanges
from engine.connectors import Connector, Write, WriteResult, capabilities
from engine.errors import ApiBudgetError, SyncmapError
from engine.expressions import field_path
from engine.normalize import match_key_values, normalize_key
from engine.plan import Step
from engine.records import batched
from engine.redact import shorten
from engine.run import RunContext
from engine.state import Link, now

WRITE_ORDER = {"create": 0, "update": 1, "delete": 2}
T = TypeVar("T")


@dataclass
class StepReport:
    step: str
    written: int = 0
    failed: list[tuple[Change, str]] = field(default_factory=list)
    failed_pairs: set[str] = field(default_factory=set)  # source ids (or record ids) of failed writes


def _record_outcomes(
    context: RunContext, step: Step, side: str,
    outcomes: Iterable[tuple[Change, WriteResult, list[tuple[int, str]]]], report: StepReport, created: Created,
) -> None:  # fmt: skip
    """A batch's links and the match keys of the records it created, in a few statements; a
    failed write is a dead letter of the record it came from, read again next run. A record
    syncmap created is not read back (nobody changed it since), yet a record arriving later
    with its key must find it, not make a duplicate: its keys come from the values written
    (worked out while the write was in flight)."""
    state, job, stamp = context.state, context.job, now()
    for chunk in batched(outcomes, 10_000):  # a Bulk job's outcomes are saved a chunk at a time
        written, links, keys = [], [], []
        for change, result, new_keys in chunk:
            if result.ok:
                written.append(change)
                if change.action == "create":
                    created.add(change, result.id)
                    links.append(created_link(side, change.record_type, change.origin or "", change.source_id,
                                              result.id, f"created:{side}"))  # fmt: skip
                    keys.append((change.record_type, result.id, stamp, new_keys))
            else:
                error = shorten(result.error or "failed", 1000)
                report.failed.append((change, error))
                report.failed_pairs.add(
                    change.source_id or change.record_id or result.id or change.planned_id or ""
                )
                origin = _origin_id(change)
                state.dead_letter(job, step.name, _other(side), origin, error, change.action, change.record_type)
        report.written += len(written)
        state.clear_dead_letters(job, step.name, _other(side), (_origin_id(change) for change in written))
        state.save_links(job, step.name, links, new_targets=side == "target")
        state.save_keys(job, step.name, side, keys, new_records=True)

def apply_step(
    changes: StepChanges,
    step: Step,
    context: RunContext,
    run_id: int,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> StepReport:
    """Write one step's changes, then record links, agreed values, watermarks and when each
    side was written to. Each side's connector gets as many writes at once as it takes
    (``write_batch_size``: a Bulk job's worth for Salesforce) unless ``batch_size`` says fewer."""
    sending = Sending(step, context, run_id, StepReport(step.name))
    report, created, windows = sending.report, sending.created, sending.windows
    _within_budget(changes, step, context, run_id)
    sending.chores.append(lambda: _save_read_keys(changes, step, context))
    sending.send_all(changes, batch_size, progress)
    sending.do_chores()
    _give_new_ids_to_keys(changes, step, context, created, report, windows)
    with context.state.transaction():
        _still_ours(context)
        _record_pairs(changes, step, context, created, report.failed_pairs)
        for side, value in changes.watermarks.items():
            context.state.save_watermark(context.job, step.name, side, value, changes.seen.get(side, {}))
        for (side, creates), (started, ended) in windows.items():
            context.state.save_own_write(context.job, step.name, side, started, ended, creates)
        for side in ("source", "target"):  # a person's decisions this run took
            decided = [record_id for decided_side, record_id in changes.decided if decided_side == side]
            context.state.applied_decisions(context.job, step.name, side, decided, run_id)
        held = (c for c in changes.notes if c.action == "conflict" and c.record_id)
        context.state.save_holds(
            context.job,
            step.name,
            [(c.side, c.record_type, c.record_id, c.code, c.reason or "", c.candidates) for c in held],
        )
    context.links_saved(step.name)
    return report


@dataclass
class Sending:
    """A step's writes as they are sent, a batch at a time: each journaled, written, and its
    outcome recorded. (A batch is a Bulk job's worth: it is let go once its outcomes are saved.)"""

    step: Step
    context: RunContext
    run_id: int
    report: StepReport
    created: Created = field(default_factory=lambda: Created())
    windows: dict[tuple[str, bool], tuple[str, str]] = field(default_factory=dict)  # see `_write_timed`
    chores: list[Callable[[], None]] = field(default_factory=list)  # done while a write is in flight

    def send_all(
        self, changes: StepChanges, batch_size: int | None, progress: Callable[[int], None] | None
    ) -> None:
        started: set[str] = set()  # the write phases the meter shows
        for side, connector, record_type, batch in _write_batches(changes, self.step, self.context, batch_size):
            self.send(side, connector, record_type, batch)
            if progress:
                progress(len(batch))
            phase = f"{self.step.name}: write {changes.connections.get(side, side)}"
            if phase not in started:
                started.add(phase)
                self.context.meter.start(
                    phase, sum(n for (written, _), n in changes.written.items() if written == side)
                )
            self.context.meter.advance(phase, len(batch))

    def send(self, side: str, connector: Connector, record_type: str, batch: list[Change]) -> None:
        """Journal a batch, write it, record its outcomes. While the write is in flight (in a
        thread of its own, where the connector allows), the chores are done and the keys of
        the records it creates worked out."""
        context = self.context
        with context.state.transaction():
            _still_ours(context)
            refs = context.state.journal_intents(context.job, self.step.name, self.run_id, [_intent(c) for c in batch])
        writes = [
            Write(ref, change.action, change.record_type, change.record_id, change.values)
            for ref, change in zip(refs, batch, strict=True)
        ]
        answers = in_background(
            lambda: _write_timed(self.windows, side, connector, record_type, writes),
            capabilities(connector).writes_in_a_thread,
        )
        self.do_chores()
        region = context.plan.defaults.phone_region
        new_keys = [_keys_of(self.step, side, c.values, region) if c.action == "create" else [] for c in batch]
        results = answers()
        # recorded even if the lease was lost meanwhile: these writes happened, and whoever runs
        # the job next must know of them
        with context.state.transaction():
            # a write whose outcome is unknown stays pending: the next run looks for its record
            context.state.journal_settle(
                (ref, "done" if r.ok else "failed", r.id) for ref, r in zip(refs, results, strict=True) if not r.unknown
            )
            outcomes = zip(batch, results, new_keys, strict=True)
            _record_outcomes(context, self.step, side, outcomes, self.report, self.created)

    def do_chores(self) -> None:
        """The work left that waits on no answer, each done once."""
        while self.chores:
            self.chores.pop(0)()


@dataclass
class Created:
    """The ids of the records a step created, found by what its pairs know before the write: a
    target record by its source's id, a source record by its origin (the target record it was
    made for), since the source may choose the new id itself."""

    for_source: dict[str, str] = field(default_factory=dict)  # source id -> new target id
    for_target: dict[str, str] = field(default_factory=dict)  # "<type> <id>" of a target -> new source id
    def add(self, change: Change, new_id: str) -> None:
        if change.side == "target":
            self.for_source[change.source_id or new_id] = new_id
        else:
            self.for_target[change.origin or new_id] = new_id

    def source_id(self, pair: PairState) -> str | None:
        """The id of the source record a pair's create made (None when it failed)."""
        return self.for_target.get(f"{pair.target_type} {pair.target_id}")


def write_counts(changes: StepChanges, step: Step) -> dict[str, Counter[tuple[str, str]]]:
    """A step's writes counted per connection, by (record type, operation): what their API
    calls are estimated from."""
    counts: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for (side, record_type, action), count in changes.writes_by_type.items():
        connection = step.target.connection if side == "target" else step.source.connection
        counts[connection][(record_type, action)] += count
    return counts


def _within_budget(changes: StepChanges, step: Step, context: RunContext, run_id: int) -> None:
    """Stop before a step's first write when its writes would spend calls an org keeps for
    others (a connector that knows its org's daily usage says how many are left), counting the
    calls the runs of other jobs writing to that org reserved and have not spent yet; then
    reserve this step's, until its run ends (every worker's runs share one store)."""
    counts = write_counts(changes, step)
    for connection, counted in counts.items():
        connector = capabilities(context.connector(connection))
        left = connector.calls_left()
        if left is None:
            continue
        needed, (calls_left, used, limit, reserve) = connector.write_calls(counted), left
        org = connector.budget_name() or connection
        with context.state.transaction():  # one run reserves at a time
            others = context.state.reserved_calls(org, context.job, run_id)
            if needed > calls_left - others:
                held = f", {others} of them reserved by runs under way" if others else ""
                raise ApiBudgetError(
                    f"`{connection}`: the writes of {step.name} need about {needed} API calls, and the org has "
                    f"{max(calls_left, 0)} left before the {reserve} it keeps for others ({used} of {limit} used "
                    f"today{held}); nothing was written",
                    hint="the next run after the org's daily count resets (or the runs under way end) goes on; "
                    "`api_reserve` on the connection sets what is kept for others",
                )
            context.state.reserve_calls(org, context.job, run_id, needed)


def _still_ours(context: RunContext) -> None:
    """Checked inside each transaction that writes: the run still holds the job's lease, and the
    job was not deleted meanwhile (what this run still holds must not bring it back)."""
    if context.lease is not None:
        context.lease.check()
    status = context.state.job_status(context.job)
    if status is not None and status[0] == "deleted":
        raise SyncmapError(
            f"{context.job} was deleted during the run: it stopped, and remembers nothing",
            hint=f"the records written so far stay; `syncmap resume {context.job}` starts a new initial sync",
        )


def _give_new_ids_to_keys(
    changes: StepChanges,
    step: Step,
    context: RunContext,
    created: Created,
    report: StepReport,
    windows: dict[tuple[str, bool], tuple[str, str]],
) -> None:
    """A target record created for a source record gives its new id to the source's key field
    when the key is the target's id (Totango's External ID <- Task Id): another job sharing that
    key (the inbound half of a two-way sync) then matches the pair instead of creating it again."""
    region = context.plan.defaults.phone_region
    keys = [(key, path[0]) for key in step.match if (path := field_path(key.source.text)) and len(path) == 1]
    created_types = {kind for side, kind, action in changes.writes_by_type if (side, action) == ("target", "create")}
    id_keys = {  # by the record type created: the keys that are its id
        kind: found
        for kind in created_types
        if (id_field := context.describe(step.target.connection, kind).id_field)
        and (found := [(key, name) for key, name in keys if id_field in key.target_fields])
    }
    if not id_keys or not created.for_source:
        return
    writes: dict[str, list[Write]] = defaultdict(list)
    for change in changes.writes:
        new_id = created.for_source.get(change.source_id or "")
        if change.action != "create" or change.side != "target" or new_id is None:
            continue
        for key, field_name in id_keys.get(change.record_type, ()):
            source_type = (change.origin or "").partition(" ")[0]
            value = normalize_key(new_id, key.normalize, region)
            writes[source_type].append(Write(f"key:{change.source_id}", "update", source_type, change.source_id,
                                             {field_name: value}))  # fmt: skip
    connector = context.connector(step.source.connection)
    for source_type, batch in writes.items():
        results = _write_timed(windows, "source", connector, source_type, batch)
        for write, result in zip(batch, results, strict=True):
            if not result.ok:
                report.failed.append(
                    (
                        Change(step.name, "update", "source", source_type, write.id),
                        shorten(result.error or "failed", 1000),
                    )
                )


def _write_batches(
    changes: StepChanges, step: Step, context: RunContext, batch_size: int | None
) -> Iterator[tuple[str, Connector, str, list[Change]]]:
    """(side, its connector, record type, batch) of the writes: creates, then updates, then
    deletes, the target side first; a batch holds one action on one record type, as many as the
    side's connector takes. One pass over the spool per group (the groups are those the writes
    were counted by), so only a batch is in memory."""
    connectors = {
        "source": context.connector(step.source.connection),
        "target": context.connector(step.target.connection),
    }
    sizes = {side: batch_size or capabilities(c).write_batch_size for side, c in connectors.items()}
    groups = sorted(
        (group for group, count in changes.writes_by_type.items() if count and group[2] in WRITE_ORDER),
        key=lambda group: (WRITE_ORDER[group[2]], group[0] != "target", group[1]),
    )
    for group in groups:
        members = (c for c in changes.writes if (c.side, c.record_type, c.action) == group)
        for batch in batched(members, sizes[group[0]]):
            yield group[0], connectors[group[0]], group[1], batch


def _intent(change: Change) -> tuple[str, str, str, str, str | None, dict[str, Any]]:
    """A change as the journal records it before it is sent."""
    payload = {"source_id": change.source_id, "planned_id": change.planned_id, "values": change.values}
    return change.action, change.side, change.record_type, change.origin or "", change.record_id, payload


def _record_pairs(
    changes: StepChanges, step: Step, context: RunContext, created: Created, failed: set[str]
) -> None:
    state, job = context.state, context.job
    for source_id in changes.unlinks:
        if source_id:
            state.drop_link(job, step.name, source_id)
    for pairs in batched(changes.pairs, 10_000):  # read from the spool a chunk at a time
        links, agreed = [], []
        for pair in pairs:
            if pair.source_id in failed:
                continue
            if pair.made_by == "created:source":
                source_id = created.source_id(pair)
                if source_id is None:
                    continue
                target_id = pair.target_id
            else:
                source_id = pair.source_id
                target_id = pair.target_id or created.for_source.get(pair.source_id)
                if target_id is None:
                    continue
            if not pair.made_by.startswith("created:"):  # a created record's link is saved with its outcome
                links.append(Link(pair.source_type, source_id, pair.target_type, target_id, pair.made_by))
            agreed.append((source_id, pair.synced, pair.target_known))
        state.save_links(job, step.name, links)
        state.save_snapshots(job, step.name, agreed)
    state.forget_targets(job, step.name, changes.unsure_targets | failed)


def _save_read_keys(changes: StepChanges, step: Step, context: RunContext) -> None:
    """The match keys of the records read, for matching in later runs. They need no write's
    answer, and a run stopped after saving them reads the same records again and saves them
    over: so they are saved while the first write is in flight."""
    with context.state.transaction():
        _still_ours(context)
        for side in ("source", "target"):
            context.state.save_keys(context.job, step.name, side, changes.keys[side])


def _keys_of(step: Step, side: str, values: Mapping[str, Any], region: str | None) -> list[tuple[int, str]]:
    return [(i, key) for i, _, key in match_key_values(step.match, side, values, region) if key is not None]


def _origin_id(change: Change) -> str:
    """The id of the record a change comes from (`<type> <id>`: an id may hold spaces)."""
    return (
        change.origin.partition(" ")[2]
        if change.origin and " " in change.origin
        else (change.record_id or "")
    )


def _other(side: str) -> str:
    return "source" if side == "target" else "target"


def created_link(
    side: str, record_type: str, origin: str, source_id: str | None, new_id: str, made_by: str
) -> Link:
    """The link of a record created for ``origin`` (`<type> <id>` on the other side), saved at
    once so a run killed later in its step finds it by id. Its agreed values are saved with the
    step's end; without them the pair is decided as a first match, which never blanks a value."""
    origin_type, _, origin_id = origin.partition(" ")
    if side == "target":
        return Link(origin_type, source_id or origin_id, record_type, new_id, made_by)
    return Link(record_type, new_id, origin_type, origin_id, made_by)


def in_background(work: Callable[[], T], threaded: bool) -> Callable[[], T]:
    """Start ``work`` in a thread of its own (unless not ``threaded``: then it is done now); the
    call returned waits for its result (or raises its error). The thread is a daemon: a process
    stopped meanwhile does not wait for an org's job to end (the journal knows what was sent)."""
    if not threaded:
        result = work()
        return lambda: result
    done: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            done.append((True, work()))
        except BaseException as e:
            done.append((False, e))

    thread = threading.Thread(target=run, name="syncmap write", daemon=True)
    thread.start()

    def answer() -> T:
        thread.join()
        ok, value = done[0]
        if not ok:
            raise value
        return value

    return answer


def _write_timed(
    windows: dict[tuple[str, bool], tuple[str, str]],
    side: str,
    connector: Connector,
    record_type: str,
    writes: list[Write],
) -> list[WriteResult]:
    """Write, widening the side's window to cover this call: from the first write sent to the
    last answer received, the span in which the side's records carry syncmap's own changes.
    Creates have windows of their own (apply makes them before any update): a record created
    then has no change of anyone else's before syncmap's, so nothing is missed by leaving out
    what syncmap created there, unchanged since."""
    key = (side, all(write.op == "create" for write in writes))
    started = windows.get(key, (now(), ""))[0]
    results = connector.write(record_type, writes)
    windows[key] = (started, now())
    return results

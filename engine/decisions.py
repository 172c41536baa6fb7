"""A person's decisions on held records (`syncmap resolve`): made on a record the last run held,
kept in the state store for the next run to take (`run/decided.py`), and undone: a decision not
taken yet is dropped; a link it made goes too, so the next run decides the record afresh."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from engine.errors import UsageError
from engine.expressions import field_path
from engine.job import Job
from engine.plan import Step
from engine.state import Decision, StateStore

KINDS = ("link", "create", "keep_source", "keep_target", "ignore")
PROMISES = {
    "link": "the next run links {record} to {candidate}",
    "create": "the next run creates a partner for {record}",
    "keep_source": "the next run pairs {record}, its own values kept where they differ",
    "keep_target": "the next run pairs {record}, its partner's values kept where they differ",
    "ignore": "runs leave {record} alone until the decision is undone",
}


def decide(
    state: StateStore, job: str, record: str, kind: str, candidate: str | None, step: str | None
) -> dict[str, Any]:
    """Decide on a record the last run held (``record``: its id, or `Type id`)."""
    holds = [
        hold
        for hold in state.holds(job, step)
        if record in (hold["record_id"], f"{hold['record_type']} {hold['record_id']}")
    ]
    if not holds:
        raise UsageError(
            f"{job} holds no record `{record}`: nothing to decide",
            hint=f"`syncmap conflicts {job}` lists what it holds",
        )
    if len({(hold["step"], hold["side"]) for hold in holds}) > 1:
        raise UsageError(f"`{record}` is held in several objects of {job}", hint="say which with `--object`")
    hold = holds[0]
    decision = Decision(hold["step"], hold["side"], hold["record_id"], kind, candidate)
    with state.transaction():
        state.decide(job, decision)
    shown = f"{hold['record_type']} {hold['record_id']}"
    return {
        **_as_dict(decision),
        "held_for": hold["code"],
        "said": PROMISES[kind].format(record=shown, candidate=candidate),
    }


def undo(state: StateStore, job: str, record: str, step: str | None) -> dict[str, Any]:
    """Take back the decision on a record; a link it made is dropped, so the next run decides it afresh."""
    made = [d for d in state.decisions(job, step) if d.record_id == record]
    if not made:
        raise UsageError(
            f"no decision on `{record}` in {job}: nothing to undo",
            hint=f"`syncmap conflicts {job}` lists what it holds",
        )
    decision = made[-1]
    with state.transaction():
        state.undecide(job, decision.step, decision.side, decision.record_id)
        unlinked = decision.applied_run is not None and decision.kind != "ignore"
        if unlinked:  # the link the decision made: the record's own, on its side
            for link in state.links_of_record(job, decision.step, decision.record_id):
                if (link.source_id if decision.side == "source" else link.target_id) == decision.record_id:
                    state.drop_link(job, decision.step, link.source_id)
    return {**_as_dict(decision), "undone": True, "unlinked": unlinked}


def with_values(job: Job, holds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The held records with their values, and their candidates' values, read from the systems:
    one call per connection and record type, however many records are held. The values are those
    the mapping reads or writes on each side (a record's system fields decide nothing)."""
    steps = {step.name: step for step in job.plan.steps}
    refs: list[tuple[dict, tuple[str, str, str], list[tuple[str, tuple[str, str, str]]]]] = []
    for hold in holds:
        if (step := steps.get(hold["step"])) is None:
            continue  # an object the document no longer has
        here, there = (step.source, step.target) if hold["side"] == "source" else (step.target, step.source)
        own = (here.connection, hold["record_type"], hold["record_id"])
        others = [(c, (there.connection, *c.split(" ", 1))) for c in hold["candidates"]]
        refs.append((hold, own, others))
    shown = {(step.name, side): mapped_fields(step, side) for step in steps.values() for side in ("source", "target")}
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)  # (connection, type) -> ids
    for _, own, others in refs:
        for connection, kind, record_id in [own, *(ref for _, ref in others)]:
            wanted[(connection, kind)].add(record_id)
    found = {
        (connection, kind, record_id): record.values
        for (connection, kind), ids in wanted.items()
        for record_id, record in job.connectors[connection].get(kind, sorted(ids)).items()
    }
    decided = {}
    for hold, own, others in refs:
        here, there = hold["side"], "target" if hold["side"] == "source" else "source"
        decided[id(hold)] = {
            **hold,
            "values": _only(found.get(own), shown[(hold["step"], here)]),
            "candidate_values": {c: _only(found.get(ref), shown[(hold["step"], there)]) for c, ref in others},
        }
    return [decided.get(id(hold), hold) for hold in holds]


def mapped_fields(step: Step, side: str) -> list[str]:
    """The fields of a side the step's match keys and fields name, in the document's order."""
    if side == "target":
        names = [name for key in step.match for name in key.target_fields] + [rule.target for rule in step.fields]
    else:
        expressions = [key.source for key in step.match] + [rule.source for rule in step.fields if rule.source]
        names = [path[0] for expression in expressions if (path := field_path(expression.text))]
    return list(dict.fromkeys(names))


def _only(values: dict[str, Any] | None, names: list[str]) -> dict[str, Any] | None:
    return None if values is None else {name: values.get(name) for name in names if name in values}


def _as_dict(decision: Decision) -> dict[str, Any]:
    return {"step": decision.step, "side": decision.side, "record_id": decision.record_id, "decision": decision.kind,
            "candidate": decision.candidate, "applied_run": decision.applied_run}  # fmt: skip

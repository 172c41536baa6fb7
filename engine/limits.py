"""Limits that stop a bad run before it writes: an object's creates, updates or deletes on one
side, at most a number or a percentage of the records that side holds (`limits:` of the document,
overridden per object). Deletes have a limit even when none is written: a run deleting more than
a tenth of a side (past ten records) is more often a wrong filter than a wish."""

from __future__ import annotations

from engine import model, plan
from engine.changeset import WRITES, StepChanges
from engine.errors import OverLimitError
from engine.run.links import StepLinks

DEFAULT_DELETES = "10%"
DEFAULT_DELETES_FLOOR = 10  # the default never stops a run deleting this few


def compiled(job: model.Limits | None, obj: model.Limits | None) -> plan.Limits | None:
    """An object's limits: its own, else the document's, kind by kind."""
    merged = {}
    for kind in ("creates", "updates", "deletes"):
        own = getattr(obj, kind, None)
        merged[kind] = own if own is not None else getattr(job, kind, None)
    return plan.Limits(**merged) if any(value is not None for value in merged.values()) else None


def check(changes: StepChanges, step: plan.Step, links: StepLinks) -> None:
    """Refuse the step's writes when one kind on one side crosses its limit. A percentage is of
    the records the side is known to hold: those read (in full), or those linked."""
    linked = {"source": len(links.by_source), "target": len(links.by_target)}
    held = {side: max(changes.read.get(side, 0), count) for side, count in linked.items()}
    limits = step.limits or plan.Limits()
    for (side, action), count in sorted(changes.written.items()):
        limit = getattr(limits, action + "s") if action in WRITES else None
        default = limit is None and action == "delete"
        if default:
            limit = DEFAULT_DELETES
        if limit is None or (default and count <= DEFAULT_DELETES_FLOOR):
            continue
        base = held.get(side, 0)
        allowed = base * float(limit[:-1]) / 100 if isinstance(limit, str) else limit
        if count > allowed:
            connection = changes.connections.get(side, side)
            share = f" of the {base:,} it holds" if isinstance(limit, str) else ""
            raise OverLimitError(
                f"`{step.name}` would {action} {count:,} records in {connection}{share}, over its limit of "
                f"{limit}{' (the default)' if default else ''}: nothing of it was written",
                hint="check what `syncmap plan` shows; if it is right, `syncmap apply --allow-over-limits`, "
                f"or raise `limits: {{{action}s: ...}}`",
            )

"""A deletion read on one side: the pair's link goes, and the record on the other side is
deleted too when the document's `deletes:` policy for that way says `propagate`."""

from __future__ import annotations

from dataclasses import dataclass

from engine.changeset import Change
from engine.connectors import Record
from engine.plan import Step
from engine.state import Link


@dataclass(frozen=True)
class Deletion:
    """What a deletion decided: the link to drop (by its source id), the target record it
    settles for this run (when the deletion was read on the source side), and the delete to
    make on the other side, if any."""

    unlink: str | None
    handled_target: str | None = None
    change: Change | None = None


def decide_delete(
    step: Step, side: str, record: Record, other_type: str, other_id: str, source_id: str | None,
    sharers: list[Link],
) -> Deletion:  # fmt: skip
    """``sharers``: every source record linked to the target record (`link_all`)."""
    other = "target" if side == "source" else "source"
    policy = step.deletes.to_target if other == "target" else step.deletes.to_source
    handled = other_id if other == "target" else None
    if other == "target" and any(link.source_id != source_id for link in sharers):
        return Deletion(source_id, handled)  # other source records still share the target: it stays
    if policy != "propagate":
        return Deletion(source_id, handled)
    origin = f"{record.type} {record.id} (deleted)"
    change = Change(step.name, "delete", other, other_type, other_id, origin=origin, source_id=source_id)
    return Deletion(source_id, handled, change)

"""What a step decides of a record when it writes nothing to it: a skip (not synced now, and why)
or a hold (a conflict kept for a person or a rule to decide). Values, made where the decision
is; only the step driver's `emit()` writes them to the step's output."""

from __future__ import annotations

from typing import Any

import msgspec

from engine.changeset import Change, PairState, ReasonCode, Side
from engine.connectors import Record


class Skip(msgspec.Struct, frozen=True):
    side: Side  # where the record was read
    record_type: str
    record_id: str
    code: ReasonCode
    reason: str
    counted: bool = True  # records skipped for an unlinked parent are shown but not counted

    @classmethod
    def of(cls, side: Side, record: Record, code: ReasonCode, reason: str, counted: bool = True) -> Skip:
        return cls(side, record.type, record.id, code, reason, counted)


class Hold(msgspec.Struct, frozen=True):
    side: Side
    record_type: str
    record_id: str
    code: ReasonCode
    reason: str
    origin: str | None = None  # "<type> <id>" of the record on the other side it is held with
    candidates: tuple[str, ...] = ()  # "<type> <id>" of the records of the other side it could pair with


Outcome = Skip | Hold


class Matched(msgspec.Struct, frozen=True):
    """A partner found by a match key, and how the pair is made (`key:<name>`, `shared:<name>`)."""

    made_by: str
    partner_type: str
    partner_id: str


class NoMatch(msgspec.Struct, frozen=True):
    """No record of the other side holds one of the record's keys."""


class Waits(msgspec.Struct, frozen=True):
    """A record it matches is held already, or chosen for another: it waits, with nothing to say."""


Found = Matched | NoMatch | Waits | Hold  # what matching a record found


class PairUp(msgspec.Struct, frozen=True):
    """Two records to decide as a pair: linked already (`new` False, with the values the pair
    agreed on when last synced, if known) or matched in this run."""

    source: Record
    target: Record
    made_by: str
    new: bool
    agreed: dict[str, Any] | None = None
    first_match: str | None = None  # a person's policy for this pair's first match, over the step's


class CreateFor(msgspec.Struct, frozen=True):
    """No partner: one is to be created on `side` from `origin`, the record of the other side."""

    side: Side
    origin: Record


class DeleteFor(msgspec.Struct, frozen=True):
    """A deletion read on `side`: the link to the record of the other side goes (and maybe that record)."""

    side: Side
    record: Record
    other_type: str
    other_id: str
    source_id: str


class Left(msgspec.Struct, frozen=True):
    """A record left alone: its skip or hold (None when said already), and a link to drop."""

    outcome: Outcome | None = None
    unlink: str | None = None


Route = PairUp | CreateFor | DeleteFor | Left  # what a router says to do with a record


class Decided(msgspec.Struct, frozen=True):
    """What deciding a pair or a create came to: the changes to make; the pair's values for
    apply to save; the link the run plans (source id, target id); and for a pair, whether the
    target ends holding exactly the agreed values (`agreed_target`), or a linked pair does not
    (`unsure_source`: read it again next run), and the target as this run leaves it when other
    source records share it (`link_all`: they are paired with it next)."""

    changes: tuple[Change, ...]
    pair: PairState | None = None
    link: tuple[str, str] | None = None
    agreed_target: str | None = None
    unsure_source: str | None = None
    shared_target: Record | None = None


def as_change(step: str, outcome: Outcome) -> Change:
    """An outcome as the step's output shows it."""
    if isinstance(outcome, Skip):
        return Change(step, "skip", outcome.side, outcome.record_type, outcome.record_id,
                      reason=outcome.reason, code=outcome.code, counted=outcome.counted)  # fmt: skip
    return Change(step, "conflict", outcome.side, outcome.record_type, outcome.record_id, reason=outcome.reason,
                  code=outcome.code, origin=outcome.origin, candidates=outcome.candidates)  # fmt: skip

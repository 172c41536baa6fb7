"""A person's decisions on held records (`syncmap resolve`), taken before a record is matched:
link it to the candidate named, create its partner, or leave it alone for good; `keep_source`
and `keep_target` decide the differing values of its first match instead of holding it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from engine.connectors import Record
from engine.plan import FLOWS, Step
from engine.run.context import RunContext
from engine.run.ledger import Ledger
from engine.run.outcomes import CreateFor, Left, Route, Skip
from engine.run.partners import Partners
from engine.state import Decision

OTHER = {"source": "target", "target": "source"}
POLICIES = {"keep_source": "keep_source", "keep_target": "keep_target"}


class Resolutions:
    """The decisions of one step run, by the record they are about."""

    def __init__(self, step: Step, context: RunContext, partners: Partners, ledger: Ledger):
        self.step, self.partners, self.ledger = step, partners, ledger
        self.by_record = {(d.side, d.record_id): d for d in context.decisions(step.name)}

    def first_match(self, side: str, record_id: str) -> str | None:
        """The first-match policy a person chose for this record, if any."""
        decision = self.by_record.get((side, record_id))
        if decision is None or decision.kind not in POLICIES:
            return None
        self.ledger.decided.append((side, record_id))
        return POLICIES[decision.kind]

    def taken(self, side: str, record_id: str) -> Decision | None:
        """A decision that routes the record itself (link, create, ignore); noted as applied."""
        decision = self.by_record.get((side, record_id))
        if decision is None or decision.kind in POLICIES:
            return None
        self.ledger.decided.append((side, record_id))
        return decision

    def routes(
        self, decision: Decision, side: str, record: Record, pair_up: Callable[..., Iterator[Route]]
    ) -> Iterator[Route]:
        """What the decision says to do with the record (``pair_up``: the router's, which checks the pair)."""
        other = OTHER[side]
        if decision.kind == "ignore":
            yield Left(
                Skip.of(
                    side, record, "ignored", "ignored by a person (`syncmap resolve --undo` takes it back)"
                )
            )
        elif decision.kind == "create":
            if "to_" + other not in FLOWS[self.step.directions.create]:
                reason = f"a person chose to create its partner, but creating records in the {other} is off"
                yield Left(Skip.of(side, record, "create_disabled", reason))
            else:
                yield CreateFor(other, record)
        elif (partner := self.candidate(other, decision.candidate or "")) is None:
            reason = f"{decision.candidate}, the record a person chose to link it to, does not exist"
            yield Left(Skip.of(side, record, "partner_gone", reason))
        else:
            self.ledger.claimed[side].add(record.id)
            self.ledger.claimed[other].add(partner.id)
            if side == "source":
                self.ledger.handled_targets.add(partner.id)
            source, target = (record, partner) if side == "source" else (partner, record)
            yield from pair_up(source, target, "person", new=True)

    def candidate(self, side: str, candidate: str) -> Record | None:
        """The record a `--link` names: `Type id`, or an id of any of the side's types."""
        record_type, _, record_id = candidate.rpartition(" ")
        spec = self.step.source if side == "source" else self.step.target
        for kind in [record_type] if record_type else spec.types:
            if (found := self.partners.get(side, kind, record_id)) is not None:
                return found
        return None

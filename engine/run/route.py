"""The per-record router: what to do with each record read, the same way for either side. Its
link first, then the checks that leave it alone (filters, parent, priority), then its match
keys; it ends in a pair to decide, a partner to create, a deletion, or a record left alone.
It decides no values and writes nothing to the step's output: the step acts on its routes."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterator, Mapping

from engine.connectors import Record
from engine.match_tally import MatchTally
from engine.plan import FLOWS, Step
from engine.run.context import RunContext
from engine.run.decided import Resolutions
from engine.run.filter import Filters
from engine.run.keys import KeyIndex
from engine.run.ledger import Ledger
from engine.run.links import StepLinks
from engine.run.match import Matcher
from engine.run.outcomes import CreateFor, DeleteFor, Hold, Left, Matched, NoMatch, PairUp, Route, Skip
from engine.run.partners import Partners
from engine.state import Link

OTHER = {"source": "target", "target": "source"}


class RecordRouter:
    """Routes the records of one step run, one at a time. What it routes is acted on before it
    goes on (its routes are a generator), so each route sees the decisions before it."""

    def __init__(self, step: Step, context: RunContext, keys: KeyIndex, ledger: Ledger, links: StepLinks):
        self.step, self.keys, self.ledger, self.links = step, keys, ledger, links
        self.partners = Partners(step, context, keys, links.by_source)
        self.filters = Filters(step, context, keys)
        self.matcher = Matcher(step, keys, self.partners, ledger, links.by_source, links.by_target)
        self.resolutions = Resolutions(step, context, self.partners, ledger)
        self.match_tally = MatchTally()
        self.targets: Mapping[str, Record] = {}  # the target records read, by id
        self.stand_ins = False  # linked targets not read may be stood in for by their agreed values

    def targets_read(self, targets: Mapping[str, Record], every_change_read: bool) -> None:
        self.targets = targets
        self.partners.known["target"] = ChainMap(self.partners.known["target"], targets)  # type: ignore[arg-type]
        self.stand_ins = self.partners.may_stand_in(every_change_read)

    def routes(self, side: str, batch: list[Record]) -> Iterator[Route]:
        """The routes of a batch read on `side`: their partners are fetched first, one call per
        record type (for source records, linked targets may be stood in for by agreed values),
        and their pairs' agreed values in one call. Target records decided from the source side
        already are passed over."""
        if side == "source":
            self.partners.known["source"] = {record.id: record for record in batch}
            if self.stand_ins:
                self.partners.stand_in(batch)
            self.partners.prefetch("target", self.partners.wanted("source", batch, self.links.by_source))
        else:
            self.partners.prefetch("source", self.partners.wanted("target", batch, self.links.by_target))
        linked = [link.source_id for record in batch for link in self.links_of(side, record.id)]
        self.partners.read_agreed(linked)
        for record in batch:
            if side == "source" or record.id not in self.ledger.handled_targets:
                yield from self.route(side, record)
        self.keys.forget(side)
        self.filters.forget()
        self.partners.known["source"] = {}
        self.partners.agreed_values = {}

    def route(self, side: str, record: Record) -> Iterator[Route]:
        """What to do with a record read on `side`."""
        other = OTHER[side]
        if side == "source" and record.id in self.ledger.paired_sources:
            return
        if doubt := self.filters.create_in_doubt(side, record):
            yield Left(doubt)
            return
        links = self.links_of(side, record.id)
        link = links[0] if links else None
        if record.unreadable:
            if side == "source" and link:
                self.ledger.handled_targets.add(link.target_id)
            yield Left(Skip.of(side, record, "unreadable", record.unreadable))
            return
        if record.deleted:  # with `link_all`, every source record sharing a target loses its partner
            for link in links:
                other_type, other_id = _partner_of(side, link)
                yield DeleteFor(side, record, other_type, other_id, link.source_id)
            return
        if left := self.checks(side, record, link):
            yield left
            return
        if link:
            yield from self.linked(side, record, link)
            return
        if decision := self.resolutions.taken(side, record.id):  # a person decided (`syncmap resolve`)
            yield from self.resolutions.routes(decision, side, record, self.pair_up)
            return
        if invalid := self.filters.invalid_key(side, record):
            yield Left(invalid)
            return
        found = self.matcher.match(side, record)
        if self.keys.has_keys(side, record.id):
            self.match_tally.count(side, isinstance(found, Matched))
        if isinstance(found, Hold):
            yield Left(found)
        elif isinstance(found, Matched):
            partner = self.partners.get(other, found.partner_type, found.partner_id)
            if partner is None:
                yield from self.create_for(other, record)
                return
            if side == "source":
                self.ledger.handled_targets.add(partner.id)
            policy = self.resolutions.first_match(side, record.id)
            yield from self.pair_up(
                *_ordered(side, record, partner), found.made_by, new=True, first_match=policy
            )
        elif isinstance(found, NoMatch):
            yield from self.create_for(other, record)

    def checks(self, side: str, record: Record, link: Link | None) -> Left | None:
        """The reasons to leave a record alone before it looks for its partner."""
        if left := self.filtered(side, record, link.source_id if link else None):
            return left
        if self.step.parent and (skip := self.filters.parent_missing(side, record)):
            if self.step.parent.when_missing == "wait":
                self.read_again(side, record)
            return Left(skip)
        if side == "target":
            if outranked := self.filters.outranked(record):
                return Left(outranked)
            if record.id in self.ledger.held:
                return Left()
        return None

    def linked(self, side: str, record: Record, link: Link) -> Iterator[Route]:
        """A linked record pairs with its partner, fetched when this run did not read it."""
        other_type, other_id = _partner_of(side, link)
        if side == "source":
            target = self.targets.get(other_id)
            if target is not None and target.deleted:
                return  # the deletion is decided from the side where it happened
            self.ledger.handled_targets.add(other_id)
        partner = self.partners.get(OTHER[side], other_type, other_id)
        if partner is None:
            reason = f"linked {other_type} {other_id} no longer exists"
            yield Left(Skip.of(side, record, "partner_gone", reason))
            return
        yield from self.pair_up(*_ordered(side, record, partner), link.made_by, new=False)
        if side == "target":
            yield from self.pair_sharers(record)

    def filtered(self, side: str, record: Record, source_id: str | None) -> Left | None:
        """A record failing a filter of its side: the first time with its skip, then silently."""
        filtered = self.filters.filter(side, record, source_id)
        if filtered is not None:
            return Left(filtered.skip, filtered.unlink)
        return Left() if record.id in self.filters.failing else None

    def pair_up(
        self, source: Record, target: Record, made_by: str, new: bool, first_match: str | None = None
    ) -> Iterator[Route]:
        """A pair to decide, unless a partner could not be read or fails its own side's filters."""
        for side, record, partner in (("source", source, target), ("target", target, source)):
            if partner.unreadable:  # a pair is never decided on part of a record
                reason = f"{partner.type} {partner.id}, its partner, could not be read: {partner.unreadable}"
                yield Left(Skip.of(side, record, "unreadable", reason))
                return
        linked_id = None if new else source.id
        for side, record in (("source", source), ("target", target)):
            if left := self.filtered(side, record, linked_id):
                yield left
                return
        yield PairUp(
            source, target, made_by, new, None if new else self.partners.agreed(source.id), first_match
        )

    def pair_sharers(self, target: Record, skip: str | None = None) -> Iterator[Route]:
        """Pair the other source records sharing a target (`link_all`) with it as this run
        leaves it, so an update reaching the target flows to each of them too."""
        for link in self.links.sources_of(target.id):
            if link.source_id == skip or link.source_id in self.ledger.paired_sources:
                continue
            partner = self.partners.get("source", link.source_type, link.source_id)
            if partner is not None:
                yield from self.pair_up(partner, target, link.made_by, new=False)

    def create_for(self, side: str, origin: Record) -> Iterator[Route]:
        """A partner to create on `side`, unless creating there is off, or the origin shares a
        key with a record that has a partner already (`link_all` links it to that partner)."""
        if "to_" + side not in FLOWS[self.step.directions.create]:
            where = "the target" if side == "target" else "the source"
            reason = f"no match, and creating records in {where} is off"
            yield Left(Skip.of(OTHER[side], origin, "create_disabled", reason))
            return
        shared = self.matcher.shares_key(OTHER[side], origin)
        if shared is None:
            yield CreateFor(side, origin)
        elif side == "target" and self.step.conflicts.duplicates == "link_all":
            yield from self.join_shared(origin, *shared)

    def join_shared(self, record: Record, key: tuple[str, int, str], group: list[str]) -> Iterator[Route]:
        """`duplicates: link_all`: a source record sharing a key links to the target record of
        the first one; while that target is still to be created, it waits for the next run."""
        first_id = group[0].partition(" ")[2]
        link = self.links.by_source.get(first_id)
        name = self.matcher.key_name(key[1])
        if link is None:
            reason = f"shares its {name} with {group[0]}, whose new record it will link to; waiting"
            self.read_again("source", record)
            yield Left(Skip.of("source", record, "waiting_for_partner", reason, counted=False))
            return
        partner = self.partners.get("target", link.target_type, link.target_id)
        if partner is None:
            reason = f"linked {link.target_type} {link.target_id} no longer exists"
            yield Left(Skip.of("source", record, "partner_gone", reason))
            return
        self.ledger.handled_targets.add(partner.id)
        yield from self.pair_up(record, partner, f"shared:{name}", new=True)

    def finish(self) -> Iterator[Left]:
        """One conflict per record held for sharing a key, naming every record that shares it."""
        if self.step.conflicts.duplicates == "link_all":
            return
        for (side, index, value), group in self.ledger.sharing.items():
            for ref in (group or [])[1:]:
                record_type, _, record_id = ref.partition(" ")
                reason = self.matcher.shared_key_reason(side, index, value, group)
                yield Left(Hold(side, record_type, record_id, "duplicate_source_key", reason))

    def links_of(self, side: str, record_id: str) -> list[Link]:
        if side == "target":
            return self.links.sources_of(record_id)
        return [link] if (link := self.links.by_source.get(record_id)) else []

    def warnings(self, sources_read: int, targets_read: int) -> list[str]:
        return self.match_tally.warnings(self.step, sources_read, targets_read)

    def read_again(self, side: str, record: Record) -> None:
        """Keep the side's watermark at or before this record, so the next run reads it again."""
        if record.modified:
            current = self.ledger.waiting.get(side)
            self.ledger.waiting[side] = min(current, record.modified) if current else record.modified


def _partner_of(side: str, link: Link) -> tuple[str, str]:
    return (link.target_type, link.target_id) if side == "source" else (link.source_type, link.source_id)


def _ordered(side: str, record: Record, partner: Record) -> tuple[Record, Record]:
    """(source, target) of a record read on `side` and its partner."""
    return (record, partner) if side == "source" else (partner, record)

"""Matching a record to the other side by its match keys: a partner found, nothing, a conflict to
hold, or a reason to wait; and the records sharing a key that is about to get a partner created.
It decides nothing else and writes nothing to the step's output; what it found is the step's to
act on."""

from __future__ import annotations

from collections.abc import Mapping

from engine.connectors import Record
from engine.plan import Step
from engine.run.keys import KeyIndex
from engine.run.ledger import Ledger
from engine.run.outcomes import Found, Hold, Matched, NoMatch, Waits
from engine.run.partners import Partners
from engine.state import Link


class Matcher:
    """Match-key decisions of one step run; what it notes (held, claimed, sharing) goes to the
    step's ledger, for later records of the run."""

    def __init__(
        self, step: Step, keys: KeyIndex, partners: Partners, ledger: Ledger,
        links: Mapping[str, Link], by_target: Mapping[str, Link],
    ):  # fmt: skip
        self.step, self.keys, self.partners, self.ledger = step, keys, partners, ledger
        self.links, self.by_target = links, by_target

    def shares_key(self, side: str, record: Record) -> tuple[tuple[str, int, str], list[str]] | None:
        """The records sharing a match key with this one, which is about to get a partner
        created, when one of them has a partner already (linked, or getting one in this run):
        two records with one key never make two partners. The first read (reads come oldest
        first) proceeds; the group names them all, that first one first. Only a key some other
        record holds is looked into: most keys are one record's."""
        ref = f"{record.type} {record.id}"
        links = self.links if side == "source" else self.by_target
        keys = self.keys.of(side, record)
        for index, value in keys:
            group = self.ledger.sharing.get((side, index, value))
            if group is None and (self.keys.stored[side] or self.keys.holders(side, index, value) > 1):
                partnered = self.keys.partnered(side, index, value)
                paired = [
                    f"{row[0]} {row[1]}"
                    for row in self.keys.candidates(side, index, value)
                    if row[1] != record.id and (row[1] in links or row[1] in partnered)
                ]
                group = self.ledger.sharing[(side, index, value)] = paired or None
            if group:
                group.append(ref)
                return (side, index, value), group
        return None

    def shared_key_reason(self, side: str, index: int, value: str, group: list[str]) -> str:
        other = "target" if side == "source" else "source"
        return (
            f"{self.key_name(index)} {value} is shared by {', '.join(group)}: only {group[0]} syncs "
            f"with the {other}; held until resolved (duplicates: hold)"
        )

    def key_name(self, index: int) -> str:
        return self.step.match[index].source.text

    def match(self, side: str, record: Record) -> Found:
        """What the record's match keys find on the other side: a partner, nothing, a conflict
        to hold, or a reason to wait (a record it matches is held already)."""
        other = "target" if side == "source" else "source"
        for index, value in self.keys.of(side, record):
            found = [row for row in self.keys.candidates(other, index, value) if row[1] != record.id]
            if not found:
                continue
            if any(row[1] in self.ledger.held for row in found):
                self.ledger.held.add(record.id)
                return Waits()
            if other == "target" and self.step.target.priority:
                preferred = [row for row in found if row[0] == self.step.target.priority]
                found = preferred or found
            types = {row[0] for row in found}
            if len(found) > 1 and len(types) == 1:
                chosen = self.ambiguous(side, record, index, value, found)
                if isinstance(chosen, Hold):
                    return chosen
                found = [chosen]
            partner_type, partner_id, _ = found[0]
            partner = f"{partner_type} {partner_id}"
            if side == "target" and (rival := self.one_of_several(record, index, value, found[0])):
                return rival
            taken = self.taken(other, partner_id, record.id)
            if taken and other == "target" and self.step.conflicts.duplicates == "link_all":
                self.ledger.claimed[side].add(record.id)
                return Matched(f"shared:{self.key_name(index)}", partner_type, partner_id)
            if taken and other == "target" and partner_id in self.by_target:
                group = [taken, f"{record.type} {record.id}"]
                reason = self.shared_key_reason(side, index, value, group)
                return Hold(side, record.type, record.id, "duplicate_source_key", reason, candidates=(partner,))
            if taken:
                reason = f"{self.key_name(index)} {value} matches {partner_type} {partner_id}, already linked to {taken}"
                return Hold(side, record.type, record.id, "already_linked", reason, candidates=(partner,))
            self.ledger.claimed[other].add(partner_id)
            self.ledger.claimed[side].add(record.id)
            return Matched(f"key:{self.key_name(index)}", partner_type, partner_id)
        return NoMatch()

    def one_of_several(
        self, record: Record, index: int, value: str, source_row: tuple
    ) -> Hold | Waits | None:
        """When a target record reached from its own side shares the key with other unlinked
        records of its type, the source record matches several, which the ambiguity policy
        decides exactly as when the source record is read (it may not be, in this run): the
        source's hold, or a wait when another of them is chosen."""
        rivals = [
            row
            for row in self.keys.candidates("target", index, value)
            if row[0] == record.type and row[1] not in self.by_target
        ]
        source = self.partners.get("source", source_row[0], source_row[1]) if len(rivals) > 1 else None
        if source is None:
            return None
        chosen = self.ambiguous("source", source, index, value, rivals)
        if isinstance(chosen, Hold):
            return chosen
        return Waits() if chosen[1] != record.id else None

    def taken(self, side: str, partner_id: str, record_id: str) -> str | None:
        if side == "target":
            link = self.by_target.get(partner_id)
            if link and link.source_id != record_id:
                return f"{link.source_type} {link.source_id}"
        else:
            link = self.links.get(partner_id)
            if link and link.target_id != record_id:
                return f"{link.target_type} {link.target_id}"
        return "another record in this run" if partner_id in self.ledger.claimed[side] else None

    def ambiguous(self, side: str, record: Record, index: int, value: str, found: list) -> tuple | Hold:
        policy = self.step.conflicts.ambiguous
        if policy != "hold":
            ordered = sorted(found, key=lambda row: row[2] or "")
            return ordered[0] if policy == "oldest" else ordered[-1]
        self.ledger.held.update([record.id, *(rid for _, rid, _ in found)])
        names = ", ".join(f"{kind} {rid}" for kind, rid, _ in found)
        reason = f"{self.key_name(index)} {value} matches {len(found)} records: {names}; held until resolved"
        candidates = tuple(f"{kind} {rid}" for kind, rid, _ in found)
        return Hold(side, record.type, record.id, "ambiguous_key", reason, candidates=candidates)

"""How many of a step's unlinked records found a partner by their keys: few matches among many
records on both sides is most often a key read wrong (a phone region, a field name), which would
create every record again, so the preview says so."""

from __future__ import annotations

from collections import Counter

from engine.plan import Step

FEW_MATCHES_FROM = 50  # records on each side before a step matching under a tenth of them is warned of


class MatchTally:
    """Per side: the unlinked records with a key that looked for a partner, and how many found one.
    A match found from the source side is one for the target side too: that target record is
    not tried again from its own."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def count(self, side: str, matched: bool) -> None:
        for counted in (side, "target") if side == "source" and matched else (side,):
            self.counts[f"{counted} tried"] += 1
            self.counts[f"{counted} matched"] += matched

    def warnings(self, step: Step, sources: int, targets: int) -> list[str]:
        phones = " and phone_region" if any(key.normalize == "phone" for key in step.match) else ""
        found = []
        for side, spec, other, others in (
            ("source", step.source, step.target, targets),
            ("target", step.target, step.source, sources),
        ):
            tried, matched = self.counts[f"{side} tried"], self.counts[f"{side} matched"]
            if tried >= FEW_MATCHES_FROM and others >= FEW_MATCHES_FROM and matched * 10 < tried:
                found.append(
                    f"{matched:,} of {tried:,} {'/'.join(spec.types)} records matched against "
                    f"{others:,} {'/'.join(other.types)} records: check the match keys{phones}"
                )
        return found

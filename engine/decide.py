"""Decide: which way one field's value flows between two linked records. A pure function of the
field's facts, so that every policy can be read, and tested, as a table (`tests/cases/decide.yaml`).

The three-way comparison: a value changed on one side since the pair last agreed flows to the
other; changed on both, `concurrent_edit` (or the field's `conflict:`) decides. A first match
has no agreed value: it fills gaps, never blanks a value, and `first_match` decides the rest. A
placeholder default never overwrites a real value. Values are compared with ``same``: two
spellings of one instant are one value, so two systems' datetime formats never echo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from engine.times import parse_datetime

Way = Literal["to_target", "to_source"]


@dataclass(frozen=True)
class FieldFacts:
    """What one field's decision depends on, values as the field's transform writes them."""

    field: str
    to_target: bool  # the field may flow to the target on update
    to_source: bool  # ... and back to the source (it has a `source:` path)
    writes_back: bool  # it has a `source:` path (a value, compute or template has none)
    source_value: Any  # the value the source gives the target
    target_value: Any
    first_match: bool  # the pair is new or has no agreed values yet
    agreed: Any = None  # the value both sides last agreed on (unless a first match)
    default: Any = None  # the field's placeholder default
    source_newer: bool = False  # the source record changed after the target record
    first_match_policy: str = "hold"  # keep_target | keep_source | hold
    concurrent_policy: str = "last_write_wins"  # last_write_wins | source_wins | target_wins


@dataclass(frozen=True)
class FieldDecision:
    way: Way | None  # None: nothing flows
    note: str | None = None  # the policy that decided, for the preview (`hold` holds the pair)


NOTHING = FieldDecision(None)


def decide_field(facts: FieldFacts) -> FieldDecision:
    source, target = facts.source_value, facts.target_value
    if not (facts.to_target or facts.to_source):  # a create-only field, or one set `none`
        return NOTHING
    if facts.to_target and same(source, target):
        return NOTHING
    if facts.default is not None and source == facts.default and not _blank(target):
        # a placeholder default never overwrites a real value; the value may flow back instead
        return FieldDecision("to_source") if facts.to_source else NOTHING
    if facts.first_match:
        return _first_match(facts)
    # an empty source stands for the placeholder: with a blank agreed value, it is no change
    placeholder = facts.default is not None and source == facts.default and _blank(facts.agreed)
    source_changed = (
        not same(source, facts.agreed) and not placeholder and (facts.to_target or facts.writes_back)
    )
    target_changed = not same(target, facts.agreed)
    note = None
    if source_changed and target_changed:  # also between the two one-way jobs of a two-way sync
        policy = facts.concurrent_policy
        note = f"both changed {facts.field}: {policy}"
        if policy == "last_write_wins":
            policy = "source_wins" if facts.source_newer else "target_wins"
        way: Way | None = "to_target" if policy == "source_wins" else "to_source"
    else:
        way = "to_target" if source_changed else "to_source" if target_changed else None
    allowed = (way == "to_target" and facts.to_target) or (way == "to_source" and facts.to_source)
    return FieldDecision(way if allowed else None, note)


def _first_match(facts: FieldFacts) -> FieldDecision:
    """Fill gaps, never blank a value; where both hold a value, the `first_match` policy."""
    source, target = facts.source_value, facts.target_value
    if not facts.to_source:
        return NOTHING if _blank(source) else FieldDecision("to_target")
    if not facts.to_target or _blank(source):
        return NOTHING if _blank(target) else FieldDecision("to_source")
    if _blank(target):
        return FieldDecision("to_target")
    policy = facts.first_match_policy
    if policy == "hold":
        return FieldDecision(None, "hold")
    return FieldDecision("to_source" if policy == "keep_target" else "to_target", f"first_match: {policy}")


def _blank(value: Any) -> bool:
    return value in (None, "")


# the finest precision every system syncmap meets keeps (Salesforce keeps milliseconds): two
# readings of one instant, one truncated and one rounded there, differ by less
INSTANT_PRECISION = timedelta(milliseconds=1)


def same(first: Any, second: Any) -> bool:
    """Whether two values are one: equal, or two spellings of one instant at the precision both
    systems keep (`2027-03-01T10:00:00.000000+00:00` is `2027-03-01T10:00:00.000+0000`)."""
    if first == second:
        return True
    if not (isinstance(first, str) and isinstance(second, str)):
        return False
    one, other = _instant(first), _instant(second)
    return one is not None and other is not None and abs(one - other) < INSTANT_PRECISION


def _instant(text: str) -> datetime | None:
    """The instant a datetime spells (a date alone is no instant); None for other text."""
    if len(text) < 19 or text[4] != "-" or text[10] not in "Tt " or text[13] != ":":
        return None
    return parse_datetime(text)

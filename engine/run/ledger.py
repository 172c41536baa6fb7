"""What one step run has decided so far, which its later decisions look at: no record is paired
twice, held twice, or given two partners."""

from __future__ import annotations

from dataclasses import dataclass, field


def _by_side() -> dict[str, set[str]]:
    return {"source": set(), "target": set()}


@dataclass
class Ledger:
    paired_sources: set[str] = field(default_factory=set)  # pairs decided in this run, each once
    claimed: dict[str, set[str]] = field(default_factory=_by_side)  # ids paired in this run
    held: set[str] = field(default_factory=set)  # ids held for a person: not matched again this run
    handled_targets: set[str] = field(default_factory=set)  # decided from the source side already
    agreed_targets: set[str] = field(default_factory=set)  # target ids paired to the end in this run
    decided: list[tuple[str, str]] = field(default_factory=list)  # (side, id) a person's decision routed
    waiting: dict[str, str] = field(
        default_factory=dict
    )  # side -> oldest time of a record waiting for its parent
    # (side, key index, value) -> "<type> <id>" of the records sharing a key that nothing on
    # the other side holds: the first one alone gets a partner created, the others are held
    sharing: dict[tuple[str, int, str], list[str] | None] = field(default_factory=dict)

"""How far a run has got, phase by phase ("contacts: read platform", "contacts: write salesforce"):
the run stage and apply say what they do, a meter shows it. On a terminal the CLI shows bars
(`cli/meters.py`); `JsonLines` writes a structured line per phase now and then, for logs."""

from __future__ import annotations

import json
import time
from typing import Protocol, TextIO


class Meter(Protocol):
    shows_totals: bool  # whether a total is worth asking a system for (a count costs a query)

    def start(self, phase: str, total: int | None = None) -> None:
        """A phase begins; ``total`` when it is known how many records it has."""

    def advance(self, phase: str, count: int = 1) -> None:
        """``count`` more records of the phase are done."""

    def finish(self, phase: str) -> None:
        """The phase is over (its total, if it had none, is what was done)."""


class Quiet:
    """The meter of a run nobody watches."""

    shows_totals = False

    def start(self, phase: str, total: int | None = None) -> None:
        pass

    def advance(self, phase: str, count: int = 1) -> None:
        pass

    def finish(self, phase: str) -> None:
        pass


class JsonLines:
    """A JSON line per phase at its start, then at most every ``every`` seconds, and at its end:
    `{"event": "progress", "phase": ..., "done": n, "total": m, "rate": r, "eta_seconds": s}`."""

    shows_totals = True

    def __init__(self, out: TextIO, every: float = 2.0, clock=time.monotonic):
        self.out, self.every, self.clock = out, every, clock
        self.phases: dict[str, list] = {}  # phase -> [done, total, started, last written]

    def start(self, phase: str, total: int | None = None) -> None:
        now = self.clock()
        self.phases[phase] = [0, total, now, now]
        self.line(phase)

    def advance(self, phase: str, count: int = 1) -> None:
        state = self.phases.setdefault(phase, [0, None, self.clock(), self.clock()])
        state[0] += count
        if self.clock() - state[3] >= self.every or state[0] == state[1]:
            state[3] = self.clock()
            self.line(phase)

    def finish(self, phase: str) -> None:
        if phase in self.phases and self.phases[phase][1] is None:
            self.phases[phase][1] = self.phases[phase][0]
            self.line(phase)

    def line(self, phase: str) -> None:
        done, total, started, _ = self.phases[phase]
        elapsed = max(self.clock() - started, 1e-9)
        rate = done / elapsed
        eta = (total - done) / rate if total is not None and rate > 0 else None
        entry = {"event": "progress", "phase": phase, "done": done, "total": total, "rate": round(rate, 1),
                 "eta_seconds": round(eta, 1) if eta is not None else None}  # fmt: skip
        self.out.write(json.dumps(entry) + "\n")
        self.out.flush()

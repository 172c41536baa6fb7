"""What a run needs besides the Plan: the job's connectors and state, and what the steps of one
run share (each step's links, read once; describes asked once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.connectors import Connector, ObjectInfo
from engine.lease import JobLease
from engine.plan import Plan
from engine.progress import Meter, Quiet
from engine.run.links import StepLinks
from engine.state import Decision, StateStore


@dataclass
class RunContext:
    """Everything a run needs besides the Plan: the job's connectors and its state."""

    plan: Plan
    connectors: dict[str, Connector]
    state: StateStore
    job: str
    describes: dict[tuple[str, str], ObjectInfo] = field(default_factory=dict)
    lookups: dict[tuple, Any] = field(default_factory=dict)
    step_links: dict[str, StepLinks] = field(default_factory=dict)
    full: bool = False  # read every record, not only the changes since the last run
    flow: str | None = None  # a one-way run (push or pull): it keeps no watermark
    applying: bool = True  # False for a dry run: the pairs and keys apply would save are not kept
    fingerprinted: bool = True  # the records read are digested, for a saved plan's check; a preview skips it
    meter: Meter = field(default_factory=Quiet)  # how far the run has got, for a person watching
    router: str = "records"  # the router that turns the records read into routes (see router.py)
    lease: JobLease | None = None  # the job's lease, held while applying
    # step -> "<type> <id>" -> why: records whose create an interrupted run may have made
    held: dict[str, dict[str, str]] = field(default_factory=dict)

    def connector(self, name: str) -> Connector:
        return self.connectors[name]

    def links(self, step: str) -> StepLinks:
        """A step's links, read once per run (and again once apply has saved the step's own)."""
        if step not in self.step_links:
            self.step_links[step] = StepLinks(self.state.links(self.job, step))
        return self.step_links[step]

    def links_of(self, step: str) -> dict[str, str]:
        """Source id -> target id for a step, including links planned earlier in this run."""
        return self.links(step).target_ids()

    def sources_by_target(self, step: str) -> dict[str, str]:
        """Target id -> source id for a step (see ``StepLinks.source_ids``)."""
        return self.links(step).source_ids()

    def links_saved(self, step: str) -> None:
        """Apply saved a step's links: the next ask reads them as saved, with the ids of the
        records created in place of the ones planned."""
        self.step_links.pop(step, None)

    def decisions(self, step: str) -> list[Decision]:
        """A person's decisions on the step's held records that a run is to take."""
        return self.state.decisions(self.job, step, pending=True)

    def describe(self, connection: str, record_type: str) -> ObjectInfo:
        """A record type's description, asked once per run."""
        key = (connection, record_type)
        if key not in self.describes:
            self.describes[key] = self.connector(connection).describe(record_type)
        return self.describes[key]

    def target_fields(self, connection: str, record_type: str) -> set[str]:
        return set(self.describe(connection, record_type).fields)

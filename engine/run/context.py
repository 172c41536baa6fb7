"""What a run needs besides the Plan: the job's connectors and state, and what the steps of one
run share (links planned by earlier steps, describes asked once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.connectors import Connector, ObjectInfo
from engine.lease import JobLease
from engine.plan import Plan
from engine.state import StateStore


@dataclass
class RunContext:
    """Everything a run needs besides the Plan: the job's connectors and its state."""

    plan: Plan
    connectors: dict[str, Connector]
    state: StateStore
    job: str
    planned_links: dict[str, dict[str, str]] = field(default_factory=dict)  # step -> source id -> target id
    describes: dict[tuple[str, str], ObjectInfo] = field(default_factory=dict)
    lookups: dict[tuple, Any] = field(default_factory=dict)
    link_cache: dict[str, dict[str, str]] = field(default_factory=dict)  # see links_of
    full: bool = False  # read every record, not only the changes since the last run
    flow: str | None = None  # a one-way run (push or pull): it keeps no watermark
    applying: bool = True  # False for a dry run: the pairs and keys apply would save are not kept
    lease: JobLease | None = None  # the job's lease, held while applying
    # step -> "<type> <id>" -> why: records whose create an interrupted run may have made
    held: dict[str, dict[str, str]] = field(default_factory=dict)

    def connector(self, name: str) -> Connector:
        return self.connectors[name]

    def links_of(self, step: str) -> dict[str, str]:
        """Source id -> target id for a step, including links planned earlier in this run; read
        once per run and step (a step translating ids through another asks for every record)."""
        if step not in self.link_cache:
            links = {
                source_id: link.target_id for source_id, link in self.state.links(self.job, step).items()
            }
            links.update(self.planned_links.get(step, {}))
            self.link_cache[step] = links
        return self.link_cache[step]

    def sources_by_target(self, step: str) -> dict[str, str]:
        """Target id -> source id for a step: ``links_of`` the other way round, built once; of
        several sources sharing a target (`link_all`), the one that made the link."""
        key = f"{step} reversed"
        if key not in self.link_cache:
            links = sorted(self.state.links(self.job, step).values(), key=lambda link: not link.shared)
            reverse = {link.target_id: link.source_id for link in links}  # the primary link last: it wins
            reverse.update({target: source for source, target in self.planned_links.get(step, {}).items()})
            self.link_cache[key] = reverse
        return self.link_cache[key]

    def plan_link(self, step: str, source_id: str, target_id: str) -> None:
        """A link this run will make: seen at once by the step's own translations too."""
        self.planned_links.setdefault(step, {})[source_id] = target_id
        if step in self.link_cache:
            self.link_cache[step][source_id] = target_id
        self.link_cache.get(f"{step} reversed", {}).setdefault(target_id, source_id)

    def links_changed(self, step: str) -> None:
        """A step's links were saved: the next ask reads them again."""
        self.link_cache.pop(step, None)
        self.link_cache.pop(f"{step} reversed", None)

    def describe(self, connection: str, record_type: str) -> ObjectInfo:
        """A record type's description, asked once per run."""
        key = (connection, record_type)
        if key not in self.describes:
            self.describes[key] = self.connector(connection).describe(record_type)
        return self.describes[key]

    def target_fields(self, connection: str, record_type: str) -> set[str]:
        return set(self.describe(connection, record_type).fields)

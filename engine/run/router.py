"""The seam between reading and deciding: a router turns the records a step reads into routes (a
pair to decide, a partner to create, a deletion, a record left alone). The step driver reads, and
acts on the routes; `pair.py`, `create.py` and `delete.py` decide them, whichever router made them.
Every router passes the step cases in `tests/cases/steps/`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from engine.connectors import Record
from engine.plan import Step
from engine.run.context import RunContext
from engine.run.keys import KeyIndex
from engine.run.ledger import Ledger
from engine.run.links import StepLinks
from engine.run.outcomes import Route
from engine.run.route import RecordRouter


class Router(Protocol):
    """What the step driver asks of a router, in this order: the target side read whole, then
    the batches of the source side, then the target records no source record reached, then
    what is left to say. A router's routes are acted on one by one, before it makes the next."""

    def targets_read(self, targets: Mapping[str, Record], every_change_read: bool) -> None: ...

    def routes(self, side: str, batch: list[Record]) -> Iterator[Route]: ...

    def pair_sharers(self, target: Record, skip: str | None = None) -> Iterator[Route]:
        """The pairs of the other source records sharing a target (`link_all`) just updated."""
        ...

    def finish(self) -> Iterator[Route]: ...

    def warnings(self, sources_read: int, targets_read: int) -> list[str]: ...


class RouterFactory(Protocol):
    def __call__(
        self, step: Step, context: RunContext, keys: KeyIndex, ledger: Ledger, links: StepLinks
    ) -> Router: ...


ROUTERS: dict[str, RouterFactory] = {"records": RecordRouter}  # by the name a run context gives

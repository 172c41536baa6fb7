"""The step cases in `tests/cases/steps/`: a step, the records on each side, and the preview lines
its run shows, run against every router (the contract a new router must keep). A case may sync
once first and then edit records: the lines are those of the run after the edits."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.connectors import Write
from engine.connectors.memory import MemoryConnector
from engine.run.router import ROUTERS
from tests.runtime.conftest import lines

CASES = sorted((Path(__file__).parents[1] / "cases" / "steps").glob("*.yaml"))
CONNECTIONS = {
    "platform": {"connector": "memory", "settings": {"store": "platform"}},
    "crm": {"connector": "memory", "settings": {"store": "crm"}},
}


def document(case: dict) -> str:
    return yaml.safe_dump(
        {"syncmap": 2, "name": "case", "connections": CONNECTIONS, "objects": {"contacts": case["step"]}},
        sort_keys=False,
    )


def seed(stores: dict[str, MemoryConnector], records: dict) -> None:
    for side, by_type in records.items():
        for record_type, rows in by_type.items():
            stores[side].seed(record_type, rows)


def edit(stores: dict[str, MemoryConnector], edits: dict) -> None:
    """Edits as an update of each record (a new modified time), as a person would make them."""
    for side, by_type in edits.items():
        for record_type, rows in by_type.items():
            writes = [
                Write(row["id"], "update", record_type, row["id"], {k: v for k, v in row.items() if k != "id"})
                for row in rows
            ]
            assert all(result.ok for result in stores[side].write(record_type, writes))


@pytest.mark.parametrize("router", sorted(ROUTERS))
@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_a_step_case_previews_the_same_lines_with_every_router(path, router, stores, open_job):
    case = yaml.safe_load(path.read_text())
    platform, crm = stores
    by_side = {"source": platform, "target": crm}
    seed(by_side, {"source": case.get("source", {}), "target": case.get("target", {})})
    if case.get("synced_first"):
        first = open_job(document(case))
        first.router = router
        first.apply()
        edit(by_side, case.get("edits", {}))
    job = open_job(document(case))
    job.router = router
    assert lines(job.plan_changes()) == case["expect"]


def test_there_are_enough_step_cases_to_hold_a_router_to():
    assert len(CASES) >= 5

"""The optimizations of incremental runs (reading from the watermark, leaving out what was read
there already, standing agreed values in for unread records) decide what full runs decide: the
same random edits, applied run after run to two copies of a project, end in the same records."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.connectors.memory import MemoryConnector, drop_stores
from engine.job import Job, Selection
from tests.runtime.conftest import fresh_state_database

TWO_WAY = """\
syncmap: 2
name: two-way
connections:
  platform: {{connector: memory, settings: {{store: platform-{copy}}}}}
  crm: {{connector: memory, settings: {{store: crm-{copy}}}}}
objects:
  contacts:
    source: {{connection: platform, object: contacts}}
    target: {{connection: crm, object: Lead, create_as: Lead}}
    direction: both
    match: [{{source: phone, target: MobilePhone, normalize: phone}}]
    filters: [{{side: source, require: first_name, reason: no first name}}]
    fields:
      FirstName: first_name
      LastName: {{source: last_name, default: Unknown}}
      MobilePhone: {{source: phone, transform: "phone_e164(@)"}}
      Title: {{source: title, direction: to_target}}
"""
NAMES = st.sampled_from(["Ana", "Bo", "", "Cy"])
EDIT = st.one_of(  # (side, which record, field, value); a record not there yet is created
    st.tuples(
        st.just("platform"), st.integers(0, 4), st.sampled_from(["first_name", "last_name", "title"]), NAMES
    ),
    st.tuples(st.just("crm"), st.integers(0, 4), st.sampled_from(["FirstName", "LastName", "Title"]), NAMES),
)
clock = count(1)


def later() -> str:
    return (datetime.now(UTC) + timedelta(seconds=next(clock))).isoformat()


def contents(connector: MemoryConnector, record_type: str) -> list[tuple]:
    """The records' values, without the ids and times that differ between the copies."""
    return sorted(
        tuple(sorted((k, str(v)) for k, v in r.values.items() if k not in ("id", "updated_at")))
        for r in connector.records(record_type)
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(runs=st.lists(st.lists(EDIT, max_size=4), min_size=1, max_size=4))
# a Lead's placeholder last name blanked by a person: an unchanged empty contact does not refill it
@example(
    runs=[
        [("platform", 2, "first_name", "Bo"), ("platform", 2, "last_name", "")],
        [("crm", 2, "LastName", "")],
        [],
    ]
)
def test_incremental_runs_end_where_full_runs_end(tmp_path: Path, request, backend, runs):
    """On either state store: a SQLite file, or a PostgreSQL database of its own per copy."""
    server = request.getfixturevalue("postgres_server") if backend == "postgresql" else None
    drop_stores()
    folder = tmp_path / f"case{next(clock)}"
    folder.mkdir()
    (folder / "syncmap.toml").write_text("")
    stores = {}
    states = {
        copy: fresh_state_database(server) if server else folder / f"{copy}.db" for copy in ("incremental", "full")
    }
    for copy in ("incremental", "full"):
        (folder / f"{copy}.yaml").write_text(textwrap.dedent(TWO_WAY.format(copy=copy)))
        platform, crm = (
            MemoryConnector({"store": f"platform-{copy}"}),
            MemoryConnector({"store": f"crm-{copy}"}),
        )
        platform.seed(
            "contacts", [{"id": f"p{i}", "first_name": "Ana", "phone": f"+1415555010{i}"} for i in range(3)]
        )
        crm.seed(
            "Lead", [{"id": f"L{i}", "FirstName": "Bo", "MobilePhone": f"+1415555010{i}"} for i in (2, 3, 4)]
        )
        stores[copy] = (platform, crm)

    def apply(copy: str) -> None:
        selection = Selection(full=copy == "full")
        with Job.open(folder / f"{copy}.yaml", states[copy], selection=selection) as job:
            job.apply()

    for edits in [[], *runs]:
        stamp = later()
        for copy, (platform, crm) in stores.items():
            for side, index, field, value in edits:
                store, record_type, record_id = (
                    (platform, "contacts", f"p{index}") if side == "platform" else (crm, "Lead", f"L{index}")
                )
                edited = {**_values(store, record_type, record_id), field: value, "updated_at": stamp}
                store.seed(record_type, [edited])
            apply(copy)
        (platform_a, crm_a), (platform_b, crm_b) = stores["incremental"], stores["full"]
        assert contents(platform_a, "contacts") == contents(platform_b, "contacts")
        assert contents(crm_a, "Lead") == contents(crm_b, "Lead")


def _values(connector: MemoryConnector, record_type: str, record_id: str) -> dict:
    found = connector.get(record_type, [record_id]).get(record_id)
    return dict(found.values) if found else {"id": record_id}

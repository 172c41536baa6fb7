"""The same property against the sandbox org, with `skip_own_changes`: leaving syncmap's own
writes out of the reads decides what full runs decide, when the edits in Salesforce are someone
else's."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.connectors.sqlite import SqliteConnector
from engine.job import Job, Selection
from engine.sandbox import Sandbox

MAPPING = """\
syncmap: 2
name: {copy}
connections:
  platform: {{connector: sqlite, settings: {{path: {copy}.db}}}}
  salesforce:
    connector: salesforce
    settings:
      instance_url: "${{SF_INSTANCE_URL}}"
      session_id: "${{SF_SESSION_ID}}"
      ca_file: "${{SF_CA_FILE}}"
      username: sandbox@syncmap.local
      skip_own_changes: true
objects:
  contacts:
    source: {{connection: platform, object: contacts}}
    target: {{connection: salesforce, object: Lead, create_as: Lead}}
    direction: both
    match: [{{source: phone, target: MobilePhone, normalize: phone}}]
    fields:
      FirstName: first_name
      LastName: {{source: last_name, default: Unknown}}
      MobilePhone: {{source: phone, transform: "phone_e164(@)"}}
      Company: {{value: "[not provided]", create_only: true}}
"""
NAMES = st.sampled_from(["Ana", "Bo", "Cy"])
EDIT = st.one_of(  # (side, which record, field, value)
    st.tuples(st.just("platform"), st.integers(0, 2), st.sampled_from(["first_name", "last_name"]), NAMES),
    st.tuples(st.just("salesforce"), st.integers(0, 2), st.sampled_from(["FirstName", "LastName"]), NAMES),
)


@pytest.fixture(scope="module")
def orgs():
    with Sandbox() as incremental, Sandbox() as full:
        yield {"incremental": incremental, "full": full}


@settings(max_examples=8, derandomize=True, deadline=None)
@given(runs=st.lists(st.lists(EDIT, min_size=1, max_size=3), min_size=1, max_size=3))
def test_skipping_own_changes_ends_where_full_runs_end(orgs, tmp_path_factory, runs):
    folder = tmp_path_factory.mktemp("project")
    (folder / "syncmap.toml").write_text("")
    colleagues = {}
    for copy, org in orgs.items():
        org.reset()
        colleagues[copy] = org.client(org.session_for("ana@acme.example"))
        (folder / f"{copy}.yaml").write_text(MAPPING.format(copy=copy))
        with SqliteConnector({"path": f"{copy}.db"}, folder) as platform:
            platform.seed(
                "contacts",
                [
                    {"id": f"p{i}", "first_name": "Ana", "last_name": "Ng", "phone": f"+1628555010{i}"}
                    for i in range(3)
                ],
            )

    def apply(copy: str) -> None:
        org = orgs[copy]
        environ = {
            "SF_INSTANCE_URL": org.instance_url,
            "SF_SESSION_ID": org.session_id,
            "SF_CA_FILE": str(org.ca_file),
        }
        selection = Selection(full=copy == "full")
        with Job.open(
            folder / f"{copy}.yaml", folder / f"{copy}.state.db", environ=environ, selection=selection
        ) as job:
            job.apply()

    for edits in [[], *runs]:
        for copy in orgs:
            leads = lead_ids(orgs[copy])
            for side, index, field, value in edits:
                if side == "platform":
                    with SqliteConnector({"path": f"{copy}.db"}, folder) as platform:
                        record = platform.get("contacts", [f"p{index}"])[f"p{index}"]
                        platform.seed("contacts", [{**record.values, field: value, "updated_at": None}])
                elif index in leads:
                    colleagues[copy].Lead.update(leads[index], {field: value})
            apply(copy)
        assert platform_rows(folder, "incremental") == platform_rows(folder, "full")
        assert lead_rows(orgs["incremental"]) == lead_rows(orgs["full"])


def lead_ids(org: Sandbox) -> dict[int, str]:
    rows = org.client().query("SELECT Id, MobilePhone FROM Lead")["records"]
    return {int(row["MobilePhone"][-1]): row["Id"] for row in rows}


def lead_rows(org: Sandbox) -> list[tuple]:
    rows = org.client().query("SELECT FirstName, LastName, MobilePhone FROM Lead")["records"]
    return sorted((row["FirstName"], row["LastName"], row["MobilePhone"]) for row in rows)


def platform_rows(folder: Path, copy: str) -> list[tuple]:
    with SqliteConnector({"path": f"{copy}.db"}, folder) as platform:
        return sorted(
            (r.values.get("first_name"), r.values.get("last_name"), r.values["phone"])
            for r in platform.read("contacts")
        )

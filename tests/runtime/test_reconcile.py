"""A write that reached the other side but not the state store (the process died in between)
is found on the next start and linked, never created twice."""

from __future__ import annotations

from engine.connectors import Write
from tests.runtime.conftest import lines


def interrupted_create(job, connector, record_type: str, values: dict, planned_id: str | None) -> None:
    """What a killed apply leaves behind: a journal intent, and the record written anyway."""
    with job.state.transaction():
        job.state.journal_intent(
            job.name, "contacts", 1, "create", "target", record_type, "contacts p1", None,
            {"source_id": "p1", "planned_id": planned_id, "values": values},
        )  # fmt: skip
    connector.write(
        record_type,
        [Write("x", "create", record_type, None, {**values, **({"id": planned_id} if planned_id else {})})],
    )


def test_a_record_created_under_a_planned_id_is_found_and_linked(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    job = open_job()
    interrupted_create(job, crm, "Lead", {"FirstName": "Ana", "LastName": "Unknown"}, planned_id="planned-1")
    report = job.apply()
    assert report.recovered == 1
    assert [r.id for r in crm.records("Lead")] == ["planned-1"]
    assert job.state.links(job.name, "contacts")["p1"].made_by == "recovered:target"
    assert lines(job.plan_changes(), counted_only=True) == []


def test_a_record_without_a_planned_id_is_found_by_its_match_keys(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    job = open_job()
    interrupted_create(job, crm, "Lead", {"FirstName": "Ana", "MobilePhone": "+14155550100"}, planned_id=None)
    assert job.apply().recovered == 1
    assert len(crm.records("Lead")) == 1


def test_a_write_that_never_happened_is_abandoned_and_done_again(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    job = open_job()
    with job.state.transaction():
        job.state.journal_intent(
            job.name, "contacts", 1, "create", "target", "Lead", "contacts p1", None,
            {"source_id": "p1", "planned_id": "never-written", "values": {}},
        )  # fmt: skip
    report = job.apply()
    assert report.recovered == 0
    assert report.changeset.counts()["create"] == 1
    assert len(crm.records("Lead")) == 1
    assert job.state.pending_journal(job.name) == []

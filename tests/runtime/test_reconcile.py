"""A write that reached the other side but not the state store (the process died in between)
is found on the next start and linked, never created twice."""

from __future__ import annotations

from engine.connectors import Write
from tests.runtime.conftest import CONTACTS, lines


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


def test_a_recovered_record_takes_later_edits_from_either_side(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    job = open_job(CONTACTS.replace("duplicate_key: keep_target", "duplicate_key: hold"))
    written = {"FirstName": "Ana", "LastName": "Unknown", "MobilePhone": "+14155550100"}
    interrupted_create(job, crm, "Lead", written, planned_id="planned-1")
    assert job.apply().recovered == 1
    crm.write("Lead", [Write("e", "update", "Lead", "planned-1", {"FirstName": "Anna"})])
    assert lines(job.apply().changeset, counted_only=True) == [
        "update source contacts p1: first_name 'Ana' -> 'Anna'"
    ]
    assert platform.records("contacts")[0].values["first_name"] == "Anna"


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


NO_KEY = {"FirstName": "Ana", "LastName": "Lopez"}  # a contact with no phone: no match key


def test_a_record_without_a_key_or_planned_id_is_found_by_the_values_it_wrote(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "last_name": "Lopez"}])
    crm.seed("Lead", [{"id": "other", "FirstName": "Ana", "LastName": "Berg"}])
    job = open_job(NO_PHONE_FILTER)
    interrupted_create(job, crm, "Lead", NO_KEY, planned_id=None)
    report = job.apply()
    assert report.recovered == 1
    assert sorted(r.values["LastName"] for r in crm.records("Lead")) == ["Berg", "Lopez"]
    assert job.state.links(job.name, "contacts")["p1"].made_by == "recovered:target"


def test_a_record_without_a_key_whose_values_two_records_hold_is_held_not_created(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "last_name": "Lopez"}])
    crm.seed("Lead", [{"id": "twin", **NO_KEY}])
    job = open_job(NO_PHONE_FILTER)
    interrupted_create(job, crm, "Lead", NO_KEY, planned_id=None)
    first = job.apply()
    conflicts = [line for line in lines(first.changeset) if line.startswith("conflict")]
    made = next(r.id for r in crm.records("Lead") if r.id != "twin")
    assert sorted(line.split(" (")[0] for line in conflicts) == sorted(
        ["conflict source contacts p1", "conflict target Lead twin", f"conflict target Lead {made}"]
    )
    assert "(an interrupted run's create of contacts p1 may have made one of Lead " in conflicts[0]
    assert len(platform.records("contacts")) == 1, "the candidates are not synced back either"
    assert len(crm.records("Lead")) == 2, "nothing created: a third would be a duplicate"
    assert len(job.state.pending_journal(job.name)) == 1, "looked for again on the next run"

    crm.write("Lead", [Write("d", "delete", "Lead", "twin")])  # a person deletes the duplicate
    second = open_job(NO_PHONE_FILTER).apply()
    assert second.recovered == 1
    assert [r.id for r in crm.records("Lead") if not r.deleted] == [made]
    assert open_job(NO_PHONE_FILTER).state.pending_journal("contacts-job") == []


NO_PHONE_FILTER = CONTACTS.replace(
    '      - {side: target, require: "phone_valid(MobilePhone || Phone)", reason: no valid phone}\n', ""
)


ODD_IDS = ["p 1", 'o\'brien "jr"', "a/b\\c", "x,y;z"]


def test_record_ids_with_spaces_quotes_and_slashes_apply_and_reconcile(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [
        {"id": record_id, "first_name": "Ana", "phone": f"415555010{n}"} for n, record_id in enumerate(ODD_IDS)
    ])  # fmt: skip
    job = open_job()
    interrupted_create(job, crm, "Lead", {"FirstName": "Ana", "MobilePhone": "+14155550100"}, planned_id=None)
    with job.state.transaction():  # the interrupted create was of "p 1", not of "p1"
        job.state.db.execute(
            "UPDATE journal_batches SET writes = replace(replace(writes, 'contacts p1', 'contacts p 1'), "
            "'\"p1\"', '\"p 1\"')"
        )
    report = job.apply()
    assert report.recovered == 1 and report.failed == 0
    links = job.state.links(job.name, "contacts")
    assert sorted(links) == sorted(ODD_IDS)
    assert links["p 1"].made_by == "recovered:target"
    assert len([r for r in crm.records("Lead") if not r.deleted]) == len(ODD_IDS)
    assert lines(open_job().plan_changes(), counted_only=True) == []

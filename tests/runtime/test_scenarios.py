"""Runtime scenarios over two in-memory stores: matching, directions, conflicts, deletes, parents."""

from __future__ import annotations

import pytest

from engine.errors import ConnectorError
from tests.runtime.conftest import CONTACTS, lines


def test_first_run_links_creates_both_ways_and_skips_with_reasons(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [
        {"id": "p1", "first_name": "Ana", "last_name": "Lopez", "phone": "(415) 555-0100"},
        {"id": "p2", "first_name": "Bo", "phone": "415 555 0101"},
        {"id": "p3", "first_name": "", "phone": "415 555 0102"},
    ])  # fmt: skip
    crm.seed(
        "Contact", [{"id": "c1", "FirstName": "Ana", "LastName": "Lopez", "MobilePhone": "+14155550100"}]
    )
    crm.seed("Lead", [
        {"id": "l1", "FirstName": "Cy", "LastName": "Ng", "Phone": "+1 415 555 0199"},
        {"id": "l2", "FirstName": "Di", "LastName": "Ma", "Phone": "n/a"},
    ])  # fmt: skip
    changes = open_job().plan_changes()
    assert lines(changes) == [
        # the new contact carries the phone that identifies it; the Lead gets it as its MobilePhone
        "create source contacts (new): first_name='Cy', last_name='Ng', phone='+14155550199'",
        "create target Lead (new): FirstName='Bo', LastName='Unknown', MobilePhone='+14155550101'",
        "link target Contact c1",
        "skip source contacts p3 (no first name)",
        "skip target Lead l2 (no valid phone)",
        "update target Lead l1: MobilePhone None -> '+14155550199'",
    ]
    assert changes.summary() == "Plan: 2 to create, 1 to update, 0 to delete, 2 skipped, 0 conflicts."


def test_a_record_failing_its_filters_is_skipped_when_reached_from_the_other_side_too(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p3", "first_name": "", "phone": "415 555 0102"}])
    assert lines(open_job().apply().changeset) == ["skip source contacts p3 (no first name)"]
    crm.seed("Lead", [{"id": "l3", "FirstName": "Cy", "LastName": "Ng", "MobilePhone": "+14155550102"}])
    # the Lead is read, p3 is not (it did not change), and found by its phone: still skipped, not linked
    assert lines(open_job().apply().changeset) == ["skip source contacts p3 (no first name)"]
    assert platform.get("contacts", ["p3"])["p3"].values["first_name"] == ""


def test_dry_run_writes_nothing_and_a_second_apply_plans_nothing(stores, open_job):
    platform, crm = stores
    platform.seed(
        "contacts", [{"id": f"p{i}", "first_name": f"N{i}", "phone": f"415555{i:04d}"} for i in range(50)]
    )
    job = open_job()
    before = (
        platform.records("contacts"),
        crm.records("Lead"),
        job.state.db.execute("select count(*) from runs").fetchone(),
    )
    job.plan_changes()
    after = (
        platform.records("contacts"),
        crm.records("Lead"),
        job.state.db.execute("select count(*) from runs").fetchone(),
    )
    assert before == after
    report = job.apply()
    assert report.changeset.counts()["create"] == 50
    assert len(crm.records("Lead")) == 50
    assert lines(job.plan_changes(), counted_only=True) == []
    assert lines(job.apply().changeset) == []


def test_no_echo_after_a_two_way_run(stores, open_job):
    platform, crm = stores
    platform.seed(
        "contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100", "email": "ana@acme.com"}]
    )
    crm.seed("Contact", [{"id": "c9", "FirstName": "Eve", "LastName": "Ro", "MobilePhone": "+14155550199"}])
    job = open_job()
    job.apply()
    platform.write("contacts", [_update("p1", first_name="Anna")])
    crm.write("Contact", [_update("c9", LastName="Rowe")])
    assert lines(job.apply().changeset) == [
        "update source contacts " + _id_of(platform, "Eve") + ": last_name 'Ro' -> 'Rowe'",
        "update target Lead " + _id_of(crm, "Anna", "Lead", "FirstName") + ": FirstName 'Ana' -> 'Anna'",
    ]
    assert lines(job.plan_changes(), counted_only=True) == []


def live(connector, record_type):
    return [record for record in connector.records(record_type) if not record.deleted]


def _update(record_id, **values):
    from engine.connectors import Write

    return Write(record_id, "update", "", record_id, values)


def _id_of(connector, name, record_type="contacts", field="first_name"):
    return next(r.id for r in connector.records(record_type) if r.values.get(field) == name)


def test_priority_type_wins_and_the_other_is_ignored(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    crm.seed("Lead", [{"id": "l1", "FirstName": "Ana", "LastName": "L", "MobilePhone": "+14155550100"}])
    crm.seed("Contact", [{"id": "c1", "FirstName": "Ana", "LastName": "C", "Phone": "415-555-0100"}])
    assert lines(open_job().plan_changes()) == [
        "link target Contact c1",
        "skip target Lead l1 (a Contact with the same phone has priority)",
        "update source contacts p1: last_name None -> 'C'",
        "update target Contact c1: MobilePhone None -> '+14155550100'",  # a first link fills gaps
    ]


def test_an_ambiguous_key_is_held_not_guessed(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    crm.seed("Contact", [
        {"id": "c1", "FirstName": "Ana", "LastName": "A", "MobilePhone": "+14155550100"},
        {"id": "c2", "FirstName": "Ana", "LastName": "B", "Phone": "(415) 555-0100"},
    ])  # fmt: skip
    job = open_job()
    changes = job.plan_changes()
    assert lines(changes) == [
        "conflict source contacts p1 (phone +14155550100 matches 2 records: Contact c1, Contact c2; held until resolved)"
    ]
    job.apply()
    assert len(live(crm, "Contact")) == 2 and live(crm, "Lead") == []


def test_an_ambiguous_key_stays_held_when_only_the_target_records_are_read_again(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    job = open_job(
        CONTACTS.replace("    direction: both", "    direction: {create: to_source, update: both}")
    )
    job.apply()  # p1 is not created in the CRM, and is not read again
    crm.seed("Contact", [
        {"id": "c1", "FirstName": "Ana", "LastName": "A", "MobilePhone": "+14155550100"},
        {"id": "c2", "FirstName": "Ana", "LastName": "B", "Phone": "(415) 555-0100"},
    ])  # fmt: skip
    assert lines(job.plan_changes()) == [
        "conflict source contacts p1 (phone +14155550100 matches 2 records: Contact c1, Contact c2; held until resolved)"
    ], "an ambiguity seen only from the target side was guessed"


def test_a_later_duplicate_of_a_linked_record_does_not_take_the_link(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    crm.seed("Contact", [{"id": "c1", "FirstName": "Ana", "LastName": "A", "MobilePhone": "+14155550100"}])
    job = open_job()
    job.apply()
    crm.seed("Contact", [{"id": "c3", "FirstName": "Ana", "LastName": "C", "Phone": "4155550100"}])
    assert lines(job.plan_changes()) == [
        "conflict target Contact c3 (phone +14155550100 matches contacts p1, already linked to Contact c1)"
    ]


def concurrent_edit(stores, open_job, policy: str, source_first: bool):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    job = open_job(
        CONTACTS.replace(
            "conflicts: {duplicate_key: keep_target}", f"conflicts: {{concurrent_edit: {policy}}}"
        )
    )
    job.apply()
    lead = crm.records("Lead")[0].id
    edits = [
        lambda: platform.write("contacts", [_update("p1", first_name="FromPlatform")]),
        lambda: crm.write("Lead", [_update(lead, FirstName="FromCrm")]),
    ]
    for edit in edits if source_first else reversed(edits):
        edit()
    job.apply()
    return platform.records("contacts")[0].values["first_name"], crm.records("Lead")[0].values["FirstName"]


def test_concurrent_edits_last_write_wins(stores, open_job):
    assert concurrent_edit(stores, open_job, "last_write_wins", source_first=True) == ("FromCrm", "FromCrm")


def test_concurrent_edits_last_write_wins_the_other_way(stores, open_job):
    assert concurrent_edit(stores, open_job, "last_write_wins", source_first=False) == (
        "FromPlatform",
        "FromPlatform",
    )


def test_concurrent_edits_source_wins(stores, open_job):
    assert concurrent_edit(stores, open_job, "source_wins", source_first=True) == (
        "FromPlatform",
        "FromPlatform",
    )


def test_concurrent_edits_target_wins(stores, open_job):
    assert concurrent_edit(stores, open_job, "target_wins", source_first=False) == ("FromCrm", "FromCrm")


def first_match(stores, open_job, policy: str):
    platform, crm = stores
    platform.seed(
        "contacts", [{"id": "p1", "first_name": "Ana", "last_name": "Platform", "phone": "4155550100"}]
    )
    crm.seed("Contact", [{"id": "c1", "FirstName": "Ana", "LastName": "Crm", "MobilePhone": "+14155550100"}])
    job = open_job(CONTACTS.replace("duplicate_key: keep_target", f"duplicate_key: {policy}"))
    return lines(job.plan_changes())


def test_duplicate_key_keep_target(stores, open_job):
    assert first_match(stores, open_job, "keep_target") == [
        "link target Contact c1",
        "update source contacts p1: last_name 'Platform' -> 'Crm'",
    ]


def test_duplicate_key_keep_source(stores, open_job):
    assert first_match(stores, open_job, "keep_source") == [
        "link target Contact c1",
        "update target Contact c1: LastName 'Crm' -> 'Platform'",
    ]


def test_duplicate_key_hold(stores, open_job):
    assert first_match(stores, open_job, "hold") == [
        "conflict source contacts p1 (contacts p1 and Contact c1 share a key but their values differ; "
        "held until resolved (first_match: hold))"
    ]


DELETES = CONTACTS.replace(
    "conflicts: {duplicate_key: keep_target}", "deletes: {to_target: propagate, to_source: ignore}"
)


def test_deletes_propagate_one_way_and_are_ignored_the_other(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [
        {"id": "p1", "first_name": "Ana", "phone": "4155550100"},
        {"id": "p2", "first_name": "Bo", "phone": "4155550101"},
    ])  # fmt: skip
    job = open_job(DELETES)
    job.apply()
    from engine.connectors import Write

    platform.write("contacts", [Write("d1", "delete", "contacts", "p1")])
    bo = _id_of(crm, "Bo", "Lead", "FirstName")
    crm.write("Lead", [Write("d2", "delete", "Lead", bo)])
    assert lines(job.apply().changeset) == ["delete target Lead " + _id_of(crm, "Ana", "Lead", "FirstName")]
    assert live(crm, "Lead") == []
    assert [r.id for r in live(platform, "contacts")] == ["p2"]  # the crm deletion was ignored
    assert lines(job.plan_changes(), counted_only=True) == []


ACTIVITIES = """\
syncmap: 1
name: activities-job
connections:
  platform: {connector: memory, settings: {store: platform}}
  crm: {connector: memory, settings: {store: crm}}
objects:
  accounts:
    source: {connection: platform, object: accounts}
    target: {connection: crm, object: Account}
    direction: to_target
    match:
      - {source: external_id, target: External_Id__c, normalize: lower}
    fields:
      Name: name
      External_Id__c: {source: external_id, transform: "lower(@)"}
  tasks:
    source: {connection: platform, object: tasks}
    target: {connection: crm, object: Task}
    direction: to_target
    parent: accounts
    fields:
      Subject: title
      WhatId: {source: account_id, link: accounts, create_only: true}
      Status: {value: Completed}
"""


def test_a_child_with_an_unknown_parent_is_skipped_and_not_counted(stores, open_job):
    platform, crm = stores
    platform.seed("accounts", [{"id": "a1", "name": "Acme", "external_id": "ACME-1"}])
    platform.seed("tasks", [
        {"id": "t1", "title": "Call back", "account_id": "a1"},
        {"id": "t2", "title": "Orphan", "account_id": "a404"},
    ])  # fmt: skip
    job = open_job(ACTIVITIES)
    assert [step.name for step in job.plan.steps] == ["accounts", "tasks"]
    report = job.apply()
    assert report.changeset.counts() == {
        "create": 2,
        "update": 0,
        "delete": 0,
        "skip": 0,
        "conflict": 0,
        "link": 0,
    }
    assert lines(report.changeset) == [
        "create target Account (new): External_Id__c='acme-1', Name='Acme'",
        "create target Task (new): Status='Completed', Subject='Call back', WhatId='"
        + crm.records("Account")[0].id
        + "'",
        "skip source tasks t2 (accounts a404 is not linked)",
    ]


def test_deletes_propagate_to_the_source_too(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    job = open_job(CONTACTS.replace("conflicts: {duplicate_key: keep_target}", "deletes: propagate"))
    job.apply()
    from engine.connectors import Write

    lead = crm.records("Lead")[0].id
    crm.write("Lead", [Write("d", "delete", "Lead", lead)])
    assert lines(job.apply().changeset) == ["delete source contacts p1"]
    assert live(platform, "contacts") == []


FAILING = CONTACTS.replace(
    "crm: {connector: memory, settings: {store: crm}}", "crm: {connector: jsonl, settings: {path: crm}}"
).replace("object: [Lead, Contact], priority: Contact, create_as: Lead", "object: Lead")


def test_a_failing_record_is_reported_kept_and_retried_without_stopping_the_run(stores, open_job, tmp_path):
    platform, _ = stores
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "Lead.jsonl").write_text("")
    platform.seed("contacts", [
        {"id": "p1", "first_name": "Ana", "phone": "4155550100"},
        {"id": "p2", "first_name": "Bo", "phone": "4155550101"},
    ])  # fmt: skip
    job = open_job(FAILING)
    first = job.apply()
    assert first.failed == 2
    assert [(letter["record_id"], letter["attempts"]) for letter in job.state.dead_letters(job.name)] == [
        ("p1", 1),
        ("p2", 1),
    ]
    assert "read-only" in job.state.dead_letters(job.name)[0]["error"]
    second = job.apply()  # nothing changed on the platform, yet both records are tried again
    assert second.failed == 2
    assert [letter["attempts"] for letter in job.state.dead_letters(job.name)] == [2, 2]


def test_runs_are_recorded_with_their_counts_and_the_job_status(stores, open_job, tmp_path):
    platform, _ = stores
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    job = open_job()
    job.apply()
    (run,) = job.state.runs(job.name)
    assert (run["status"], run["plan_hash"]) == ("done", job.plan.hash)
    assert run["counts"] == {
        "create": 1,
        "update": 0,
        "delete": 0,
        "skip": 0,
        "conflict": 0,
        "link": 0,
        "failed": 0,
        "decided": 0,  # a person's decisions the run took
        "reasons": {},
    }
    assert job.state.job_status(job.name) == ("active", None)

    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "Lead.jsonl").write_text("")
    platform.seed("contacts", [{"id": "p2", "first_name": "Bo", "phone": "4155550101"}])
    failing = open_job(FAILING)
    failing.apply()  # p1 is linked already (same state); only the create of p2 fails
    assert failing.state.job_status(failing.name) == ("errors", "1 record failed")


def test_a_side_naming_an_id_field_its_connection_does_not_use_is_an_error(stores, open_job):
    platform, _ = stores
    platform.seed(
        "contacts", [{"id": "p1", "contact_id": "C-1", "first_name": "Ana", "phone": "415 555 0100"}]
    )
    document = CONTACTS.replace(
        "source: {connection: platform, object: contacts}",
        "source: {connection: platform, object: contacts, id: contact_id, modified: updated_at}",
    )
    with pytest.raises(ConnectorError) as excinfo:
        open_job(document).plan_changes()
    assert excinfo.value.message == (
        "objects.contacts.source says `id: contact_id`, but the `platform` connection keeps the ids of "
        "`contacts` in `id`"
    )
    assert "leave `id:` out" in excinfo.value.hint
    assert open_job(document.replace(" id: contact_id,", "")).plan_changes().counts()["create"] == 1


def test_a_dead_letter_is_cleared_once_its_record_is_written(stores, open_job, tmp_path):
    platform, crm = stores
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "Lead.jsonl").write_text("")
    platform.seed("contacts", [{"id": "p1", "first_name": "Ana", "phone": "4155550100"}])
    assert open_job(FAILING).apply().failed == 1
    fixed = open_job()  # the same job, its target now writable
    assert fixed.apply().failed == 0 and len(crm.records("Lead")) == 1
    assert fixed.state.dead_letters(fixed.name) == []

"""Seed 002 (PhoneIQ): an initial sync reports progress and ends active or with errors; delete and
revert removes exactly what the job created on the chosen side; Person Accounts match where the
org has them."""

from __future__ import annotations

from engine.state import StateStore
from tests.seeds.conftest import actions


def people(count: int, start: int = 0) -> list[dict]:
    return [
        {"id": f"q{i}", "first_name": f"Person{i}", "last_name": "Test", "phone": f"415555{i:04d}"}
        for i in range(start, start + count)
    ]


def test_an_initial_sync_reports_progress_then_active(project):
    project.use("phoneiq")
    project.on_platform("contacts", *people(450))
    seen_status, written = [], []

    def progress(count: int) -> None:
        written.append(count)
        watcher = StateStore(project.folder / "state.db", read_only=True)  # as `syncmap status` would
        seen_status.append(watcher.job_status("phoneiq")[0])
        watcher.close()

    with project.job() as job:
        report = job.apply(batch_size=200, progress=progress)
        assert job.state.job_status(job.name) == ("active", None)
    assert written == [200, 200, 50], "progress was not reported batch by batch"
    assert set(seen_status) == {"initial sync"}
    assert report.changeset.counts()["create"] == 450
    assert project.sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 450

    project.on_platform("contacts", *people(1, start=450))
    with project.job() as job:
        job.apply(progress=lambda count: seen_status.append(job.state.job_status(job.name)[0]))
    assert seen_status[-1] == "running", "a later run was still called the initial sync"


def test_a_run_with_failing_records_ends_in_errors(project):
    project.use("phoneiq")
    project.on_platform("contacts", *people(3), {"id": "long", "first_name": "X" * 60, "phone": "4155559999"})
    with project.job() as job:
        report = job.apply()
        assert report.failed == 1
        assert job.state.job_status(job.name) == ("errors", "1 record failed")
    assert project.sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 3


def test_delete_and_revert_removes_only_what_the_job_created_on_the_chosen_side(project):
    project.use("phoneiq")
    project.on_platform("contacts", *people(2))  # q0 matches an existing Contact, q1 is new
    existing = project.in_salesforce("Contact", FirstName="Person0", LastName="Test", Phone="4155550000")
    untouched = project.in_salesforce("Contact", FirstName="Never", LastName="Synced", Phone="n/a")
    project.in_salesforce("Contact", FirstName="From", LastName="Salesforce", Phone="4155557777")
    project.apply()
    assert project.sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 4
    assert len(project.platform("contacts")) == 3

    with project.job() as job:
        preview = job.revert_changes("target")
        assert actions(preview, "delete") == [("target", "Contact", "created by this job")]
        job.revert("target")
    remaining = {row["Id"] for row in project.soql("SELECT Id FROM Contact")}
    assert existing in remaining and untouched in remaining and len(remaining) == 3, (
        "revert deleted a record the job did not create, or kept one it did"
    )
    assert len(project.platform("contacts")) == 3, "reverting the Salesforce side touched the platform"

    with project.job() as job:
        job.revert("source")
    assert sorted(project.platform("contacts")) == ["q0", "q1"], (
        "revert did not remove the contact pulled from Salesforce"
    )


def test_a_person_account_is_matched_where_the_org_enables_them(project):
    project.use("phoneiq", {"objects": {"person_accounts": {"mode": "automatic"}}})
    project.on_platform(
        "contacts",
        {
            "id": "p1",
            "first_name": "Ana",
            "last_name": "Lopez",
            "phone": "(415) 555-0100",
            "sf_object_type": "PersonAccount",
        },
        {
            "id": "c1",
            "first_name": "Bo",
            "last_name": "Kim",
            "phone": "4155550101",
            "sf_object_type": "Contact",
        },
    )
    person = project.in_salesforce(
        "Account", FirstName="Ana", LastName="Lopez", PersonMobilePhone="+14155550100"
    )
    project.in_salesforce("Account", Name="Kim Industries", Phone="4155550101")  # a business, never a person
    report = project.apply()
    linked = {(s.step, c.record_id) for s in report.changeset.steps for c in s.changes if c.action == "link"}
    assert ("person_accounts", person) in linked, "the Person Account was not matched"
    assert project.soql("SELECT Name FROM Account WHERE IsPersonAccount = false") == [
        {"Name": "Kim Industries"}
    ]
    assert project.soql("SELECT FirstName, Phone FROM Contact") == [
        {"FirstName": "Bo", "Phone": "+14155550101"}
    ]

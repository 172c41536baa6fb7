"""Seed 003 (Aloware): one-time operations run only when asked: push all, pull all, pull lead
statuses as dispositions, and the Sync users button, which maps users to owners by email and
removes mappings whose user or owner no longer qualifies."""

from __future__ import annotations

from tests.seeds.conftest import actions

BIDIRECTIONAL = {"objects": {"contacts": {"direction": {"create": "both"}}}}


def test_push_all_writes_only_to_salesforce_and_pull_all_only_to_the_platform(project):
    project.use("aloware", BIDIRECTIONAL)
    project.on_platform(
        "contacts", {"id": "w1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}
    )
    project.in_salesforce("Lead", FirstName="Bo", LastName="Kim", Company="Kim", Phone="4155550101")

    pushed = project.apply(objects=("contacts",), full=True, flow="to_target")
    assert actions(pushed, "create") == [("target", "Lead", None)], (
        "push did not create the Aloware contact as a Lead"
    )
    assert list(project.platform("contacts")) == ["w1"], "push wrote to the platform"

    pulled = project.apply(objects=("contacts",), full=True, flow="to_source")
    assert actions(pulled, "create") == [("source", "contacts", None)], "pull did not bring the Lead over"
    assert sorted(c["first_name"] for c in project.platform("contacts").values()) == ["Ana", "Bo"]
    assert project.sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 2

    with project.job() as job:
        assert actions(job.plan_changes(), "create") == [], "push and pull left records to create"


def test_push_creates_nothing_unless_creation_is_bi_directional(project):
    project.use("aloware")  # creation inbound only (the recommended setting)
    project.on_platform(
        "contacts", {"id": "w1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}
    )
    pushed = project.apply(objects=("contacts",), full=True, flow="to_target")
    assert actions(pushed, "create") == []
    assert project.sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_pull_lead_statuses_as_dispositions_only_when_asked(project):
    project.use("aloware")
    scheduled = project.apply()
    assert all(step.step != "lead_statuses" for step in scheduled.changeset.steps), (
        "a one-time operation ran on schedule"
    )
    assert project.platform("dispositions") == {}

    project.apply(objects=("lead_statuses",))
    dispositions = sorted(project.platform("dispositions").values(), key=lambda d: d["position"])
    assert [(d["name"], d["outcome"], d["is_default"]) for d in dispositions] == [
        ("Open - Not Contacted", "open", True),
        ("Working - Contacted", "open", False),
        ("Closed - Converted", "converted", False),
        ("Closed - Not Converted", "open", False),
    ]
    again = project.apply(objects=("lead_statuses",), full=True)
    assert actions(again, "create") == [] and actions(again, "update") == [], (
        "pulling twice duplicated statuses"
    )


def test_contact_owners_are_salesforce_users_found_by_email(project):
    project.use("aloware")
    rep = project.in_salesforce("User", Username="rep@acme.test", Email="rep@acme.test", LastName="Rep")
    lead = project.in_salesforce("Lead", FirstName="Ana", LastName="Lopez", Company="L", Phone="4155550100")
    project.on_platform(
        "contacts", {"id": "w1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}
    )
    project.apply()
    assert project.platform("contacts")["w1"]["owner_email"] == "sandbox@syncmap.local", (
        "the owner's email did not come in"
    )

    project.edit_on_platform("contacts", "w1", owner_email="rep@acme.test")
    project.apply()
    assert project.soql(f"SELECT OwnerId FROM Lead WHERE Id = '{lead}'") == [{"OwnerId": rep}]


def test_sync_users_maps_users_to_owners_by_email_and_removes_mappings_that_stop_qualifying(project):
    project.use("aloware")
    ana = project.in_salesforce("User", Username="ana@acme.test", Email="ana@acme.test", LastName="Lopez")
    bo = project.in_salesforce("User", Username="bo@acme.test", Email="bo@acme.test", LastName="Kim")
    project.in_salesforce("User", Username="cy@acme.test", Email="cy@acme.test", LastName="Ng")
    project.on_platform(
        "users",
        {"id": "u1", "email": " Ana@Acme.test", "status": "active", "kind": "user"},
        {"id": "u2", "email": "bo@acme.test", "status": "active", "kind": "user"},
        {"id": "u3", "email": "cy@acme.test", "status": "suspended", "kind": "user"},
        {"id": "u4", "email": "line@acme.test", "status": "active", "kind": "extension"},
    )
    report = project.apply(objects=("users",))
    assert actions(report, "create") == [] and actions(report, "update") == [], (
        "Sync users created or changed a user"
    )
    with project.job() as job:
        assert {s: link.target_id for s, link in job.state.links(job.name, "users").items()} == {
            "u1": ana,
            "u2": bo,
        }
    assert ("source", "users", "Aloware user inactive or suspended") in actions(report, "skip")
    assert ("source", "users", "an extension/destination, not a user") in actions(report, "skip")

    project.edit_on_platform("users", "u1", status="suspended")
    project.sf.User.update(bo, {"IsActive": False})
    report = project.apply(objects=("users",))
    assert ("source", "users", "Aloware user inactive or suspended; its link is removed") in actions(
        report, "skip"
    )
    assert ("target", "User", "Salesforce owner deactivated; its link is removed") in actions(report, "skip")
    with project.job() as job:
        assert job.state.links(job.name, "users") == {}, (
            "a mapping of a user who no longer qualifies was kept"
        )
    assert (
        len(project.platform("users")) == 4 and project.sf.query("SELECT COUNT() FROM User")["totalSize"] == 4
    )

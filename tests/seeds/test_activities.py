"""Seeds 000 and 004: calls, texts, tasks, touchpoints and campaign touches as Salesforce
activities, with the rules that are easy to get wrong."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from engine.connectors import Write
from engine.preview import render_text
from engine.remote import check_remote
from engine.sandbox import Sandbox
from tests.seeds.conftest import ACTIVITY_FIELDS, actions, new_project

NOT_LINKED_YET = {"objects": {"contacts": {"direction": {"create": "to_source", "update": "both"}}}}


def test_calls_and_texts_become_completed_tasks_on_the_linked_record(project):
    project.use("avochato")
    lead = project.in_salesforce(
        "Lead", FirstName="Ana", LastName="Lopez", Company="L", MobilePhone="+14155550100"
    )
    project.on_platform(
        "contacts", {"id": "a1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}
    )
    project.on_platform(
        "activities",
        {"id": "act1", "contact_id": "a1", "kind": "call", "direction": "inbound",
         "occurred_at": "2026-11-20T09:30:00Z", "body": "Asked about pricing"},
        {"id": "act2", "contact_id": "a1", "kind": "text", "direction": "outbound",
         "occurred_at": "2026-11-21T16:00:00Z", "body": "Here is the quote"},
        {"id": "act3", "contact_id": "a1", "kind": "voicemail_greeting", "occurred_at": "2026-11-21T16:00:00Z"},
    )  # fmt: skip
    report = project.apply()
    assert ("source", "activities", "not a call, text or note") in actions(report, "skip")
    tasks = project.soql(
        "SELECT Subject, Description, Status, IsClosed, WhoId, ActivityDate, Avochato_Activity_Id__c "
        "FROM Task ORDER BY Avochato_Activity_Id__c"
    )
    assert tasks == [
        {"Subject": "Call inbound (2026-11-20)", "Description": "Asked about pricing", "Status": "Completed",
         "IsClosed": True, "WhoId": lead, "ActivityDate": "2026-11-20", "Avochato_Activity_Id__c": "act1"},
        {"Subject": "Text message outbound (2026-11-21)", "Description": "Here is the quote", "Status": "Completed",
         "IsClosed": True, "WhoId": lead, "ActivityDate": "2026-11-21", "Avochato_Activity_Id__c": "act2"},
    ]  # fmt: skip
    assert not project.plan().has_changes(), "logging the activities again would duplicate them"


def test_an_activity_of_an_unlinked_contact_waits_until_the_link_exists(project):
    project.use("avochato", NOT_LINKED_YET)  # contacts are not created in Salesforce: b1 stays unlinked
    project.on_platform(
        "contacts", {"id": "b1", "first_name": "Bo", "last_name": "Kim", "phone": "4155550101"}
    )
    project.on_platform(
        "activities",
        {
            "id": "act9",
            "contact_id": "b1",
            "kind": "call",
            "direction": "inbound",
            "occurred_at": "2026-11-20T09:30:00Z",
        },
    )
    first = project.apply()
    waiting = [c for s in first.changeset.steps for c in s.changes if c.record_id == "act9"]
    assert [(c.action, c.reason, c.counted) for c in waiting] == [
        ("skip", "contacts b1 is not linked yet; waiting", False)
    ]
    assert project.soql("SELECT Id FROM Task") == []

    contact = project.in_salesforce("Contact", FirstName="Bo", LastName="Kim", Phone="(415) 555-0101")
    project.apply()
    assert project.soql("SELECT WhoId, Subject FROM Task") == [
        {"WhoId": contact, "Subject": "Call inbound (2026-11-20)"}
    ], "the waiting activity was not logged once its contact was linked"


def totango_accounts(project, *names: str) -> list[str]:
    """Salesforce Accounts, and the Totango accounts holding their ids lower-cased."""
    ids = [project.in_salesforce("Account", Name=name) for name in names]
    project.on_platform(
        "accounts",
        *({"id": i.lower(), "account_id": i.lower(), "name": n} for i, n in zip(ids, names, strict=True)),
    )
    return ids


def old(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="microseconds")


def test_outbound_tasks_land_on_matched_accounts_only_recent_ones_and_the_account_is_set_once(project):
    project.use("totango-tasks-outbound")
    rep = project.in_salesforce("User", Username="rep@acme.test", Email="rep@acme.test", LastName="Rep")
    globex, initech = totango_accounts(project, "Globex", "Initech")
    project.on_platform(
        "tasks",
        {"id": "t1", "account_id": globex.lower(), "title": "Renewal call", "priority": "High",
         "status": "Not Started", "due_date": "2026-12-01", "assigned_to": "rep@acme.test"},
        {"id": "t2", "account_id": "001000000000999aaa", "title": "Unmatched account"},
        {"id": "t3", "account_id": globex.lower(), "title": "Old news", "updated_at": old(40)},
    )  # fmt: skip
    report = project.apply()
    assert project.soql("SELECT Subject, WhatId, Priority, Status, ActivityDate, OwnerId FROM Task") == [
        {"Subject": "Renewal call", "WhatId": globex, "Priority": "High", "Status": "Not Started",
         "ActivityDate": "2026-12-01", "OwnerId": rep}
    ], "the task was not written on its account, or an old or unmatched task was"  # fmt: skip
    unmatched = [c for s in report.changeset.steps for c in s.changes if c.record_id == "t2"]
    assert [(c.action, c.counted) for c in unmatched] == [("skip", False)], "an unmatched task was counted"
    assert report.changeset.counts()["skip"] == 0

    project.edit_on_platform("tasks", "t1", title="Renewal call (moved)", account_id=initech.lower())
    project.apply()
    assert project.soql("SELECT Subject, WhatId FROM Task") == [
        {"Subject": "Renewal call (moved)", "WhatId": globex}
    ], "WhatId changed on update"

    with project.platform_store() as store:
        store.write("tasks", [Write("gone", "delete", "tasks", "t1")])
    project.apply()
    assert project.soql("SELECT Id FROM Task") == [], "a task deleted in Totango was kept in Salesforce"


def test_with_the_create_toggle_off_only_matched_tasks_are_updated(project):
    project.use("totango-tasks-outbound", {"objects": {"tasks": {"direction": {"create": "none"}}}})
    (globex,) = totango_accounts(project, "Globex")
    existing = project.in_salesforce("Task", Subject="Kickoff", WhatId=globex)
    project.on_platform(
        "tasks",
        {
            "id": "t1",
            "account_id": globex.lower(),
            "external_id": existing.lower(),
            "title": "Kickoff (agenda)",
        },
        {"id": "t2", "account_id": globex.lower(), "title": "Brand new"},
    )
    report = project.apply()
    assert project.soql("SELECT Subject FROM Task") == [{"Subject": "Kickoff (agenda)"}]
    assert ("source", "tasks", "no match, and creating records in the target is off") in actions(
        report, "skip"
    )


CAMPAIGN_TOUCHES = [
    {"id": "CT-1", "account_id": None, "campaign_type": "ongoing", "campaign_name": "Spring launch",
     "recipients": 120, "sender_email": "ana@acme.com", "start_date": "2026-11-20"},
    {"id": "CT-2", "account_id": None, "campaign_type": "one_time", "campaign_name": "Webinar",
     "recipients": 8, "sender_email": "bo@acme.com", "start_date": "2026-11-21T08:00:00Z"},
    {"id": "CT-3", "account_id": None, "campaign_type": "ongoing", "campaign_name": "No date",
     "recipients": 1, "sender_email": "bo@acme.com"},
]  # fmt: skip


def campaign_touches(project) -> None:
    (globex,) = totango_accounts(project, "Globex")
    project.on_platform(
        "campaign_touches", *({**touch, "account_id": globex.lower()} for touch in CAMPAIGN_TOUCHES)
    )


def test_campaign_touches_become_email_events_with_the_seeds_subject(project):
    project.use("totango-campaign-touches-outbound")
    campaign_touches(project)
    report = project.apply()
    assert project.soql(
        "SELECT Subject, Type, ActivityDate, IsAllDayEvent, Totango_Campaign_Touch_Id__c FROM Event "
        "ORDER BY Totango_Campaign_Touch_Id__c"
    ) == [
        {"Subject": 'Ongoing campaign "Spring launch" was sent to 120 users. From: ana@acme.com', "Type": "Email",
         "ActivityDate": "2026-11-20", "IsAllDayEvent": True, "Totango_Campaign_Touch_Id__c": "CT-1"},
        {"Subject": 'One time campaign "Webinar" was sent to 8 users. From: bo@acme.com', "Type": "Email",
         "ActivityDate": "2026-11-21", "IsAllDayEvent": True, "Totango_Campaign_Touch_Id__c": "CT-2"},
    ]  # fmt: skip
    assert ("source", "campaign_touches", "no start date") in actions(report, "skip")


def test_campaign_touch_events_have_no_type_where_the_event_object_has_none(tmp_path):
    with Sandbox(describe_file=ACTIVITY_FIELDS, drop_fields=["Event.Type"]) as org_without_type:
        project = new_project(tmp_path, org_without_type).use("totango-campaign-touches-outbound")
        campaign_touches(project)
        report = project.apply()
        assert report.failed == 0
        assert sorted(row["Subject"] for row in project.soql("SELECT Subject FROM Event")) == [
            'One time campaign "Webinar" was sent to 8 users. From: bo@acme.com',
            'Ongoing campaign "Spring launch" was sent to 120 users. From: ana@acme.com',
        ], "without a Type field on Event, the campaign touches were not written"


def test_inbound_tasks_are_read_through_the_soql_filter_and_need_a_title(project):
    project.use("totango-tasks-inbound")
    globex, _ = totango_accounts(project, "Globex", "Initech")
    unlinked = project.in_salesforce("Account", Name="Hooli")  # not in Totango
    call = project.in_salesforce(
        "Task", Subject="Call back", WhatId=globex, Priority="High", ActivityDate="2026-12-01"
    )
    project.in_salesforce("Task", Subject="   ", WhatId=globex)
    project.in_salesforce("Task", Subject="No account")  # AccountId = null: outside the SOQL filter
    project.in_salesforce("Task", Subject="Other account", WhatId=unlinked)
    report = project.apply()

    tasks = list(project.platform("tasks").values())
    assert [(t["title"], t["external_id"], t["account_id"], t["priority"], t["due_date"]) for t in tasks] == [
        ("Call back", call.lower(), globex.lower(), "High", "2026-12-01")
    ], "the Salesforce task was not imported with its lower-cased id on its account"
    assert ("target", "Task", "no title") in actions(report, "skip")
    assert all(step.read.get("target", 0) <= 3 for step in report.changeset.steps if step.step == "tasks"), (
        "a task outside the SOQL filter was read"
    )

    project.sf.Task.update(call, {"Subject": "Call back on Monday"})
    project.apply()
    assert [t["title"] for t in project.platform("tasks").values()] == ["Call back on Monday"]
    project.sf.Task.delete(call)
    project.apply()
    assert project.platform("tasks") == {}, "a task deleted in Salesforce was kept in Totango"


def test_inbound_with_the_create_toggle_off_only_updates_tasks_already_in_totango(project):
    project.use("totango-tasks-inbound", {"objects": {"tasks": {"direction": {"create": "none"}}}})
    (globex,) = totango_accounts(project, "Globex")
    known = project.in_salesforce("Task", Subject="Kickoff (agenda)", WhatId=globex)
    project.in_salesforce("Task", Subject="Brand new", WhatId=globex)
    project.on_platform(
        "tasks", {"id": "t1", "account_id": globex.lower(), "external_id": known.lower(), "title": "Kickoff"}
    )
    project.apply()
    assert [t["title"] for t in project.platform("tasks").values()] == ["Kickoff (agenda)"]


def test_two_way_tasks_are_two_jobs_sharing_the_external_id_without_echo(project):
    inbound = project.use("totango-tasks-inbound", name="inbound").mapping
    outbound = project.use("totango-tasks-outbound", name="outbound").mapping
    (globex,) = totango_accounts(project, "Globex")
    project.on_platform("tasks", {"id": "t1", "account_id": globex.lower(), "title": "Renewal call"})

    def run(mapping):
        project.mapping = mapping
        return project.apply()

    run(outbound)
    ((task_id, subject),) = [
        (row["Id"], row["Subject"]) for row in project.soql("SELECT Id, Subject FROM Task")
    ]
    assert (subject, project.platform("tasks")["t1"]["external_id"]) == ("Renewal call", task_id.lower()), (
        "the created Task's id was not stored lower-cased as the Totango task's External ID"
    )
    first_inbound = run(inbound)
    assert actions(first_inbound, "create") == [], "the inbound job imported the outbound job's own Task"
    for mapping in (outbound, inbound, outbound, inbound):
        echo = run(mapping)
        assert actions(echo, "update") == [] and actions(echo, "create") == [], "the two jobs echo each other"

    project.sf.Task.update(task_id, {"Subject": "Renewal call (Salesforce)"})
    time.sleep(0.01)
    project.edit_on_platform("tasks", "t1", title="Renewal call (Totango, later)")
    run(inbound)  # the older Salesforce edit does not overwrite the later Totango one
    run(outbound)
    assert project.platform("tasks")["t1"]["title"] == "Renewal call (Totango, later)"
    assert project.soql("SELECT Subject FROM Task") == [{"Subject": "Renewal call (Totango, later)"}], (
        "the last update lost"
    )


def test_touchpoints_double_map_their_date_and_name_a_participant(project):
    project.use("totango-touchpoints-outbound")
    (globex,) = totango_accounts(project, "Globex")
    contact = project.in_salesforce("Contact", FirstName="Ana", LastName="Lopez", Email="ana@globex.example")
    project.on_platform("contacts", {"id": "p1", "email": " Ana@Globex.example"})
    project.on_platform(
        "touchpoints",
        {"id": "tp1", "account_id": globex.lower(), "subject": "QBR", "content": "Went well",
         "touchpoint_date": "2026-11-20T15:00:00Z", "participant_id": "p1"},
    )  # fmt: skip
    report = project.apply()
    assert report.failed == 0, report.to_dict()["failed"]
    assert project.soql("SELECT Subject, ActivityDate, StartDateTime, WhoId, WhatId FROM Event") == [
        {"Subject": "QBR", "ActivityDate": "2026-11-20", "StartDateTime": "2026-11-20T15:00:00.000+0000",
         "WhoId": contact, "WhatId": globex}
    ], "the touchpoint date was not written to both ActivityDate and StartDateTime, or the participant is missing"  # fmt: skip


TEMPLATES = [
    "avochato", "totango-tasks-outbound", "totango-tasks-inbound", "totango-touchpoints-outbound",
    "totango-touchpoints-inbound", "totango-campaign-touches-outbound",
]  # fmt: skip


def test_the_activity_templates_pass_the_describe_checks_and_raw_references_are_refused(project):
    for template in TEMPLATES:
        with project.use(template).job() as job:
            assert check_remote(job.plan, job.connectors) == [], f"{template} fails the describe checks"

    raw = {"objects": {"tasks": {"fields": {"WhoId": "contact_id", "OwnerId": {"lookup": None}}}}}
    with project.use("totango-tasks-outbound", raw).job() as job:
        problems = check_remote(job.plan, job.connectors)
    assert sorted(p.path[-1] for p in problems) == ["OwnerId", "WhoId"], "a raw value went into a reference"
    assert all("a raw value cannot be written" in p.message for p in problems)


def test_a_consultants_soql_filter_is_checked_at_compile_time_and_its_values_escaped(project):
    typo = {"objects": {"tasks": {"target": {"where": "AccountId != null AND IsArchivd = false"}}}}
    with project.use("totango-tasks-inbound", typo).job() as job:
        (problem,) = check_remote(job.plan, job.connectors)
    assert problem.path == ("objects", "tasks", "target", "where")
    written = project.mapping.read_text().splitlines()[problem.location.line - 1]
    assert "IsArchivd" in written and problem.location.file.endswith("customer.yaml"), (
        "the filter's mistake is not shown at its place in the document"
    )
    assert "IsArchivd" in problem.message

    (globex,) = totango_accounts(project, "Globex")
    project.in_salesforce("Task", Subject="It's done", WhatId=globex)
    project.in_salesforce("Task", Subject="Other", WhatId=globex)
    quoted = {"objects": {"tasks": {"target": {"where": "Subject = 'It\\'s done'"}}}}
    project.use("totango-tasks-inbound", quoted).apply()
    assert [t["title"] for t in project.platform("tasks").values()] == ["It's done"]


def test_inbound_touchpoints_need_a_subject_or_content_and_keep_their_participant(project):
    project.use("totango-touchpoints-inbound")
    (globex,) = totango_accounts(project, "Globex")
    contact = project.in_salesforce("Contact", FirstName="Ana", LastName="Lopez", Email="ana@globex.example")
    project.on_platform("contacts", {"id": "p1", "email": "ana@globex.example"})
    meeting = project.in_salesforce(
        "Event", Subject="QBR", WhatId=globex, WhoId=contact, IsAllDayEvent=True, ActivityDate="2026-11-20"
    )
    project.in_salesforce(
        "Event", Description="Notes only", WhatId=globex, IsAllDayEvent=True, ActivityDate="2026-11-20"
    )
    project.in_salesforce("Event", WhatId=globex, IsAllDayEvent=True, ActivityDate="2026-11-20")
    report = project.apply()
    touchpoints = sorted(project.platform("touchpoints").values(), key=lambda t: t.get("subject") or "")
    assert [(t.get("subject"), t.get("content"), t.get("participant_id")) for t in touchpoints] == [
        (None, "Notes only", None),
        ("QBR", None, "p1"),
    ], "a touchpoint with a subject or content was not imported, or lost its participant"
    assert ("target", "Event", "no subject or content") in actions(report, "skip")
    assert touchpoints[1]["external_id"] == meeting.lower()


def test_an_unmatched_accounts_task_is_not_counted_but_shown_in_the_detailed_preview(project):
    project.use("totango-tasks-outbound")
    totango_accounts(project, "Globex")
    project.on_platform("tasks", {"id": "t9", "account_id": "001000000000999aaa", "title": "Unmatched"})
    with project.job() as job:
        changes = job.plan_changes()
        brief = render_text(changes, job.plan)
        detailed = render_text(changes, job.plan, detailed=True)
    assert changes.summary().endswith("0 skipped, 0 conflicts.")
    assert (
        "t9" not in brief
        and "tasks t9" in detailed
        and "accounts 001000000000999aaa is not linked" in detailed
    )


def test_the_created_by_owner_is_set_on_create_and_never_updated_outbound(project):
    project.use("totango-campaign-touches-outbound")
    ana = project.in_salesforce("User", Username="ana@acme.test", Email="ana@acme.test", LastName="Ana")
    project.in_salesforce("User", Username="bo@acme.test", Email="bo@acme.test", LastName="Bo")
    (globex,) = totango_accounts(project, "Globex")
    project.on_platform(
        "campaign_touches",
        {**CAMPAIGN_TOUCHES[0], "account_id": globex.lower(), "created_by": "ana@acme.test"},
    )
    project.apply()
    project.edit_on_platform("campaign_touches", "CT-1", created_by="bo@acme.test", recipients=121)
    project.apply()
    assert project.soql("SELECT OwnerId, Subject FROM Event") == [
        {
            "OwnerId": ana,
            "Subject": 'Ongoing campaign "Spring launch" was sent to 121 users. From: ana@acme.com',
        }
    ], "the owner changed on update, or the update did not arrive"

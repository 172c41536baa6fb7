"""Seeds 000, 002 and 003: a platform contact is the same person as a Lead or Contact with the same
phone number, however either side writes it; once linked, the link holds."""

from __future__ import annotations

from tests.seeds.conftest import actions


def test_a_phone_written_three_ways_matches_one_person_in_e164(project):
    project.use("avochato")
    project.on_platform(
        "contacts",
        {"id": "a1", "first_name": "Ana", "last_name": "Lopez", "phone": "(415) 555-0100"},
        {"id": "a2", "first_name": "Bo", "last_name": "Kim", "phone": "+1 415 555 0101"},
        {"id": "a3", "first_name": "Chen", "last_name": "Wu", "phone": "4155550102"},
    )
    lead = project.in_salesforce("Lead", LastName="Lopez", Company="Lopez & Co", MobilePhone="+14155550100")
    contact = project.in_salesforce("Contact", FirstName="Bo", LastName="Kim", Phone="415-555-0101")
    other = project.in_salesforce(
        "Lead", FirstName="Chen", LastName="Wu", Company="Wu", Phone="(415) 555 0102"
    )

    report = project.apply()

    assert actions(report, "create") == [], "a phone written another way was taken for a new person"
    assert sorted(
        c.record_id for s in report.changeset.steps for c in s.changes if c.action == "link"
    ) == sorted([lead, contact, other])
    assert project.soql(f"SELECT FirstName, MobilePhone FROM Lead WHERE Id = '{lead}'") == [
        {"FirstName": "Ana", "MobilePhone": "+14155550100"}
    ], "the linked Lead did not get the platform's first name"


def test_the_link_holds_after_the_phone_changes_on_either_side(project):
    project.use("avochato")
    project.on_platform(
        "contacts", {"id": "a1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}
    )
    lead = project.in_salesforce("Lead", LastName="Lopez", Company="Lopez & Co", MobilePhone="+14155550100")
    project.apply()

    project.edit_on_platform("contacts", "a1", phone="(415) 555-0199")
    report = project.apply()
    assert actions(report, "create") == [], "a changed phone made a new record instead of following the link"
    assert project.soql(f"SELECT MobilePhone, Phone FROM Lead WHERE Id = '{lead}'") == [
        {"MobilePhone": "+14155550199", "Phone": "+14155550199"}
    ]

    project.sf.Lead.update(lead, {"MobilePhone": "+1 628 555 0123"})
    report = project.apply()
    assert actions(report, "create") == []
    assert project.platform("contacts")["a1"]["phone"] == "+16285550123", (
        "Salesforce's new phone did not reach the platform"
    )
    assert project.sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1


def test_the_priority_type_wins_and_the_other_is_ignored_also_when_pushing(project):
    project.use("phoneiq")  # priority: Contact
    project.on_platform(
        "contacts", {"id": "q1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}
    )
    lead = project.in_salesforce("Lead", FirstName="Old", LastName="Lopez", Company="L", Phone="415 555 0100")
    contact = project.in_salesforce("Contact", FirstName="Old", LastName="Lopez", MobilePhone="+14155550100")
    project.apply()
    project.edit_on_platform("contacts", "q1", first_name="Anabel")

    report = project.apply(flow="to_target", full=True)  # a push

    names = {row["Id"]: row["FirstName"] for row in project.soql("SELECT Id, FirstName FROM Contact")}
    assert names[contact] == "Anabel", "the Contact (the priority type) was not updated"
    assert project.soql(f"SELECT FirstName FROM Lead WHERE Id = '{lead}'") == [{"FirstName": "Old"}], (
        "the Lead sharing the phone was written although the Contact has priority"
    )
    assert ("target", "Lead", "a Contact with the same phone has priority") in actions(report, "skip")


def test_lead_priority_makes_the_contact_the_ignored_one(project):
    project.use("aloware")  # priority: Lead
    project.on_platform(
        "contacts", {"id": "w1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}
    )
    lead = project.in_salesforce("Lead", FirstName="Ana", LastName="Lopez", Company="L", Phone="4155550100")
    project.in_salesforce("Contact", FirstName="Ana", LastName="Lopez", Phone="4155550100")
    report = project.apply()
    assert [c.record_id for s in report.changeset.steps for c in s.changes if c.action == "link"] == [lead]
    assert ("target", "Contact", "a Lead with the same phone has priority") in actions(report, "skip")


def test_the_default_object_is_created_when_nothing_matches(project):
    project.use("phoneiq")  # Default Objects: Contacts
    project.on_platform(
        "contacts", {"id": "q1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}
    )
    project.apply()
    assert project.soql("SELECT FirstName, MobilePhone FROM Contact") == [
        {"FirstName": "Ana", "MobilePhone": "+14155550100"}
    ]
    assert project.soql("SELECT Id FROM Lead") == []


def test_default_object_leads_creates_leads_with_a_company(project):
    project.use("phoneiq", {"objects": {"contacts": {"target": {"create_as": "Lead"}}}})
    project.on_platform(
        "contacts", {"id": "q1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}
    )
    project.apply()
    assert project.soql("SELECT FirstName, Company FROM Lead") == [
        {"FirstName": "Ana", "Company": "[not provided]"}
    ]
    assert project.soql("SELECT Id FROM Contact") == []


def test_leads_only_never_touches_contacts(project):
    project.use(
        "phoneiq",
        {
            "objects": {
                "contacts": {
                    "target": {"object": "Lead", "priority": None, "create_as": "Lead"},
                    "fields": {"Account.Name": None},  # a Contact-only field goes with the Contacts
                }
            }
        },
    )
    project.on_platform(
        "contacts", {"id": "q1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}
    )
    project.in_salesforce("Contact", FirstName="Old", LastName="Lopez", Phone="4155550100")
    report = project.apply()
    assert actions(report, "link") == [], "Leads only linked a Contact"
    assert project.soql("SELECT FirstName FROM Contact") == [{"FirstName": "Old"}]
    assert project.soql("SELECT FirstName, MobilePhone FROM Lead") == [
        {"FirstName": "Ana", "MobilePhone": "+14155550100"}
    ]


def test_contacts_only_never_touches_leads(project):
    project.use(
        "phoneiq",
        {
            "objects": {
                "contacts": {
                    "target": {"object": "Contact", "priority": None, "create_as": "Contact"},
                    "fields": {"Company": None},  # a Lead-only field goes with the Leads
                }
            }
        },
    )
    project.in_salesforce("Lead", FirstName="Bo", LastName="Kim", Company="K", Phone="4155550101")
    report = project.apply()
    assert actions(report, "create") == [], "Contacts only brought a Lead over"
    assert project.platform("contacts") == {}

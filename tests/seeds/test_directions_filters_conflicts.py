"""Seeds 002 and 003: which way records are created and updated, which Salesforce records are
brought over, and who wins when two records disagree."""

from __future__ import annotations

import time

from tests.seeds.conftest import actions

ANA = {"id": "q1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}


def test_phoneiq_to_salesforce_only_creates_in_salesforce_and_never_on_the_platform(project):
    project.use("phoneiq", {"objects": {"contacts": {"direction": "to_target"}}})
    project.on_platform("contacts", ANA)
    project.in_salesforce("Contact", FirstName="Bo", LastName="Kim", Phone="4155550101")
    report = project.apply()
    assert len(project.soql("SELECT Id FROM Contact")) == 2, (
        "the platform contact was not created in Salesforce"
    )
    assert list(project.platform("contacts")) == ["q1"], "a Salesforce contact was created on the platform"
    assert ("target", "Contact", "no match, and creating records in the source is off") in actions(
        report, "skip"
    )


def test_phoneiq_salesforce_to_platform_only_creates_on_the_platform(project):
    project.use("phoneiq", {"objects": {"contacts": {"direction": "to_source"}}})
    project.on_platform("contacts", ANA)
    project.in_salesforce("Contact", FirstName="Bo", LastName="Kim", Phone="(415) 555-0101")
    project.apply()
    assert project.soql("SELECT FirstName FROM Contact") == [{"FirstName": "Bo"}]
    created = [c for c in project.platform("contacts").values() if c["first_name"] == "Bo"]
    assert [c["phone"] for c in created] == ["+14155550101"], "the Salesforce contact was not brought over"


def test_aloware_creates_inbound_only_and_updates_both_ways(project):
    project.use("aloware")  # create: to_source (recommended), update: both
    project.on_platform(
        "contacts", {"id": "w1", "first_name": "Ana", "last_name": "Lopez", "phone": "4155550100"}
    )
    lead = project.in_salesforce("Lead", FirstName="Bo", LastName="Kim", Company="Kim", Phone="4155550101")
    report = project.apply()
    assert ("source", "contacts", "no match, and creating records in the target is off") in actions(
        report, "skip"
    )
    assert project.sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1
    (bo,) = [i for i, c in project.platform("contacts").items() if c["first_name"] == "Bo"]

    project.edit_on_platform("contacts", bo, first_name="Bobby")
    project.apply()
    assert project.soql(f"SELECT FirstName FROM Lead WHERE Id = '{lead}'") == [{"FirstName": "Bobby"}], (
        "a platform update did not reach Salesforce although updates are bi-directional"
    )


def test_aloware_inbound_updates_never_write_to_salesforce(project):
    project.use("aloware", {"objects": {"contacts": {"direction": {"update": "to_source"}}}})
    lead = project.in_salesforce("Lead", FirstName="Bo", LastName="Kim", Company="Kim", Phone="4155550101")
    project.apply()
    (bo,) = project.platform("contacts")
    project.edit_on_platform("contacts", bo, first_name="Bobby")
    project.sf.Lead.update(lead, {"LastName": "Kimura"})
    project.apply()
    assert project.soql(f"SELECT FirstName FROM Lead WHERE Id = '{lead}'") == [{"FirstName": "Bo"}]
    assert project.platform("contacts")[bo]["last_name"] == "Kimura", "a Salesforce update did not come in"


def test_only_salesforce_records_with_a_valid_phone_and_a_first_name_are_brought_over(project):
    project.use("phoneiq")
    project.in_salesforce("Contact", FirstName="Bo", LastName="Kim", Phone="4155550101")
    project.in_salesforce("Contact", FirstName="Nophone", LastName="Kim", Phone="n/a")
    project.in_salesforce("Contact", LastName="Nofirstname", MobilePhone="4155550102")
    report = project.apply()
    assert [c["first_name"] for c in project.platform("contacts").values()] == ["Bo"]
    assert actions(report, "skip") == [
        ("target", "Contact", "no first name"),
        ("target", "Contact", "no valid phone"),
    ]


def test_company_is_filled_one_way_from_the_contacts_account(project):
    project.use("phoneiq")
    account = project.in_salesforce("Account", Name="Globex")
    project.in_salesforce("Contact", FirstName="Bo", LastName="Kim", Phone="4155550101", AccountId=account)
    project.apply()
    ((bo, values),) = project.platform("contacts").items()
    assert values["company"] == "Globex", "the Account name did not fill the platform's Company"

    project.edit_on_platform("contacts", bo, company="Initech", job_title="CTO")
    report = project.apply()
    assert report.failed == 0
    assert project.soql("SELECT Name FROM Account") == [{"Name": "Globex"}], (
        "Company was written to Salesforce"
    )
    assert project.soql("SELECT Title FROM Contact") == [{"Title": "CTO"}]


def test_duplicate_phone_keep_salesforce_record(project):
    project.use("phoneiq")  # When a conflict presents: Keep Salesforce Record
    project.on_platform("contacts", {**ANA, "email": "ana@platform.example"})
    project.in_salesforce(
        "Contact", FirstName="Anna", LastName="Lopez", Phone="4155550100", Email="ana@crm.example"
    )
    project.apply()
    assert project.platform("contacts")["q1"]["first_name"] == "Anna"
    assert project.platform("contacts")["q1"]["email"] == "ana@crm.example"
    assert project.soql("SELECT FirstName, Email FROM Contact") == [
        {"FirstName": "Anna", "Email": "ana@crm.example"}
    ]


def test_duplicate_phone_keep_platform_record(project):
    project.use("phoneiq", {"objects": {"contacts": {"conflicts": {"duplicate_key": "keep_source"}}}})
    project.on_platform("contacts", {**ANA, "email": "ana@platform.example"})
    project.in_salesforce(
        "Contact", FirstName="Anna", LastName="Lopez", Phone="4155550100", Email="ana@crm.example"
    )
    project.apply()
    assert project.platform("contacts")["q1"]["first_name"] == "Ana"
    assert project.soql("SELECT FirstName, Email FROM Contact") == [
        {"FirstName": "Ana", "Email": "ana@platform.example"}
    ]


def test_concurrent_edits_the_last_update_wins(project):
    project.use("phoneiq")
    project.on_platform("contacts", ANA)
    contact = project.in_salesforce("Contact", FirstName="Ana", LastName="Lopez", Phone="4155550100")
    project.apply()

    project.sf.Contact.update(contact, {"FirstName": "Salesforce edit"})
    time.sleep(0.01)
    project.edit_on_platform("contacts", "q1", first_name="Platform edit")
    report = project.apply()
    assert project.soql("SELECT FirstName FROM Contact") == [{"FirstName": "Platform edit"}], (
        "the later edit lost"
    )
    assert any("last_write_wins" in (c.reason or "") for s in report.changeset.steps for c in s.changes)

    project.edit_on_platform("contacts", "q1", first_name="Platform again")
    time.sleep(0.01)
    project.sf.Contact.update(contact, {"FirstName": "Salesforce later"})
    project.apply()
    assert project.platform("contacts")["q1"]["first_name"] == "Salesforce later", "the later edit lost"


def test_a_first_match_never_blanks_a_value_even_one_way(project):
    project.use("aloware", {"objects": {"contacts": {"direction": {"update": "to_source"}}}})
    project.on_platform(
        "contacts", {"id": "w1", "first_name": "Ana", "phone": "4155550100", "email": "ana@example.com"}
    )
    project.in_salesforce("Lead", FirstName="Ana", LastName="Lopez", Company="L", Phone="4155550100")
    report = project.apply()
    assert project.platform("contacts")["w1"]["email"] == "ana@example.com", (
        "Salesforce's empty Email blanked it"
    )
    assert project.platform("contacts")["w1"]["last_name"] == "Lopez", (
        "Salesforce's LastName did not fill the gap"
    )
    assert actions(report, "conflict") == []

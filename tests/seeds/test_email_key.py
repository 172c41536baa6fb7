"""Seed 001 (SyncApps): the email address is the key, compared trimmed and lower-cased; a record
without one is skipped; records are created both ways; updates reach Salesforce only when Field
Mapping is enabled."""

from __future__ import annotations

from tests.seeds.conftest import actions


def test_an_email_matches_trimmed_and_lower_cased(project):
    project.use("syncapps")
    project.on_platform("subscribers", {"id": "s1", "email": "  Ana.Lopez@Example.COM ", "first_name": "Ana"})
    contact = project.in_salesforce("Contact", LastName="Lopez", Email="ana.lopez@example.com")
    report = project.apply()
    assert [c.record_id for s in report.changeset.steps for c in s.changes if c.action == "link"] == [contact]
    assert actions(report, "create") == [], "the same email written differently made a second person"


def test_records_without_an_email_are_skipped_with_the_reason_no_email(project):
    project.use("syncapps")
    project.on_platform("subscribers", {"id": "s1", "email": "", "first_name": "Ana"})
    project.in_salesforce("Contact", LastName="Kim", Phone="4155550101")
    report = project.apply()
    assert actions(report, "skip") == [
        ("source", "subscribers", "no email"),
        ("target", "Contact", "no email"),
    ]
    assert actions(report, "create") == []


def test_a_record_absent_on_the_other_side_is_created_both_ways(project):
    project.use("syncapps")
    project.on_platform("subscribers", {"id": "s1", "email": "ana@example.com", "first_name": "Ana"})
    project.in_salesforce(
        "Contact", FirstName="Bo", LastName="Kim", Email="Bo.Kim@Example.com", Phone="4155550101"
    )
    project.apply()
    assert project.soql("SELECT FirstName, LastName, Email FROM Contact WHERE FirstName = 'Ana'") == [
        {"FirstName": "Ana", "LastName": "[not provided]", "Email": "ana@example.com"}
    ]
    (bo,) = [
        values for values in project.platform("subscribers").values() if values.get("first_name") == "Bo"
    ]
    assert (bo["email"], bo["last_name"], bo["phone"]) == ("bo.kim@example.com", "Kim", "4155550101")


def test_updates_reach_salesforce_only_when_field_mapping_is_enabled(project):
    project.use("syncapps")  # Field Mapping enabled: update to_target
    project.on_platform("subscribers", {"id": "s1", "email": "ana@example.com", "first_name": "Ana"})
    contact = project.in_salesforce("Contact", FirstName="Ana", LastName="Lopez", Email="ana@example.com")
    project.apply()
    project.edit_on_platform("subscribers", "s1", first_name="Anabel")
    project.sf.Contact.update(contact, {"LastName": "Lopez-Diaz"})
    project.apply()
    assert project.soql("SELECT FirstName, LastName FROM Contact") == [
        {"FirstName": "Anabel", "LastName": "Lopez-Diaz"}  # the placeholder default never overwrites it
    ]
    assert project.platform("subscribers")["s1"].get("last_name") is None, (
        "a Salesforce update reached the list"
    )


def test_with_field_mapping_disabled_existing_salesforce_records_are_not_updated(project):
    project.use("syncapps", {"objects": {"contacts": {"direction": {"update": "none"}}}})
    project.on_platform("subscribers", {"id": "s1", "email": "ana@example.com", "first_name": "Ana"})
    project.in_salesforce("Contact", FirstName="Old", LastName="Lopez", Email="ana@example.com")
    report = project.apply()
    assert actions(report, "update") == []
    assert project.soql("SELECT FirstName FROM Contact") == [{"FirstName": "Old"}]

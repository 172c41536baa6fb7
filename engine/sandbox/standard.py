"""The standard objects every sandbox org starts with: Lead, Contact, Account, Task, Event, User,
LeadStatus.

Only the fields integrations commonly touch are here, with Salesforce's names, types, lengths,
required-ness and picklist values; an org's extra fields come from a describe file instead.
"""

from __future__ import annotations

from engine.sandbox.schema import Field, SObject, system_fields

LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
ACTIVITY_TYPES = ("Call", "Email", "Meeting", "Other")
READ_ONLY = {"createable": False, "updateable": False}


def text(name: str, length: int = 255, label: str = "", **options) -> Field:
    return Field(name, "string", label or name, length, **options)


def typed(name: str, kind: str, label: str = "", **options) -> Field:
    length = {"email": 80, "phone": 40, "textarea": 32000, "url": 255}.get(kind, 0)
    return Field(name, kind, label or name, length, **options)


def picklist(name: str, values: tuple[str, ...], default: str | None = None, **options) -> Field:
    return Field(name, "picklist", name, 255, picklist=values, default=default, **options)


def reference(name: str, to: tuple[str, ...], relationship: str, **options) -> Field:
    return Field(name, "reference", name, 18, reference_to=to, relationship_name=relationship, **options)


def owner() -> Field:
    return reference("OwnerId", ("User",), "Owner", nillable=False, filled_by_org=True)


def person_name_fields() -> tuple[Field, ...]:
    return (
        text("FirstName", 40, "First Name"),
        text("LastName", 80, "Last Name", nillable=False),
        text("Name", 121, "Full Name", **READ_ONLY),
    )


def activity_fields() -> tuple[Field, ...]:
    return (
        typed("Subject", "combobox"),
        typed("Description", "textarea"),
        reference("WhoId", ("Contact", "Lead"), "Who"),
        reference("WhatId", ("Account",), "What"),
        reference("AccountId", ("Account",), "Account", **READ_ONLY),
        owner(),
        picklist("Type", ACTIVITY_TYPES),
        typed("IsArchived", "boolean", "Archived", nillable=False, default=False, **READ_ONLY),
    )


def person_account_fields() -> tuple[Field, ...]:
    """The fields an org with Person Accounts enabled adds to Account: an Account with a
    LastName is a person, and its Name is derived from the first and last names."""
    return (
        text("FirstName", 40, "First Name"),
        text("LastName", 80, "Last Name"),
        typed("PersonEmail", "email", "Email"),
        typed("PersonMobilePhone", "phone", "Mobile"),
    )


def standard_objects(person_accounts: bool = False) -> tuple[SObject, ...]:
    """The standard sObjects, each with the system fields first as describe lists them.
    ``person_accounts`` gives Account the fields of an org with Person Accounts enabled."""
    lead = (
        *person_name_fields(),
        text("Company", nillable=False),
        text("Title", 128),
        typed("Email", "email"),
        typed("Phone", "phone"),
        typed("MobilePhone", "phone", "Mobile Phone"),
        text("City", 40),
        picklist("Status", LEAD_STATUSES, "Open - Not Contacted", nillable=False, restricted=True),
        picklist("LeadSource", LEAD_SOURCES),
        typed("Description", "textarea"),
        typed("IsConverted", "boolean", nillable=False, default=False, **READ_ONLY),
        typed("HasOptedOutOfEmail", "boolean", nillable=False, default=False),
        owner(),
    )
    contact = (
        *person_name_fields(),
        typed("Email", "email"),
        typed("Phone", "phone"),
        typed("MobilePhone", "phone", "Mobile Phone"),
        text("Title", 128),
        text("MailingCity", 40, "Mailing City"),
        reference("AccountId", ("Account",), "Account"),
        picklist("LeadSource", LEAD_SOURCES),
        typed("Birthdate", "date"),
        typed("Description", "textarea"),
        typed("HasOptedOutOfEmail", "boolean", nillable=False, default=False),
        owner(),
    )
    account = (
        text("Name", nillable=False),
        typed("Phone", "phone"),
        typed("Website", "url"),
        text("AccountNumber", 40),
        picklist("Industry", ("Agriculture", "Banking", "Retail", "Technology", "Other")),
        typed("Description", "textarea"),
        typed("IsPersonAccount", "boolean", nillable=False, default=False, **READ_ONLY),
        owner(),
        *(person_account_fields() if person_accounts else ()),
    )
    task = (
        *activity_fields(),
        picklist("Status", TASK_STATUSES, "Not Started", nillable=False, restricted=True),
        picklist("Priority", ("High", "Normal", "Low"), "Normal", nillable=False, restricted=True),
        typed("ActivityDate", "date", "Due Date Only"),
        typed("CallDurationInSeconds", "int", "Call Duration"),
        picklist("CallType", ("Internal", "Inbound", "Outbound")),
        typed("IsClosed", "boolean", "Closed", nillable=False, default=False, **READ_ONLY),
    )
    event = (
        *activity_fields(),
        typed("StartDateTime", "datetime", "Start Date Time"),
        typed("EndDateTime", "datetime", "End Date Time"),
        typed("ActivityDate", "date", "Due Date Only"),
        typed("DurationInMinutes", "int", "Duration"),
        text("Location"),
        typed("IsAllDayEvent", "boolean", "All-Day Event", nillable=False, default=False),
        typed("IsChild", "boolean", "Is Child", nillable=False, default=False, **READ_ONLY),
    )
    user = (
        text("Username", 80, nillable=False, unique=True, id_lookup=True),
        typed("Email", "email", nillable=False),
        *person_name_fields(),
        text("Alias", 8),
        typed("IsActive", "boolean", "Active", nillable=False, default=True),
    )
    lead_status = (
        text("MasterLabel", 255, "Master Label", **READ_ONLY),
        text("ApiName", 255, "Api Name", **READ_ONLY),
        typed("SortOrder", "int", "Sort Order", **READ_ONLY),
        typed("IsDefault", "boolean", "Is Default", nillable=False, default=False, **READ_ONLY),
        typed("IsConverted", "boolean", "Is Converted", nillable=False, default=False, **READ_ONLY),
    )
    system = system_fields()
    return (
        SObject("Lead", "00Q", system + lead, "Lead"),
        SObject("Contact", "003", system + contact, "Contact"),
        SObject("Account", "001", system + account, "Account"),
        SObject("Task", "00T", system + task, "Task", feed_enabled=False),
        SObject("Event", "00U", system + event, "Event", feed_enabled=False),
        SObject("User", "005", system + user, "User", "Users", deletable=False),
        SObject(
            "LeadStatus",
            "01J",
            system + lead_status,
            "Lead Status",
            "Lead Status Values",
            createable=False,
            updateable=False,
            deletable=False,
            feed_enabled=False,
        ),
    )

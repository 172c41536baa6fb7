"""REST resources through simple-salesforce: discovery, describe, record CRUD, upsert, errors."""

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from engine.sandbox import Sandbox, ids


def error_code(excinfo) -> str:
    return excinfo.value.content[0]["errorCode"]


def test_versions_list_is_public_and_includes_the_client_version(sandbox):
    session = sandbox.http_session()
    versions = session.get(f"{sandbox.instance_url}/services/data/").json()
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions


def test_resources_and_limits(sf):
    resources = sf.restful("")
    assert resources["query"] == "/services/data/v59.0/query"
    assert resources["sobjects"] == "/services/data/v59.0/sobjects"
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 15000
    assert 0 < limits["DailyApiRequests"]["Remaining"] < 15000
    assert sf.api_usage["api-usage"].total == 15000


def test_describe_global_lists_standard_and_custom_objects(sf):
    described = {s["name"]: s for s in sf.describe()["sobjects"]}
    assert {"Lead", "Contact", "Account", "Task", "Event", "User", "Foo__c"} <= set(described)
    assert described["Lead"]["keyPrefix"] == "00Q"
    assert described["Foo__c"] | {"custom": True, "keyPrefix": "a0X"} == described["Foo__c"]
    assert described["Task"]["queryable"] and not described["Task"]["feedEnabled"]


def test_describe_reports_field_properties(sf):
    fields = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert fields["LastName"]["nillable"] is False
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["AccountId"]["relationshipName"] == "Account"
    assert fields["Email"]["type"] == "email"
    assert fields["CreatedDate"]["createable"] is False
    lead = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert "Working - Contacted" in [p["value"] for p in lead["Status"]["picklistValues"]]
    assert lead["Bar__c"]["custom"] is True
    account = {f["name"]: f for f in sf.Account.describe()["fields"]}
    assert account["IsPersonAccount"]["updateable"] is False
    task = {f["name"]: f for f in sf.Task.describe()["fields"]}
    assert "Email" in [p["value"] for p in task["Type"]["picklistValues"]]
    assert "Foo__c" in task["WhatId"]["referenceTo"]


def test_describe_of_custom_object_and_metadata(sf):
    describe = sf.Foo__c.describe()
    fields = {f["name"]: f for f in describe["fields"]}
    assert fields["ExtId__c"]["externalId"] and fields["ExtId__c"]["idLookup"]
    assert fields["Lead__c"]["relationshipName"] == "Lead__r"
    assert sf.Foo__c.metadata()["objectDescribe"]["name"] == "Foo__c"


def test_org_without_task_type():
    with Sandbox(drop_fields=["Task.Type"]) as sandbox:
        sf = sandbox.client()
        names = {f["name"] for f in sf.Task.describe()["fields"]}
        assert "Type" not in names and "Subject" in names
        with pytest.raises(SalesforceMalformedRequest) as excinfo:
            sf.Task.create({"Subject": "Hi", "Type": "Email"})
        assert error_code(excinfo) == "INVALID_FIELD"
        with pytest.raises(SalesforceMalformedRequest) as excinfo:
            sf.query("SELECT Id FROM Task WHERE Type = 'Email'")
        assert error_code(excinfo) == "INVALID_FIELD"


def test_create_get_update_delete(sf):
    created = sf.Lead.create({"LastName": "Crud", "Company": "Crud Co", "Email": "c@crud.io"})
    assert created["success"] is True and created["errors"] == []
    lead = sf.Lead.get(created["id"])
    assert lead["attributes"] == {
        "type": "Lead",
        "url": f"/services/data/v59.0/sobjects/Lead/{created['id']}",
    }
    assert lead["Status"] == "Open - Not Contacted"
    assert lead["Name"] == "Crud"
    assert lead["IsDeleted"] is False
    assert lead["CreatedById"] == lead["OwnerId"] and lead["OwnerId"].startswith("005")
    assert lead["CreatedDate"].endswith("+0000") and len(lead["CreatedDate"]) == 28

    assert sf.Lead.update(created["id"], {"FirstName": "Ada", "Phone": "+1 555"}) == 204
    updated = sf.Lead.get(created["id"], params={"fields": "FirstName,Name,Phone"})
    assert {k: updated[k] for k in ("FirstName", "Name", "Phone")} == {
        "FirstName": "Ada",
        "Name": "Ada Crud",
        "Phone": "+1 555",
    }
    assert "Email" not in updated
    assert sf.Lead.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as excinfo:
        sf.Lead.get(created["id"])
    assert error_code(excinfo) == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as excinfo:
        sf.Lead.delete(created["id"])
    assert error_code(excinfo) == "ENTITY_IS_DELETED"


def test_task_is_closed_follows_status(sf):
    task_id = sf.Task.create({"Subject": "Done", "Status": "Completed", "Type": "Email"})["id"]
    task = sf.Task.get(task_id)
    assert task["IsClosed"] is True and task["Priority"] == "Normal"
    sf.Task.update(task_id, {"Status": "In Progress"})
    assert sf.Task.get(task_id)["IsClosed"] is False


def test_event_end_follows_start_and_duration(sf):
    event_id = sf.Event.create(
        {
            "Subject": "Demo",
            "StartDateTime": "2026-05-01T09:30:00Z",
            "DurationInMinutes": 45,
        }
    )["id"]
    event = sf.Event.get(event_id)
    assert event["EndDateTime"] == "2026-05-01T10:15:00.000+0000"
    assert event["ActivityDate"] == "2026-05-01"


def test_upsert_by_external_id_creates_then_updates(sf):
    assert sf.Foo__c.upsert("ExtId__c/ext-1", {"Name": "first", "Amount__c": 1.5}) == 201
    assert sf.Foo__c.upsert("ExtId__c/ext-1", {"Name": "second"}) == 204
    record = sf.Foo__c.get_by_custom_id("ExtId__c", "ext-1")
    assert record["Name"] == "second" and record["Amount__c"] == 1.5
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        sf.Foo__c.upsert("Name/first", {"Amount__c": 2})
    assert error_code(excinfo) == "INVALID_FIELD"


def test_upsert_matching_two_records_answers_300_with_their_urls(sf):
    first = sf.Lead.create({"LastName": "Twin", "Company": "T", "Legacy__c": "L-1"})["id"]
    second = sf.Lead.create({"LastName": "Twin", "Company": "T", "Legacy__c": "l-1"})["id"]
    with pytest.raises(SalesforceMoreThanOneRecord) as excinfo:
        sf.Lead.upsert("Legacy__c/L-1", {"Phone": "1"})
    assert excinfo.value.content == [
        f"/services/data/v59.0/sobjects/Lead/{first}",
        f"/services/data/v59.0/sobjects/Lead/{second}",
    ]


def test_unique_external_id_rejects_duplicates(sf):
    sf.Foo__c.create({"Name": "one", "ExtId__c": "uniq-1"})
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        sf.Foo__c.create({"Name": "two", "ExtId__c": "UNIQ-1"})
    assert error_code(excinfo) == "DUPLICATE_VALUE"


@pytest.mark.parametrize(
    ("sobject", "values", "code", "fields"),
    [
        ("Lead", {"FirstName": "No"}, "REQUIRED_FIELD_MISSING", ["LastName", "Company"]),
        ("Lead", {"LastName": "X", "Company": "X", "Nope__c": 1}, "INVALID_FIELD", []),
        (
            "Account",
            {"Name": "X", "IsPersonAccount": True},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["IsPersonAccount"],
        ),
        ("Lead", {"LastName": "X" * 81, "Company": "X"}, "STRING_TOO_LONG", ["LastName"]),
        (
            "Lead",
            {"LastName": "X", "Company": "X", "Status": "Bogus"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["Status"],
        ),
        (
            "Lead",
            {"LastName": "X", "Company": "X", "Email": "not-an-email"},
            "INVALID_EMAIL_ADDRESS",
            ["Email"],
        ),
        ("Contact", {"LastName": "X", "AccountId": "garbage"}, "MALFORMED_ID", ["AccountId"]),
        (
            "Contact",
            {"LastName": "X", "AccountId": ids.to18("00Q8d0000000001")},
            "FIELD_INTEGRITY_EXCEPTION",
            ["AccountId"],
        ),
        (
            "Contact",
            {"LastName": "X", "AccountId": ids.to18("0018d00000ZZZZZ")},
            "INVALID_CROSS_REFERENCE_KEY",
            ["AccountId"],
        ),
        ("Task", {"Subject": "X", "ActivityDate": "2026-13-45"}, "JSON_PARSER_ERROR", []),
        ("Event", {"Subject": "X"}, "REQUIRED_FIELD_MISSING", ["StartDateTime"]),
    ],
)
def test_invalid_records_get_salesforce_error_bodies(sf, sobject, values, code, fields):
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        getattr(sf, sobject).create(values)
    [error] = excinfo.value.content
    assert error["errorCode"] == code
    assert error["fields"] == fields
    assert error["message"]


def test_update_rejects_read_only_and_nulled_required_fields(sf):
    lead_id = sf.Lead.create({"LastName": "Ro", "Company": "Ro"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        sf.Lead.update(lead_id, {"CreatedDate": "2020-01-01T00:00:00Z"})
    assert error_code(excinfo) == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        sf.Lead.update(lead_id, {"Company": None})
    assert excinfo.value.content[0]["message"] == "Required fields are missing: [Company]"


def test_unknown_records_and_objects_are_not_found(sf):
    with pytest.raises(SalesforceResourceNotFound) as excinfo:
        sf.Lead.get("00Q8d000000ZZZZ")
    assert error_code(excinfo) == "NOT_FOUND"
    with pytest.raises(SalesforceResourceNotFound) as excinfo:
        sf.Nope__c.create({"Name": "x"})
    assert error_code(excinfo) == "NOT_FOUND"
    with pytest.raises(SalesforceResourceNotFound) as excinfo:
        sf.Nope__c.describe()
    assert error_code(excinfo) == "NOT_FOUND"


def test_wrong_session_id_gets_401_invalid_session(sandbox):
    with pytest.raises(SalesforceExpiredSession) as excinfo:
        sandbox.client(session_id="wrong").query("SELECT Id FROM Lead")
    assert excinfo.value.status == 401
    assert excinfo.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []}
    ]


def test_a_session_for_another_user_stamps_changes_as_that_user(fresh_sandbox):
    mine, theirs = fresh_sandbox.client(), fresh_sandbox.client(fresh_sandbox.session_for("ana@acme.example"))
    lead_id = mine.Lead.create({"LastName": "Lopez", "Company": "Acme"})["id"]
    theirs.Lead.update(lead_id, {"FirstName": "Ana"})
    created_by_them = theirs.Lead.create({"LastName": "Ng", "Company": "Acme"})["id"]

    rows = mine.query(
        "SELECT Id, CreatedBy.Username, LastModifiedBy.Username FROM Lead ORDER BY CreatedDate, Id"
    )["records"]
    assert [(r["Id"], r["CreatedBy"]["Username"], r["LastModifiedBy"]["Username"]) for r in rows] == [
        (lead_id, "sandbox@syncmap.local", "ana@acme.example"),
        (created_by_them, "ana@acme.example", "ana@acme.example"),
    ]
    mine.Lead.update(lead_id, {"FirstName": "Ana María"})  # the sandbox's own user again
    assert (
        mine.Lead.get(lead_id)["LastModifiedById"]
        == mine.query("SELECT Id FROM User WHERE Username = 'sandbox@syncmap.local'")["records"][0]["Id"]
    )


def test_client_can_be_built_by_hand_from_the_printed_info(sandbox):
    info = sandbox.info()
    client = Salesforce(
        instance_url=info["instance_url"],
        session_id=info["session_id"],
        session=sandbox.http_session(),
        version=info["version"],
    )
    assert client.query("SELECT COUNT() FROM User")["totalSize"] == 1


def test_get_updated_and_get_deleted(sf):
    start = datetime.now(UTC) - timedelta(minutes=1)
    kept = sf.Account.create({"Name": "Window kept"})["id"]
    gone = sf.Account.create({"Name": "Window gone"})["id"]
    sf.Account.delete(gone)
    end = datetime.now(UTC) + timedelta(minutes=1)
    assert kept in sf.Account.updated(start, end)["ids"]
    assert gone not in sf.Account.updated(start, end)["ids"]
    deleted = sf.Account.deleted(start, end)["deletedRecords"]
    assert [d["id"] for d in deleted] == [gone]
    assert sf.Account.deleted(end, end + timedelta(days=1))["deletedRecords"] == []

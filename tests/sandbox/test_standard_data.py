"""Records and settings every org has: the Lead Status values, and Person Accounts when enabled."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from engine.sandbox import Sandbox


def test_lead_statuses_are_records_of_the_lead_status_picklist(sf):
    rows = sf.query("SELECT MasterLabel, ApiName, SortOrder, IsDefault, IsConverted FROM LeadStatus")
    statuses = sorted(rows["records"], key=lambda row: row["SortOrder"])
    assert [row["ApiName"] for row in statuses] == [
        "Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted",
    ]  # fmt: skip
    assert [row["MasterLabel"] for row in statuses if row["IsDefault"]] == ["Open - Not Contacted"]
    assert [row["MasterLabel"] for row in statuses if row["IsConverted"]] == ["Closed - Converted"]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.LeadStatus.create({"MasterLabel": "Nurture"})
    assert refused.value.content[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"


def test_lead_statuses_come_back_after_a_reset():
    with Sandbox() as org:
        org.reset()
        assert org.client().query("SELECT COUNT() FROM LeadStatus")["totalSize"] == 4


def test_a_person_account_is_an_account_with_a_last_name():
    with Sandbox(person_accounts=True) as org:
        sf = org.client()
        person = sf.Account.create(
            {"FirstName": "Ana", "LastName": "Lopez", "PersonMobilePhone": "+14155550100"}
        )["id"]
        business = sf.Account.create({"Name": "Lopez & Co"})["id"]
        rows = {
            row["Id"]: row
            for row in sf.query("SELECT Id, Name, IsPersonAccount, PersonMobilePhone FROM Account")["records"]
        }
        assert (rows[person]["Name"], rows[person]["IsPersonAccount"]) == ("Ana Lopez", True)
        assert rows[person]["PersonMobilePhone"] == "+14155550100"
        assert (rows[business]["Name"], rows[business]["IsPersonAccount"]) == ("Lopez & Co", False)


def test_without_person_accounts_an_account_has_no_person_fields(sf):
    fields = {field["name"] for field in sf.Account.describe()["fields"]}
    assert "IsPersonAccount" in fields and not fields & {"LastName", "PersonEmail", "PersonMobilePhone"}
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Account.create({"LastName": "Lopez"})
    assert refused.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_an_activity_names_its_account_through_its_what_id(sf):
    account = sf.Account.create({"Name": "Globex"})["id"]
    task = sf.Task.create({"Subject": "Call", "WhatId": account})["id"]
    row = sf.query(f"SELECT AccountId, IsArchived FROM Task WHERE Id = '{task}'")["records"][0]
    assert (row["AccountId"], row["IsArchived"]) == (account, False)
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Task.update(task, {"AccountId": account})
    assert refused.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"

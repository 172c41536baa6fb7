"""SOQL through the real client: golden cases from data/soql_cases.yaml, then the shapes that
cases cannot express (nested parents, queryMore paging, queryAll, id filters)."""

import time
from pathlib import Path

import pytest
import yaml
from simple_salesforce.exceptions import SalesforceMalformedRequest

CASES = yaml.safe_load((Path(__file__).parent / "data" / "soql_cases.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_soql_case(soql_sf, case):
    if "error" in case:
        with pytest.raises(SalesforceMalformedRequest) as excinfo:
            soql_sf.query(case["soql"])
        [error] = excinfo.value.content
        assert error["errorCode"] == case["error"]
        assert case.get("message_has", "") in error["message"]
        return
    if "count" in case:  # query_all would recount totalSize from the (empty) records
        result = soql_sf.query(case["soql"])
        assert (result["totalSize"], result["records"]) == (case["count"], [])
        return
    result = soql_sf.query_all(case["soql"])
    values = [record[case.get("field", "LastName")] for record in result["records"]]
    if case.get("ordered", True):
        assert values == case["expect"]
    else:
        assert sorted(values) == sorted(case["expect"])


def test_parent_fields_are_nested_like_salesforce(soql_sf):
    records = soql_sf.query_all(
        "SELECT LastName, Account.Name, Owner.Email, CreatedBy.Email FROM Contact ORDER BY LastName"
    )["records"]
    ann, _, cy = records
    assert ann["Account"]["Name"] == "Acme"
    assert ann["Account"]["attributes"]["type"] == "Account"
    assert ann["Account"]["attributes"]["url"].startswith("/services/data/v59.0/sobjects/Account/001")
    assert ann["Owner"]["Email"] == "sandbox@syncmap.local"
    assert ann["CreatedBy"]["Email"] == "sandbox@syncmap.local"
    assert cy["Account"] is None
    assert list(ann) == ["attributes", "LastName", "Account", "Owner", "CreatedBy"]


def test_query_more_pages_through_next_records_url(soql_sf):
    first = soql_sf.query("SELECT Id, LastName FROM Lead ORDER BY LastName")
    assert first["totalSize"] == 6 and first["done"] is False
    assert len(first["records"]) == 2
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    second = soql_sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert [r["LastName"] for r in second["records"]] == ["Percent", 'Quote"d']
    third = soql_sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert third["done"] is True and "nextRecordsUrl" not in third
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        soql_sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert excinfo.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_all_includes_deleted_records(soql_sf):
    live = soql_sf.query_all("SELECT LastName FROM Lead WHERE Company = 'Deleted Co'")
    everything = soql_sf.query_all(
        "SELECT LastName, IsDeleted FROM Lead WHERE Company = 'Deleted Co'", include_deleted=True
    )
    assert live["totalSize"] == 0
    assert [(r["LastName"], r["IsDeleted"]) for r in everything["records"]] == [("Gone", True)]


def test_ids_filter_in_15_or_18_characters(soql_sf):
    account_id = soql_sf.query("SELECT Id FROM Account WHERE Name = 'Acme'")["records"][0]["Id"]
    for literal in (account_id, account_id[:15]):
        records = soql_sf.query(f"SELECT LastName FROM Contact WHERE AccountId = '{literal}'")
        assert [r["LastName"] for r in records["records"]] == ["Ann"]


def test_batch_size_header_sets_the_page_size(soql_sf):
    result = soql_sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=200"})
    assert result["done"] is True and len(result["records"]) == 6


def test_an_incremental_read_by_systemmodstamp_finds_exactly_the_records_changed_since(fresh_sandbox):
    """A lower bound on a datetime field is answered through an index, as an org's incremental
    read is: what came before left out, other conditions still applied, deleted records only
    through queryAll."""
    sf = fresh_sandbox.client()
    early = [sf.Contact.create({"LastName": f"Early{i}"})["id"] for i in range(3)]
    time.sleep(1.1)  # SystemModstamp keeps milliseconds; a clear second apart
    late = [sf.Contact.create({"LastName": f"Late{i}"})["id"] for i in range(3)]
    sf.Contact.delete(late[2])
    bound = sf.query(f"SELECT SystemModstamp FROM Contact WHERE Id = '{late[0]}'")["records"][0][
        "SystemModstamp"
    ]
    since = bound.replace(".000+0000", "Z").split(".")[0] + "Z" if "." in bound else bound
    found = sf.query(f"SELECT Id FROM Contact WHERE SystemModstamp >= {since}")["records"]
    assert {r["Id"] for r in found} == set(late[:2])
    narrowed = sf.query(f"SELECT Id FROM Contact WHERE SystemModstamp >= {since} AND LastName = 'Late1'")
    assert [r["Id"] for r in narrowed["records"]] == [late[1]]
    with_deleted = sf.query_all(
        f"SELECT Id FROM Contact WHERE SystemModstamp >= {since}", include_deleted=True
    )
    assert {r["Id"] for r in with_deleted["records"]} == set(late)
    assert not set(early) & {r["Id"] for r in with_deleted["records"]}

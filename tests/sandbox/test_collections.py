"""sObject Collections through simple-salesforce's generic ``restful`` call."""

import json

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


def leads(count, company, **extra):
    return [
        {"attributes": {"type": "Lead"}, "LastName": f"C{i}", "Company": company, **extra}
        for i in range(count)
    ]


def create(sf, records, all_or_none=False):
    body = {"allOrNone": all_or_none, "records": records}
    return sf.restful("composite/sobjects", method="POST", data=json.dumps(body))


def count(sf, company):
    return sf.query(f"SELECT COUNT() FROM Lead WHERE Company = '{company}'")["totalSize"]


def test_create_200_records_in_one_call(sf):
    results = create(sf, leads(200, "Coll 200"))
    assert len(results) == 200
    assert all(r["success"] and r["errors"] == [] and r["id"].startswith("00Q") for r in results)
    assert count(sf, "Coll 200") == 200


def test_201_records_exceed_the_limit(sf):
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        create(sf, leads(201, "Coll 201"))
    assert excinfo.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert count(sf, "Coll 201") == 0


def test_without_all_or_none_each_record_stands_alone(sf):
    records = leads(3, "Coll partial")
    del records[1]["LastName"]
    results = create(sf, records)
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }
        ],
    }
    assert count(sf, "Coll partial") == 2


def test_all_or_none_rolls_everything_back(sf):
    records = leads(3, "Coll atomic")
    records[2]["Status"] = "Bogus"
    results = create(sf, records, all_or_none=True)
    codes = [r["errors"][0]["statusCode"] for r in results]
    assert codes == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    ]
    assert not any(r["success"] for r in results)
    assert count(sf, "Coll atomic") == 0


def test_update_and_delete_collections(sf):
    ids = [r["id"] for r in create(sf, leads(3, "Coll upd"))]
    updates = [{"attributes": {"type": "Lead"}, "Id": i, "Phone": "123"} for i in ids]
    updates.append({"attributes": {"type": "Lead"}, "Phone": "no id"})
    body = json.dumps({"allOrNone": False, "records": updates})
    results = sf.restful("composite/sobjects", method="PATCH", data=body)
    assert [r["success"] for r in results] == [True, True, True, False]
    assert results[3]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    phones = sf.query("SELECT Phone FROM Lead WHERE Company = 'Coll upd'")["records"]
    assert [r["Phone"] for r in phones] == ["123"] * 3

    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids[:2])})
    assert deleted == [{"id": i, "success": True, "errors": []} for i in ids[:2]]
    assert count(sf, "Coll upd") == 1


def test_upsert_and_retrieve_collections(sf):
    records = [{"attributes": {"type": "Foo__c"}, "Name": n, "ExtId__c": f"coll-{n}"} for n in "ab"]
    body = {"allOrNone": True, "records": records}
    first = sf.restful("composite/sobjects/Foo__c/ExtId__c", method="PATCH", json=body)
    assert [r["created"] for r in first] == [True, True]
    records[0]["Amount__c"] = 7
    second = sf.restful("composite/sobjects/Foo__c/ExtId__c", method="PATCH", json=body)
    assert [(r["created"], r["id"]) for r in second] == [(False, r["id"]) for r in first]
    fetched = sf.restful(
        "composite/sobjects/Foo__c",
        params={"ids": f"{first[0]['id']},{first[1]['id']}", "fields": "Name,Amount__c"},
    )
    assert [(r["Name"], r["Amount__c"]) for r in fetched] == [("a", 7.0), ("b", None)]


def test_unknown_sobject_in_a_collection_fails_that_record(sf):
    records = [*leads(1, "Coll type"), {"attributes": {"type": "Nope__c"}, "Name": "x"}]
    results = create(sf, records)
    assert results[0]["success"] is True
    assert results[1]["errors"][0]["statusCode"] == "INVALID_TYPE"

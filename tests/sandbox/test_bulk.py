"""Bulk API 2.0 through simple-salesforce's ``bulk2`` handler (wait=0: jobs finish at once)."""

import csv
import io


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_ingest_job_reports_successes_and_failures(sf):
    records = [
        {"LastName": "Bulk1", "Company": "Bulk Co", "Email": "b1@bulk.io"},
        {"LastName": "Bulk2", "Company": "Bulk Co", "Email": "b2@bulk.io"},
        {"LastName": "", "Company": "Bulk Co", "Email": "nobody@bulk.io"},
    ]
    [result] = sf.bulk2.Lead.insert(records=records, wait=0)
    assert result["numberRecordsProcessed"] == 3
    assert result["numberRecordsFailed"] == 1
    assert result["numberRecordsTotal"] == 3

    successes = rows(sf.bulk2.Lead.get_successful_records(result["job_id"]))
    assert sorted(r["Email"] for r in successes) == ["b1@bulk.io", "b2@bulk.io"]
    assert all(r["sf__Created"] == "true" and r["sf__Id"].startswith("00Q") for r in successes)
    [failure] = rows(sf.bulk2.Lead.get_failed_records(result["job_id"]))
    assert failure["Email"] == "nobody@bulk.io"
    assert failure["sf__Error"].startswith("REQUIRED_FIELD_MISSING:")

    count = sf.query("SELECT COUNT() FROM Lead WHERE Company = 'Bulk Co'")["totalSize"]
    assert count == 2


def test_ingest_upsert_by_external_id(sf):
    sf.bulk2.Foo__c.upsert(
        records=[{"ExtId__c": "bulk-1", "Name": "one"}], external_id_field="ExtId__c", wait=0
    )
    [result] = sf.bulk2.Foo__c.upsert(
        records=[{"ExtId__c": "bulk-1", "Name": "uno"}, {"ExtId__c": "bulk-2", "Name": "two"}],
        external_id_field="ExtId__c",
        wait=0,
    )
    created = {
        r["ExtId__c"]: r["sf__Created"]
        for r in rows(sf.bulk2.Foo__c.get_successful_records(result["job_id"]))
    }
    assert created == {"bulk-1": "false", "bulk-2": "true"}
    assert sf.Foo__c.get_by_custom_id("ExtId__c", "bulk-1")["Name"] == "uno"


def test_query_job_pages_csv_with_locators(sf):
    for i in range(5):
        sf.Account.create({"Name": f"Bulk Q{i}", "Phone": f"555-{i}"})
    pages = list(
        sf.bulk2.Account.query(
            "SELECT Name, Phone, Owner.Email FROM Account WHERE Name LIKE 'Bulk Q%' ORDER BY Name",
            max_records=2,
            wait=0,
        )
    )
    assert len(pages) == 3
    records = [row for page in pages for row in rows(page)]
    assert [r["Name"] for r in records] == [f"Bulk Q{i}" for i in range(5)]
    assert records[0] == {"Name": "Bulk Q0", "Phone": "555-0", "Owner.Email": "sandbox@syncmap.local"}
    assert pages[0].startswith('"Name","Phone","Owner.Email"\n')

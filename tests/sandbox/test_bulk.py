"""Bulk API 2.0 through simple-salesforce's ``bulk2`` handler (wait=0: jobs finish at once)."""

import csv
import io
import time


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


def test_an_ingest_job_is_processed_after_its_close_is_answered_and_polled_to_completion(sf):
    job = sf.restful("jobs/ingest", method="POST", json={"object": "Lead", "operation": "insert"})
    url = f"{sf.base_url}jobs/ingest/{job['id']}/batches"
    body = "LastName,Company\n" + "".join(f"Async{i},Async Co\n" for i in range(6000))
    answer = sf.session.put(url, data=body.encode(), headers={**sf.headers, "Content-Type": "text/csv"})
    assert answer.status_code == 201
    closed = sf.restful(f"jobs/ingest/{job['id']}", method="PATCH", json={"state": "UploadComplete"})
    assert closed["state"] == "UploadComplete"  # answered before a row is written
    states = set()
    deadline = time.monotonic() + 60
    while (state := sf.restful(f"jobs/ingest/{job['id']}")["state"]) != "JobComplete":
        assert time.monotonic() < deadline, state
        states.add(state)
        time.sleep(0.01)
    assert states and states <= {"UploadComplete", "InProgress"}  # clients saw it at work
    assert sf.query("SELECT COUNT() FROM Lead WHERE Company = 'Async Co'")["totalSize"] == 6000


def test_an_aborted_ingest_job_leaves_its_unwritten_rows_unprocessed(sf):
    job = sf.restful("jobs/ingest", method="POST", json={"object": "Lead", "operation": "insert"})
    url = f"{sf.base_url}jobs/ingest/{job['id']}/batches"
    body = "LastName,Company\n" + "".join(f"Stop{i},Stop Co\n" for i in range(20000))
    sf.session.put(url, data=body.encode(), headers={**sf.headers, "Content-Type": "text/csv"})
    sf.restful(f"jobs/ingest/{job['id']}", method="PATCH", json={"state": "UploadComplete"})
    aborted = sf.restful(f"jobs/ingest/{job['id']}", method="PATCH", json={"state": "Aborted"})
    assert aborted["state"] == "Aborted"
    time.sleep(1)
    written = sf.query("SELECT COUNT() FROM Lead WHERE Company = 'Stop Co'")["totalSize"]
    unprocessed = rows(
        sf.session.get(f"{url[: -len('/batches')]}/unprocessedrecords", headers=sf.headers).text
    )
    assert written < 20000 and written + len(unprocessed) == 20000

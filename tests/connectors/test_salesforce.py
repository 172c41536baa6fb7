"""The Salesforce connector against the sandbox, through the real simple-salesforce client over
HTTPS: describe, streamed incremental reads with tombstones, batched lookups, escaping,
Collections and Bulk API 2.0 writes, retries without duplicates, call counts, hidden secrets."""

from __future__ import annotations

import json
import threading
import time
import traceback
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote_plus, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from engine.connectors import Registry, Write
from engine.connectors.salesforce import MAX_QUERY_LENGTH, SalesforceConnector
from engine.errors import ConnectorError, SettingError
from engine.job import Job
from engine.sandbox import ConnectedApp, Sandbox
from engine.sandbox.tls import server_context


class Clock:
    """The sandbox's clock: 1 ms per reading, and jumps on demand, so stamps are predictable."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            self.now += timedelta(milliseconds=1)
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += timedelta(seconds=seconds)


CLOCK = Clock()
LOG: list[str] = []


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(clock=CLOCK, log=LOG.append) as running:
        yield running


@pytest.fixture(scope="module")
def small_pages():
    with Sandbox(page_size=50) as running:
        yield running


@pytest.fixture
def sb(sandbox):
    served(sandbox)  # the previous test's last lines are in: they must not land in this test's log
    sandbox.reset()
    sandbox.set_faults(
        request_limit_rate=0.0,
        unavailable_rate=0.0,
        lock_rate=0.0,
        bulk_fail_after=0,
        bulk_status_unavailable=False,
    )
    LOG.clear()
    return sandbox


def settings(sandbox, **more):
    return {
        "instance_url": sandbox.instance_url,
        "session_id": sandbox.session_id,
        "ca_file": str(sandbox.ca_file),
        **more,
    }


@pytest.fixture
def connect(sb, tmp_path):
    opened = []

    def connect(sandbox=sb, **more):
        connector = SalesforceConnector(settings(sandbox, **more), tmp_path)
        opened.append(connector)
        return connector

    yield connect
    for connector in opened:
        connector.close()


def creates(count, prefix="C", **values):
    return [
        Write(f"{prefix}{i}", "create", "Contact", values={"LastName": f"{prefix}{i}", **values})
        for i in range(count)
    ]


def seed(sandbox, count, prefix="C"):
    """Contacts written straight through the sandbox's client (not counted by any connector)."""
    records = [{"attributes": {"type": "Contact"}, "LastName": f"{prefix}{i}"} for i in range(count)]
    ids = []
    for start in range(0, count, 200):
        answer = sandbox.client().restful(
            "composite/sobjects",
            method="POST",
            json={"allOrNone": False, "records": records[start : start + 200]},
        )
        ids += [result["id"] for result in answer]
    return ids


def count(sandbox, sobject="Contact"):
    return sandbox.client().query(f"SELECT COUNT() FROM {sobject}")["totalSize"]


def served(sandbox):
    """The sandbox's log lines so far; each is written just after its answer, so wait for them."""
    deadline = time.monotonic() + 2
    while len(LOG) < sandbox.stats()["total"] and time.monotonic() < deadline:
        time.sleep(0.005)
    return list(LOG)


def queries(sandbox):
    """The SOQL of each query the sandbox served, in order."""
    return [
        unquote_plus(line.split("?q=", 1)[1].split(" ", 1)[0]) for line in served(sandbox) if "?q=" in line
    ]


# --- settings and describe ------------------------------------------------------------------------


def test_registered_as_the_salesforce_connector():
    assert Registry().factory("salesforce") is SalesforceConnector


def test_unknown_settings_and_missing_credentials_are_reported(tmp_path):
    with pytest.raises(ConnectorError) as excinfo:
        SalesforceConnector({"instance_url": "https://x", "session_id": "s", "bulk_treshold": 5}, tmp_path)
    assert (excinfo.value.message, excinfo.value.hint) == (
        "unknown salesforce setting `bulk_treshold`",
        "did you mean `bulk_threshold`?",
    )
    with pytest.raises(ConnectorError, match="needs credentials"):
        SalesforceConnector({"instance_url": "https://x"}, tmp_path)
    with pytest.raises(ConnectorError, match="`session_id` needs `instance_url` too"):
        SalesforceConnector({"session_id": "s"}, tmp_path)
    with pytest.raises(
        ConnectorError,
        match="salesforce setting `batch_size`: input should be less than or equal to 200, not `500`",
    ):
        SalesforceConnector({"instance_url": "https://x", "session_id": "s", "batch_size": 500}, tmp_path)
    with pytest.raises(ConnectorError, match="`Account` is not a parent field path of `Contact`"):
        SalesforceConnector({"instance_url": "https://x", "session_id": "s"}, tmp_path).expect_fields(
            {"Contact": ["Account"]}
        )
    with pytest.raises(
        ConnectorError,
        match="salesforce setting `skip_own_changes`: input should be a valid boolean, not `yes`",
    ):
        SalesforceConnector(
            {"instance_url": "https://x", "session_id": "s", "skip_own_changes": "yes"}, tmp_path
        )
    with pytest.raises(ConnectorError) as excinfo:
        SalesforceConnector(
            {"instance_url": "https://x", "session_id": "s", "skip_own_changes": True}, tmp_path
        )
    assert "`skip_own_changes` needs `username`" in excinfo.value.message
    assert "username: " in excinfo.value.hint


def test_describe_maps_fields_and_is_fetched_once(connect):
    connector = connect()
    info = connector.describe("Contact")
    assert connector.describe("Contact") is info
    assert (info.name, info.id_field, info.modified_field) == ("Contact", "Id", "SystemModstamp")
    assert (info.createable, info.updateable, info.deletable) == (True, True, True)
    fields = info.fields
    assert (fields["Id"].type, fields["Id"].createable, fields["Id"].updateable) == ("id", False, False)
    assert (fields["LastName"].type, fields["LastName"].nillable) == ("string", False)
    assert (fields["AccountId"].type, fields["AccountId"].reference_to) == ("reference", ("Account",))
    assert fields["Birthdate"].type == "date" and fields["HasOptedOutOfEmail"].type == "boolean"
    assert fields["LeadSource"].type == "picklist" and not fields["Name"].createable
    assert connector.calls == {"describe": 1}


def test_unknown_object_suggests_a_name_from_describe_global(connect):
    connector = connect()
    with pytest.raises(ConnectorError) as excinfo:
        connector.describe("Contcat")
    assert (excinfo.value.message, excinfo.value.hint) == (
        "unknown Salesforce object `Contcat`",
        "did you mean `Contact`?",
    )
    with pytest.raises(ConnectorError, match="unknown Salesforce object `Foo`"):
        connector.describe("Foo")
    assert connector.calls == {"describe": 2, "describe_global": 1}


# --- reading ----------------------------------------------------------------------------------------


def test_read_streams_every_record_oldest_first_with_modified_in_iso_8601(sb, connect):
    seed(sb, 3)
    connector = connect()
    reader = connector.read("Contact")
    assert not isinstance(reader, list)
    records = list(reader)
    assert [r.values["LastName"] for r in records] == ["C0", "C1", "C2"]
    first = records[0]
    assert first.type == "Contact" and first.id == first.values["Id"] and not first.deleted
    assert "attributes" not in first.values
    assert first.modified == datetime.fromisoformat(first.modified).isoformat(timespec="microseconds")
    assert first.modified.endswith("+00:00")
    assert queries(sb)[-1].startswith("SELECT Id, IsDeleted, CreatedDate, ")
    assert queries(sb)[-1].endswith(" FROM Contact ORDER BY SystemModstamp, Id")


def test_incremental_reads_overlap_the_watermark_without_delivering_twice(sb, connect):
    a, b, c = seed(sb, 3)
    connector = connect()
    first = list(connector.read("Contact"))
    watermark = max(r.modified for r in first)
    CLOCK.advance(120)
    sb.client().Contact.update(b, {"Title": "CEO"})

    again = list(connector.read("Contact", since=watermark))
    assert [(r.id, r.values["Title"]) for r in again] == [(b, "CEO")]  # a and c: seen in the overlap
    floor = (datetime.fromisoformat(watermark) - timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"WHERE SystemModstamp >= {floor} ORDER BY" in queries(sb)[-1]

    newest = again[-1].modified
    assert list(connector.read("Contact", since=newest)) == []
    # a caller going back to an older watermark (its last run failed) gets everything again
    assert [r.id for r in connector.read("Contact", since=watermark)] == [a, c, b]
    # a connector that has not read before cannot know what the overlap repeats
    assert [r.id for r in connect().read("Contact", since=watermark)] == [a, c, b]


def test_skip_own_changes_leaves_out_only_what_syncmap_wrote_in_its_windows(sb, connect):
    [before] = seed(sb, 1)  # the same user, before syncmap wrote
    CLOCK.advance(30)
    connector = connect(username="sandbox@syncmap.local", skip_own_changes=True)
    started = CLOCK.now
    mine = [result.id for result in connector.write("Contact", creates(3, prefix="Mine"))]
    window = (started.isoformat(), CLOCK.now.isoformat())
    colleague = sb.client(sb.session_for("ana@acme.example"))
    colleague.Contact.update(mine[1], {"Title": "CEO"})  # someone else changes a record syncmap wrote
    after = sb.client().Contact.create({"LastName": "After"})["id"]  # the same user, after the window
    since = (started - timedelta(seconds=10)).isoformat()
    everything = [before, mine[0], mine[2], mine[1], after]  # by last change

    read = [r.id for r in connector.read("Contact", since=since, own_writes=[window])]
    assert read == [before, mine[1], after]
    assert "(LastModifiedBy.Username != 'sandbox@syncmap.local' OR (SystemModstamp < " in queries(sb)[-1]
    # two windows: a record outside both is read, one inside either is not
    earlier = ((started - timedelta(seconds=31)).isoformat(), (started - timedelta(seconds=29)).isoformat())
    read = [r.id for r in connect(username="x@y.z", skip_own_changes=True).read(
        "Contact", since=since, own_writes=[earlier, window]
    )]  # fmt: skip
    assert read == everything  # another username: nothing of ours to leave out
    read = [r.id for r in connect(username="sandbox@syncmap.local", skip_own_changes=True).read(
        "Contact", since=since, own_writes=[earlier, window]
    )]  # fmt: skip
    assert read == [mine[1], after]
    # without the setting, or for a window ending before the read's floor, every change is read
    assert [r.id for r in connect().read("Contact", since=since, own_writes=[window])] == everything
    late = (started + timedelta(seconds=120)).isoformat()
    read = list(connect(username="sandbox@syncmap.local", skip_own_changes=True).read(
        "Contact", since=late, own_writes=[window]
    ))  # fmt: skip
    assert "LastModifiedBy.Username" not in queries(sb)[-1] and read == []


def test_deleted_records_come_back_from_query_all_as_tombstones(sb, connect):
    a, b = seed(sb, 2)
    connector = connect()
    watermark = max(r.modified for r in connector.read("Contact"))
    CLOCK.advance(120)
    [result] = connector.write("Contact", [Write("d", "delete", "Contact", id=b)])
    assert result.ok and result.id == b
    [tombstone] = connector.read("Contact", since=watermark)
    assert (tombstone.id, tombstone.deleted, tombstone.values["IsDeleted"]) == (b, True, True)
    assert tombstone.modified > watermark
    assert list(connector.get("Contact", [a, b])) == [a]
    assert connector.find("Contact", "LastName", ["C1"]) == []


def test_where_is_checked_once_then_added_to_the_query(sb, connect):
    client = sb.client()
    for name, source in (("W1", "Web"), ("W2", "Phone Inquiry"), ("W3", "Web")):
        client.Contact.create({"LastName": name, "LeadSource": source})
    connector = connect()
    where = "LeadSource = 'Web'"
    assert [r.values["LastName"] for r in connector.read("Contact", where=where)] == ["W1", "W3"]
    assert [r.values["LastName"] for r in connector.read("Contact", where=where)] == ["W1", "W3"]
    assert connector.calls == {"describe": 1, "query": 3}  # one check, two reads
    # (the log may still receive the previous test's last request: only this test's are looked at)
    filtered = [query for query in queries(sb) if "(LeadSource = 'Web')" in query]
    assert filtered[0] == "SELECT Id FROM Contact WHERE (LeadSource = 'Web') LIMIT 1"
    assert filtered[1].endswith("FROM Contact WHERE (LeadSource = 'Web') ORDER BY SystemModstamp, Id")


def test_a_malformed_where_is_reported_with_salesforces_message(connect):
    connector = connect()
    with pytest.raises(ConnectorError) as excinfo:
        connector.read("Contact", where="LeadSorce = 'Web'")
    assert excinfo.value.message.startswith("Salesforce rejected the `where` of `Contact`: INVALID_FIELD: ")
    assert "LeadSorce" in excinfo.value.message
    assert "SOQL condition" in excinfo.value.hint
    with pytest.raises(ConnectorError, match="`where` of `Contact`: MALFORMED_QUERY"):
        connector.read("Contact", where="LeadSource = = 'Web'")
    with pytest.raises(ConnectorError, match="`where` of `Contact` has unbalanced parentheses or quotes"):
        connector.read("Contact", where="Email = 'x') OR (Name != null")
    assert connector.calls == {"describe": 1, "query": 2}


def test_extra_fields_come_back_nested_as_salesforce_returns_them(sb, connect):
    client = sb.client()
    account = client.Account.create({"Name": "Acme"})["id"]
    client.Contact.create({"LastName": "Ada", "AccountId": account})
    client.Contact.create({"LastName": "Bob"})
    client.Lead.create({"LastName": "Cy", "Company": "Cy Inc"})
    connector = connect()
    connector.expect_fields({"Contact": ["Account.Name", "Owner.Email"], "Lead": ["Owner.Email"]})
    ada, bob = connector.read("Contact")
    assert ada.values["Account"] == {"Name": "Acme"}
    assert (
        ada.values["Owner"] == {"Email": ada.values["Owner"]["Email"]} and "@" in ada.values["Owner"]["Email"]
    )
    assert bob.values["Account"] is None
    [lead] = connector.read("Lead")
    assert "Account" not in lead.values and set(lead.values["Owner"]) == {"Email"}
    [found] = connector.find("Contact", "Account.Name", ["Acme"])
    assert found.id == ada.id and found.values["Account"] == {"Name": "Acme"}
    with pytest.raises(
        ConnectorError, match="rejected the query reading `Contact`: INVALID_FIELD"
    ) as excinfo:
        misspelt = connect()
        misspelt.expect_fields({"Contact": ["Account.Nmae"]})
        list(misspelt.read("Contact"))
    assert "parent fields the mapping names" in excinfo.value.hint


def test_a_job_tells_its_salesforce_connection_the_parent_fields_its_plan_maps(sb, tmp_path):
    (tmp_path / "job.yaml").write_text(
        "syncmap: 2\nname: parents\nconnections:\n"
        "  platform: {connector: sqlite, settings: {path: platform.db}}\n"
        "  salesforce:\n    connector: salesforce\n    settings: "
        + json.dumps(
            {
                "instance_url": "${SF_INSTANCE_URL}",
                "session_id": "${SF_SESSION_ID}",
                "ca_file": str(sb.ca_file),
            }
        )
        + "\nobjects:\n  contacts:\n    source: {connection: platform, object: contacts}\n"
        "    target: {connection: salesforce, object: Contact}\n"
        "    match: [{source: email, target: Email}]\n"
        "    fields: {LastName: last_name, Account.Name: {source: company, direction: to_source}}\n"
    )
    environ = {"SF_INSTANCE_URL": sb.instance_url, "SF_SESSION_ID": sb.session_id}
    with Job.open(tmp_path / "job.yaml", environ=environ) as job:
        job.plan_changes()
    assert queries(sb)[-1].endswith(", Account.Name FROM Contact ORDER BY SystemModstamp, Id")


def test_reading_2500_records_takes_one_query_and_one_query_more(sb, connect):
    connector = connect()
    results = connector.write("Contact", creates(2500))
    assert all(r.ok for r in results)
    assert connector.calls.keys() == {"describe", "bulk"} and connector.calls["describe"] == 1
    # above bulk_threshold (2000): one job, and only its successes read (none failed)
    assert polls(connector.calls["bulk"], jobs=1, result_files=1) >= 1
    reader = connect()
    assert sum(1 for _ in reader.read("Contact")) == 2500
    assert reader.calls == {"describe": 1, "query": 1, "query_more": 1}


def test_a_large_read_is_one_bulk_query_job_and_reads_as_rest_pages_do(tmp_path):
    """More records than `bulk_read_threshold` are read by a Bulk API query job: a handful of
    calls, not one per page. Every record reads the same as through REST pages: empty values
    null, booleans, dates, datetimes and numbers typed, text with commas, quotes, line breaks
    and accents whole, parent fields nested, deleted records as tombstones."""
    with Sandbox(page_size=50) as org:
        client = org.client()
        account = client.Account.create({"Name": "Acme, \"Inc\""})["id"]
        contacts = [
            {"attributes": {"type": "Contact"}, "LastName": f"L{i}", "FirstName": "Zoë" if i % 3 else None,
             "Description": 'a "quoted", two-line\ntext' if i % 5 == 0 else None,
             "Birthdate": "1990-01-02" if i % 2 else None, "HasOptedOutOfEmail": i % 4 == 0,
             "AccountId": account if i % 2 else None}
            for i in range(120)
        ]  # fmt: skip
        for start in range(0, len(contacts), 100):
            client.restful("composite/sobjects", method="POST", json={"records": contacts[start : start + 100]})
        gone = client.query("SELECT Id FROM Contact LIMIT 1")["records"][0]["Id"]
        client.Contact.delete(gone)
        client.restful("composite/sobjects", method="POST", json={"records": [
            {"attributes": {"type": "Task"}, "Subject": f"Call {i}", "CallDurationInSeconds": i or None}
            for i in range(60)
        ]})  # fmt: skip

        def read(sobject: str, threshold: int) -> tuple[dict, dict]:
            connector = SalesforceConnector(settings(org, bulk_read_threshold=threshold), tmp_path)
            with connector:
                connector.expect_fields({"Contact": ["Account.Name"]})
                return {record.id: record for record in connector.read(sobject)}, dict(connector.calls)

        for sobject, count in (("Contact", 120), ("Task", 60)):
            by_pages, paged = read(sobject, 100_000)
            by_job, job_calls = read(sobject, 10)
            assert len(by_job) == count and by_job == by_pages
            assert paged["query_more"] == count // 50  # a call per page of 50
            assert job_calls == {"describe": 1, "query": 1, "bulk_query": 2, "bulk_results": 1}
            if sobject == "Contact":
                assert by_job[gone].deleted
                assert {r.values["Description"] for r in by_job.values()} == {None, 'a "quoted", two-line\ntext'}
                assert {str(r.values["Account"]) for r in by_job.values()} == {"None", "{'Name': 'Acme, \"Inc\"'}"}


# --- get and find ------------------------------------------------------------------------------------


def test_get_and_find_batch_many_values_into_few_queries(sb, connect):
    ids = seed(sb, 1200)
    connector = connect()
    found = connector.get("Contact", ids + [i[:15] for i in ids[:10]] + ["not-an-id"])
    assert len(found) == 1210 and found[ids[0][:15]].id == ids[0]
    assert connector.calls == {"describe": 1, "query": 3}  # 18-character ids fill about 570 per query
    names = [f"C{i}" for i in range(1000)]
    assert len(connector.find("Contact", "LastName", [*names, None, "C1"])) == 1000
    assert connector.calls == {"describe": 1, "query": 4}  # short names: all 1,000 fit in one query
    encoded = [len(line.split(" ")[1]) for line in served(sb) if "?q=" in line]
    assert max(encoded) < MAX_QUERY_LENGTH + 40  # the path before `?q=` is 36 characters


def test_get_follows_query_more_when_pages_are_small(small_pages, connect):
    small_pages.reset()
    ids = seed(small_pages, 120)
    connector = connect(small_pages)
    assert len(connector.get("Contact", ids)) == 120
    assert connector.calls == {"describe": 1, "query": 1, "query_more": 2}


def test_find_escapes_quotes_backslashes_and_wildcards(sb, connect):
    names = ["O'Brien", "back\\slash", "100% sure_x", "100", "x' OR LastName != 'y", 'say "hi"']
    connector = connect()
    assert all(
        r.ok
        for r in connector.write(
            "Contact", [Write(n, "create", "Contact", values={"LastName": n}) for n in names]
        )
    )
    for name in names:
        assert [r.values["LastName"] for r in connector.find("Contact", "LastName", [name])] == [name]
    assert connector.find("Contact", "LastName", ["100%", "%", "x' OR LastName != '"]) == []


def test_find_formats_numbers_dates_and_booleans_for_their_fields(sb, connect):
    client = sb.client()
    ada = client.Contact.create({"LastName": "Ada", "Birthdate": "1990-05-01", "HasOptedOutOfEmail": True})[
        "id"
    ]
    client.Contact.create({"LastName": "Bob", "Birthdate": "1991-01-01"})
    start = "2026-03-02T10:00:00.000+0000"
    meeting = client.Event.create({"Subject": "Call", "DurationInMinutes": 30, "StartDateTime": start})["id"]
    connector = connect()
    assert [
        r.id for r in connector.find("Contact", "Birthdate", [date(1990, 5, 1), "1990-05-01", "May 1"])
    ] == [ada]
    assert [r.id for r in connector.find("Contact", "HasOptedOutOfEmail", [True, "maybe"])] == [ada]
    assert [r.id for r in connector.find("Event", "DurationInMinutes", ["30", 30.0, "thirty"])] == [meeting]
    moment = datetime(2026, 3, 2, 11, tzinfo=UTC) - timedelta(hours=1)
    assert [r.id for r in connector.find("Event", "StartDateTime", [moment])] == [meeting]
    assert [r.id for r in connector.find("Contact", "Id", [ada[:15]])] == [ada]
    assert connector.find("Contact", "Birthdate", [None, "nope"]) == []
    with pytest.raises(ConnectorError) as excinfo:
        connector.find("Contact", "Emial", ["a@x.com"])
    assert (excinfo.value.message, excinfo.value.hint) == (
        "no field `Emial` on Salesforce object `Contact`",
        "did you mean `Email`?",
    )


# --- writing ------------------------------------------------------------------------------------------


def test_collections_write_200_at_a_time_with_one_result_per_record(sb, connect):
    connector = connect()
    writes = creates(450)
    writes[201] = Write("bad", "create", "Contact", values={"FirstName": "No last name"})
    results = connector.write("Contact", writes)
    assert [r.ref for r in results] == [w.ref for w in writes]
    assert connector.calls == {"describe": 1, "collections": 3}
    assert results[201] == WriteResultLike(
        "bad", error="REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]"
    )
    assert sum(r.ok for r in results) == 449 and count(sb) == 449

    ok = [r for r in results if r.ok]
    updates = [
        Write(f"u{i}", "update", "Contact", id=r.id, values={"Title": "VP"}) for i, r in enumerate(ok[:250])
    ]
    deletes = [Write(f"d{i}", "delete", "Contact", id=r.id) for i, r in enumerate(ok[250:])]
    assert all(r.ok for r in connector.write("Contact", updates + deletes))
    assert connector.calls == {"describe": 1, "collections": 6}  # 250 updates, 199 deletes
    assert count(sb) == 250
    assert sb.client().query("SELECT COUNT() FROM Contact WHERE Title = 'VP'")["totalSize"] == 250


class WriteResultLike:
    """Equal to a failed WriteResult with this ref and error."""

    def __init__(self, ref, error):
        self.ref, self.error = ref, error

    def __eq__(self, other):
        return (other.ref, other.ok, other.error) == (self.ref, False, self.error)


def test_values_are_checked_against_describe_before_sending(sb, connect):
    [contact] = seed(sb, 1)
    connector = connect()
    writes = [
        Write("ro", "update", "Contact", id=contact, values={"Name": "Full Name", "Title": "x"}),
        Write("typo", "create", "Contact", values={"LastName": "T", "Emial": "t@x.com"}),
        Write("noid", "update", "Contact", id=None, values={"Title": "x"}),
        Write("echo", "create", "Contact", values={"Id": "003000000000001AAA", "LastName": "Echo",
                                                    "attributes": {"type": "Contact"}, "Account": {"Name": "Acme"},
                                                    "Birthdate": date(1990, 1, 2)}),
        Write("same", "update", "Contact", id=contact, values={"Id": contact, "Owner": None}),
        Write("date", "update", "Contact", id=contact, values={"Birthdate": "May 1"}),
        Write("bool", "update", "Contact", id=contact, values={"HasOptedOutOfEmail": "yes"}),
        Write("ref", "update", "Contact", id=contact, values={"AccountId": "Acme"}),
    ]  # fmt: skip
    results = connector.write("Contact", writes)
    assert [(r.ok, r.error) for r in results[:3]] == [
        (False, "`Contact.Name` cannot be changed by an update: Salesforce marks it not updateable"),
        (False, "no field `Emial` on `Contact` (did you mean `Email`?)"),
        (False, "an update of `Contact` needs a Salesforce record id, not `None`"),
    ]
    assert results[3].ok and results[3].id != "003000000000001AAA"
    assert results[4].ok and results[4].id == contact
    assert [r.error for r in results[5:]] == [
        "`Contact.Birthdate`: `May 1` is not a date value",
        "`Contact.HasOptedOutOfEmail`: `yes` is not a boolean value",
        "`Contact.AccountId`: `Acme` is not a reference value",
    ]
    assert connector.calls == {"describe": 1, "collections": 1}  # only the create was sent
    assert sb.client().Contact.get(results[3].id)["Birthdate"] == "1990-01-02"


def test_values_are_sent_as_their_fields_types_and_deleting_twice_is_fine(sb, connect):
    [contact] = seed(sb, 1)
    connector = connect()
    update = {"HasOptedOutOfEmail": "true", "Birthdate": date(1990, 1, 2), "Title": 12}
    event = {
        "Subject": "Call",
        "DurationInMinutes": "45",
        "StartDateTime": datetime(2026, 3, 2, 10, tzinfo=UTC),
    }
    results = connector.write("Contact", [Write("u", "update", "Contact", id=contact, values=update)])
    results += connector.write("Event", [Write("e", "create", "Event", values=event)])
    assert all(r.ok for r in results)
    stored = sb.client().Contact.get(contact)
    assert (stored["HasOptedOutOfEmail"], stored["Birthdate"], stored["Title"]) == (True, "1990-01-02", "12")
    stored = sb.client().Event.get(results[1].id)
    assert (stored["DurationInMinutes"], stored["StartDateTime"]) == (45, "2026-03-02T10:00:00.000+0000")
    twice = [Write("d1", "delete", "Contact", id=contact), Write("d2", "delete", "Contact", id=contact)]
    assert [r.ok for r in connector.write("Contact", twice[:1])] == [True]
    assert [r.ok for r in connector.write("Contact", twice[1:])] == [True]  # already in the recycle bin


def polls(bulk_calls: int, jobs: int, result_files: int) -> int:
    """The status checks among a number of Bulk calls: each job is created, uploaded, closed,
    polled while the org processes it, and its result files read (only those its counts say
    hold rows: successes, failures)."""
    return bulk_calls - 3 * jobs - result_files


def test_bulk_api_above_the_threshold_maps_results_back_in_order(sb, connect):
    connector = connect(bulk_threshold=100)
    writes = creates(150)
    writes[7] = Write("bad", "create", "Contact", values={"FirstName": "No last name"})
    writes[9] = Write("twin", "create", "Contact", values={"LastName": "C0"})  # same row as C0
    results = connector.write("Contact", writes)
    assert [r.ref for r in results] == [w.ref for w in writes]
    assert results[7] == WriteResultLike(
        "bad", error="REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]"
    )
    assert sum(r.ok for r in results) == 149 and len({r.id for r in results if r.ok}) == 149
    assert connector.calls.keys() == {"describe", "bulk"} and connector.calls["describe"] == 1
    assert polls(connector.calls["bulk"], jobs=1, result_files=2) >= 1
    stored = {
        r["Id"]: r["LastName"] for r in sb.client().query_all("SELECT Id, LastName FROM Contact")["records"]
    }
    assert all(stored[r.id] == w.values["LastName"] for w, r in zip(writes, results, strict=True) if r.ok)

    ok = [r for r in results if r.ok]
    updates = [
        Write(f"u{i}", "update", "Contact", id=r.id, values={"Email": f"u{i}@x.com"})
        for i, r in enumerate(ok)
    ]
    updates[3] = Write(
        "badmail", "update", "Contact", id=ok[3].id, values={"Email": "not an email", "Title": None}
    )
    updated = connector.write("Contact", updates)
    assert [r.ok for r in updated].count(False) == 1
    assert not updated[3].ok and updated[3].error.startswith(
        "INVALID_EMAIL_ADDRESS: Email: invalid email address"
    )
    deleted = connector.write(
        "Contact", [Write(f"d{i}", "delete", "Contact", id=r.id) for i, r in enumerate(ok)]
    )
    assert all(r.ok for r in deleted) and count(sb) == 0
    assert connector.calls["describe"] == 1 and polls(connector.calls["bulk"], jobs=3, result_files=5) >= 3


@pytest.mark.parametrize("bulk_threshold", [2_000, 10])
def test_a_value_no_request_can_carry_fails_its_record_alone(sb, connect, bulk_threshold):
    connector = connect(bulk_threshold=bulk_threshold)  # Collections (JSON), then a Bulk job (CSV)
    writes = creates(20)
    writes[3] = Write("bad", "create", "Contact", values={"LastName": "Ana\udc80"})
    results = connector.write("Contact", writes)
    assert results[3] == WriteResultLike(
        "bad", error="`Contact.LastName`: character 4 is a lone surrogate, which no request can carry"
    )
    assert sum(r.ok for r in results) == 19 and count(sb) == 19


def test_a_bulk_job_whose_every_row_failed_reads_its_failures_alone(sb, connect):
    connector = connect(bulk_threshold=10)
    writes = [Write(f"w{i}", "create", "Contact", values={"FirstName": f"F{i}"}) for i in range(20)]
    results = connector.write("Contact", writes)
    assert [r.ref for r in results] == [w.ref for w in writes] and not any(r.ok for r in results)
    assert {r.error for r in results} == {"REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]"}
    assert polls(connector.calls["bulk"], jobs=1, result_files=1) >= 1 and count(sb) == 0


def test_rows_a_failed_bulk_job_never_reached_go_through_collections(sb, connect):
    connector = connect()
    sb.set_faults(bulk_fail_after=2_000)  # the job stops after its first chunk of 2,000 rows
    results = connector.write("Contact", creates(2_500))
    assert all(r.ok for r in results) and len({r.id for r in results}) == 2_500
    assert count(sb) == 2_500
    assert connector.calls["collections"] == 3  # the 500 rows the job never reached, 200 a call


def test_creates_of_a_bulk_job_that_cannot_be_followed_to_its_end_are_unknown(sb, connect):
    """The job's status cannot be read: its creates may have happened (here the org writes them
    all), so none is answered failed, which would send it again; the journal looks for them."""
    connector = connect(max_retries=1, retry_delay_seconds=0.001)
    sb.set_faults(bulk_status_unavailable=True)
    results = connector.write("Contact", creates(2_100))
    assert all(r.unknown and not r.ok for r in results)
    assert "could not be followed to its end" in results[0].error
    deadline = time.monotonic() + 30
    while count(sb) < 2_100 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(sb) == 2_100
    updates = [Write(f"u{i}", "update", "Contact", id=r["Id"], values={"Title": "x"}) for i, r in enumerate(
        sb.client().query_all("SELECT Id FROM Contact")["records"]
    )]  # fmt: skip
    updated = connector.write("Contact", updates)  # an update may be sent again: it fails, not unknown
    assert not any(r.unknown for r in updated) and not any(r.ok for r in updated)


# --- retries, call counts and secrets ----------------------------------------------------------------


def test_refused_requests_are_retried_and_no_create_is_duplicated(sb, connect):
    connector = connect(retry_delay_seconds=0.001, max_retries=10, bulk_threshold=500)
    connector.describe("Contact")
    sb.set_faults(request_limit_rate=0.25, unavailable_rate=0.25, seed=11)
    collections = connector.write("Contact", creates(450, "A"))
    bulk = connector.write("Contact", creates(600, "B"))
    read = list(connector.read("Contact"))
    found = connector.find("Contact", "LastName", ["A1", "B1"])
    sb.set_faults(request_limit_rate=0.0, unavailable_rate=0.0)
    assert all(r.ok for r in collections + bulk)
    assert count(sb) == 1050 and len(read) == 1050 and len({r.id for r in read}) == 1050 and len(found) == 2
    assert connector.calls["collections"] > 3 and connector.calls["bulk"] > 6  # retries are counted
    stats = sb.stats()["by_kind"]
    assert connector.calls["collections"] == stats["collections_create"]
    assert sum(connector.calls.values()) == sb.stats()["total"] - 1  # each request once; count() made one


def test_retries_give_up_after_max_retries(sb, connect):
    connector = connect(retry_delay_seconds=0.001, max_retries=2)
    connector.describe("Contact")
    sb.set_faults(request_limit_rate=1.0)
    with pytest.raises(ConnectorError) as excinfo:
        list(connector.read("Contact"))
    assert excinfo.value.message == (
        "Salesforce query still failing after 3 attempts: 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."
    )
    results = connector.write("Contact", creates(450))
    sb.set_faults(request_limit_rate=0.0)
    assert [r.ok for r in results] == [False] * 450
    assert results[0].error.startswith("Salesforce collections still failing after 3 attempts: 403")
    assert results[-1].error.startswith("not sent: an earlier call for Contact failed")
    assert connector.calls == {"describe": 1, "query": 3, "collections": 3}  # the later chunks were not sent
    assert count(sb) == 0


def test_secrets_never_appear_in_errors_or_repr(sb, tmp_path):
    secret_session = "00D-SESSION-SECRET-" + "x" * 20
    connector = SalesforceConnector({**settings(sb), "session_id": secret_session}, tmp_path)
    password, token = "hunter2-PASSWORD-secret", "TOKEN-secret-123"
    login = SalesforceConnector(
        {"instance_url": sb.instance_url, "ca_file": str(sb.ca_file), "username": "ana@acme.com",
         "password": password, "security_token": token},
        tmp_path,
    )  # fmt: skip
    oauth = {"client_id": "app", "client_secret": "CLIENT-secret-456", "instance_url": sb.instance_url}
    failures = []
    for attempt in (lambda: connector.describe("Contact"), lambda: login.read("Contact")):
        with pytest.raises(ConnectorError) as excinfo:
            attempt()
        failures.append(excinfo.value)
    with pytest.raises(ConnectorError) as excinfo:
        SalesforceConnector(oauth, tmp_path).describe("Contact")
    failures.append(excinfo.value)
    assert (
        failures[0].message
        == "Salesforce describe failed: 401 INVALID_SESSION_ID: Session expired or invalid"
    )
    assert failures[1].message.startswith("Salesforce login (password) failed: 404")
    assert login.calls == {"login": 1}
    shown = [repr(connector), repr(login), str(connector.__dict__.get("_settings"))]
    for error in failures:
        shown += [str(error), repr(error), error.hint or "", "".join(traceback.format_exception(error))]
    for secret in (secret_session, password, token, oauth["client_secret"]):
        assert not [text for text in shown if secret in text]
    connector.close()
    login.close()


GATEWAY_DESCRIBE = {"name": "Contact", "createable": True, "updateable": True, "deletable": True, "fields": [
    {"name": "Id", "type": "id", "createable": False, "updateable": False, "nillable": False},
    {"name": "SystemModstamp", "type": "datetime", "createable": False, "updateable": False},
    {"name": "LastName", "type": "string", "createable": True, "updateable": True, "nillable": False},
]}  # fmt: skip


class FlakyGateway(BaseHTTPRequestHandler):
    """An org behind a gateway that answers 502 to every create and to the first update."""

    seen: ClassVar[list[str]] = []

    def do_GET(self):
        self.answer(200, GATEWAY_DESCRIBE)

    def do_POST(self):
        self.seen.append("POST")
        self.answer(502, {"message": "Bad Gateway"})

    def do_PATCH(self):
        self.seen.append("PATCH")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.seen.count("PATCH") == 1:
            return self.answer(502, {"message": "Bad Gateway"})
        self.answer(200, [{"id": r["Id"], "success": True, "errors": []} for r in body["records"]])

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway(tmp_path):
    context = server_context(tmp_path / "ca.pem")
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyGateway)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    FlakyGateway.seen = []
    yield f"https://127.0.0.1:{server.server_address[1]}", tmp_path / "ca.pem"
    server.shutdown()
    server.server_close()


def test_a_create_answered_502_is_not_replayed_but_an_update_is(gateway):
    url, ca_file = gateway
    connector = SalesforceConnector(
        {"instance_url": url, "session_id": "s", "ca_file": str(ca_file), "retry_delay_seconds": 0.001},
        Path("."),
    )
    [created] = connector.write("Contact", creates(1))
    assert not created.ok and created.error.startswith("outcome unknown: Salesforce answered 502 ERROR")
    assert "not sent again so that no duplicate is made" in created.error
    update = Write("u", "update", "Contact", id="003000000000001AAA", values={"LastName": "X"})
    assert connector.write("Contact", [update])[0].ok
    assert FlakyGateway.seen == ["POST", "PATCH", "PATCH"]
    assert connector.calls == {"describe": 1, "collections": 3}
    connector.close()


def test_an_unreachable_org_is_a_connector_error(tmp_path):
    connector = SalesforceConnector(
        {
            "instance_url": "https://127.0.0.1:9",
            "session_id": "s",
            "max_retries": 1,
            "retry_delay_seconds": 0.001,
        },
        tmp_path,
    )
    with pytest.raises(
        ConnectorError, match=r"describe still failing after 2 attempts: ConnectionError: "
    ) as unreached:
        connector.describe("Contact")
    assert unreached.value.hint == (
        "nothing answers at https://127.0.0.1:9: check `instance_url` and that the org (or `syncmap sandbox`) is up"
    )


def test_ssl_errors_point_at_ca_file(sb, tmp_path):
    connector = SalesforceConnector({"instance_url": sb.instance_url, "session_id": sb.session_id}, tmp_path)
    with pytest.raises(ConnectorError) as excinfo:
        connector.describe("Contact")
    assert "SSLError" in excinfo.value.message and "ca_file" in excinfo.value.hint
    assert urlsplit(sb.instance_url).netloc in excinfo.value.message


def test_a_missing_ca_file_is_a_setting_error_before_any_call(tmp_path):
    with pytest.raises(SettingError) as excinfo:
        SalesforceConnector(
            {"instance_url": "https://127.0.0.1:9", "session_id": "s", "ca_file": "ca.pem"}, tmp_path
        )
    assert excinfo.value.setting == "ca_file" and str(tmp_path / "ca.pem") in excinfo.value.message


def _key_pair(tmp_path):
    """A private key written where a mapping can name it, and its public key for the app."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = tmp_path / "syncmap.key"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def test_the_connector_signs_in_with_the_jwt_bearer_flow_and_writes_as_that_user(sb, tmp_path):
    private, public = _key_pair(tmp_path)
    assert private.name == "syncmap.key"  # named relative to the mapping document below
    sb.add_connected_app(ConnectedApp("syncmap-app", certificate=public))
    jwt_settings = {"client_id": "syncmap-app", "username": "integration@acme.com", "private_key_file": "syncmap.key",
                    "login_url": sb.instance_url, "ca_file": str(sb.ca_file)}  # fmt: skip
    connector = SalesforceConnector(jwt_settings, tmp_path)
    [result] = connector.write("Contact", creates(1))
    assert result.ok and connector.calls["login"] == 1
    made = sb.client().query(f"SELECT CreatedBy.Username FROM Contact WHERE Id = '{result.id}'")["records"][0]
    assert made["CreatedBy"]["Username"] == "integration@acme.com"
    connector.close()

    (tmp_path / "other").mkdir()
    other_private, _ = _key_pair(tmp_path / "other")  # a key the app does not know
    refused = SalesforceConnector({**jwt_settings, "private_key_file": str(other_private)}, tmp_path)
    with pytest.raises(ConnectorError) as excinfo:
        refused.describe("Contact")
    assert excinfo.value.message == "Salesforce login (jwt) failed: invalid_grant: invalid assertion"
    assert "BEGIN" not in str(excinfo.value) + (excinfo.value.hint or "")
    refused.close()
    with pytest.raises(SettingError, match=r"the private key .* does not exist"):
        SalesforceConnector({**jwt_settings, "private_key_file": "missing.key"}, tmp_path)


def test_the_sandbox_token_endpoint_answers_each_flow_as_an_org_does(sb):
    """Third-party clients sign in to the sandbox as they do to an org: password, client
    credentials, each refused with the error an org gives; a token is a working session."""
    sb.add_connected_app(ConnectedApp("peer", client_secret="s3cret", run_as="peer@acme.com"))
    sb.set_password("ana@acme.com", "passwordTOKEN")
    http, url = sb.http_session(), f"{sb.instance_url}/services/oauth2/token"
    app = {"client_id": "peer", "client_secret": "s3cret"}
    password = http.post(
        url, data={"grant_type": "password", **app, "username": "ana@acme.com", "password": "passwordTOKEN"}
    )
    assert password.status_code == 200 and password.json()["instance_url"] == sb.instance_url
    token = password.json()["access_token"]
    assert sb.client(token).query("SELECT Id FROM Contact LIMIT 1")["done"]
    credentials = http.post(url, data={"grant_type": "client_credentials", **app})
    assert credentials.status_code == 200 and credentials.json()["id"].split("/")[-1].startswith("005")
    refusals = [
        ({"grant_type": "password", **app, "username": "ana@acme.com", "password": "wrong"}, "invalid_grant"),
        ({"grant_type": "client_credentials", "client_id": "peer", "client_secret": "no"}, "invalid_client"),
        (
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "s3cret"},
            "invalid_client_id",
        ),
        ({"grant_type": "authorization_code", **app}, "unsupported_grant_type"),
    ]
    for form, error in refusals:
        answer = http.post(url, data=form)
        assert (answer.status_code, answer.json()["error"]) == (400, error)
    assert sb.stats()["by_kind"].get("oauth") is None  # token requests are not API calls

"""What the sqlite and memory connectors both promise; every test here runs on each of them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.connectors import FieldInfo, Write, WriteResult
from engine.connectors.memory import MemoryConnector
from engine.connectors.sqlite import SqliteConnector
from engine.errors import ConnectorError

T1 = "2026-01-01T00:00:00.000000+00:00"
T2 = "2026-01-02T00:00:00.000000+00:00"
T3 = "2026-01-03T00:00:00.000000+00:00"


def create(ref: str, **values) -> Write:
    return Write(ref, "create", "contacts", values=values)


def update(ref: str, record_id: str, **values) -> Write:
    return Write(ref, "update", "contacts", id=record_id, values=values)


def delete(ref: str, record_id: str) -> Write:
    return Write(ref, "delete", "contacts", id=record_id)


def test_each_write_gets_its_own_result_in_order(store):
    store.seed("contacts", [{"id": "c1", "name": "Ada"}, {"id": "c2", "name": "Bob"}])
    results = store.write(
        "contacts",
        [
            create("r1", id="new", name="Cy"),
            create("r2", name="Di"),
            update("r3", "c1", name="Ada L."),
            delete("r4", "c2"),
        ],
    )
    assert [r.ref for r in results] == ["r1", "r2", "r3", "r4"]
    assert all(r.ok and r.error is None for r in results)
    assert results[0].id == "new"
    assert len(results[1].id) == 32 and int(results[1].id, 16) >= 0  # uuid4 hex
    assert [results[2].id, results[3].id] == ["c1", "c2"]
    assert set(store.get("contacts", ["new", results[1].id, "c1", "c2"])) == {"new", results[1].id, "c1"}


def test_a_failing_record_never_fails_the_rest_of_its_batch(store):
    store.seed("contacts", [{"id": "c1", "name": "Ada"}])
    results = store.write(
        "contacts",
        [
            create("ok1", id="a", name="A"),
            update("missing", "nope", name="X"),
            create("duplicate", id="c1", name="again"),
            delete("gone", "nope"),
            create("not-json", id="n", score=float("nan")),
            Write("bad-op", "upsert", "contacts", values={"name": "?"}),  # type: ignore[arg-type]
            Write("no-id", "update", "contacts", values={"name": "?"}),
            update("id-change", "c1", id="other"),
            create("ok2", id="b", name="B"),
        ],
    )
    assert results == [
        WriteResult("ok1", ok=True, id="a"),
        WriteResult("missing", ok=False, id="nope", error="contacts `nope` not found"),
        WriteResult("duplicate", ok=False, id=None, error="contacts `c1` already exists"),
        WriteResult("gone", ok=False, id="nope", error="contacts `nope` not found"),
        WriteResult(
            "not-json",
            ok=False,
            error="create of contacts failed: Out of range float values are not JSON compliant",
        ),
        WriteResult("bad-op", ok=False, error="unknown write operation `upsert`"),
        WriteResult("no-id", ok=False, error="an update of `contacts` needs the record id"),
        WriteResult("id-change", ok=False, id="c1", error="contacts `c1`: the id field `id` cannot change"),
        WriteResult("ok2", ok=True, id="b"),
    ]
    assert sorted(store.get("contacts", ["a", "b", "c1", "n"])) == ["a", "b", "c1"]
    assert store.get("contacts", ["c1"])["c1"].values["name"] == "Ada"


def test_update_merges_values_and_stamps_the_modified_field(store):
    store.seed("contacts", [{"id": "c1", "name": "Ada", "email": "ada@example.com", "updated_at": T1}])
    [result] = store.write("contacts", [update("r", "c1", name="Ada Lovelace")])
    assert result.ok
    record = store.get("contacts", ["c1"])["c1"]
    assert record.values["name"] == "Ada Lovelace" and record.values["email"] == "ada@example.com"
    assert record.modified > T1 and record.values["updated_at"] == record.modified
    assert record.values["id"] == "c1"


def test_deleted_records_are_gone_for_get_find_update_and_delete(store):
    store.seed("contacts", [{"id": "c1", "email": "a@x.com"}])
    assert store.write("contacts", [delete("d", "c1")])[0].ok
    assert store.get("contacts", ["c1"]) == {}
    assert store.find("contacts", "email", ["a@x.com"]) == []
    again = store.write("contacts", [update("u", "c1", email="b@x.com"), delete("d2", "c1")])
    assert [r.error for r in again] == ["contacts `c1` not found", "contacts `c1` not found"]
    revived = store.write("contacts", [create("c", id="c1", email="new@x.com")])[0]
    assert revived.ok and store.get("contacts", ["c1"])["c1"].values["email"] == "new@x.com"


def test_read_since_is_inclusive_ordered_and_reports_tombstones(store):
    store.seed(
        "contacts",
        [
            {"id": "b", "updated_at": T2},
            {"id": "a", "updated_at": T2},  # same time: ordered by id
            {"id": "old", "updated_at": T1},
            {"id": "late", "updated_at": T3},
            {"id": "dead", "updated_at": T2, "_deleted": True},
        ],
    )
    assert store.write("contacts", [delete("d", "old")])[0].ok
    records = list(store.read("contacts", since="2026-01-02T00:00:00Z"))
    assert [(r.id, r.deleted) for r in records] == [
        ("a", False),
        ("b", False),
        ("dead", True),
        ("late", False),
        ("old", True),
    ]
    assert records[-1].modified > T3  # deleting bumped it past everything seeded
    assert [r.id for r in store.read("contacts")] == ["a", "b", "dead", "late", "old"]
    assert list(store.read("contacts", since=records[-1].modified)) == [records[-1]]


def test_read_of_a_type_never_written_is_empty(store):
    assert list(store.read("nothing")) == []
    assert store.get("nothing", ["x"]) == {}
    assert store.find("nothing", "email", ["x"]) == []


def test_modified_times_strictly_increase_across_many_fast_writes(store):
    stamps = []
    for start in range(0, 1000, 100):
        results = store.write("contacts", [create(str(i), id=str(i)) for i in range(start, start + 100)])
        assert all(r.ok for r in results)
    stamps = [r.modified for r in store.read("contacts")]
    assert len(stamps) == 1000 and stamps == sorted(set(stamps))
    assert all(len(s) == len("2026-11-23T10:00:00.123456+00:00") and s.endswith("+00:00") for s in stamps)
    assert [r.id for r in store.read("contacts")] == [str(i) for i in range(1000)]


def test_writes_come_after_the_latest_stored_time_even_if_it_is_in_the_future(store):
    store.seed("contacts", [{"id": "future", "updated_at": "2100-01-01T00:00:00Z"}])
    [result] = store.write("contacts", [create("r", id="now")])
    assert store.get("contacts", ["now"])["now"].modified == "2100-01-01T00:00:00.000001+00:00"
    assert result.ok


def test_get_and_find_handle_more_than_one_batch(store):
    store.seed("contacts", [{"id": f"c{i}", "email": f"{i}@x.com", "n": i} for i in range(1200)])
    found = store.get("contacts", [f"c{i}" for i in range(1200)] + ["missing"])
    assert len(found) == 1200 and found["c1199"].values["email"] == "1199@x.com"
    by_email = store.find("contacts", "email", [f"{i}@x.com" for i in range(0, 1200, 2)] + ["nobody@x.com"])
    assert sorted(r.id for r in by_email) == sorted(f"c{i}" for i in range(0, 1200, 2))
    assert len(store.find("contacts", "id", [f"c{i}" for i in range(700)])) == 700


def test_find_matches_exact_values_on_nested_paths(store):
    store.seed(
        "contacts",
        [
            {"id": "1", "company": {"name": "Acme", "size": 10}, "code": "7"},
            {"id": "2", "company": {"name": "Initech"}, "code": 7},
            {"id": "3", "company": "Acme"},
            {"id": "4"},
        ],
    )
    assert [r.id for r in store.find("contacts", "company.name", ["Acme", None])] == ["1"]
    assert [r.id for r in store.find("contacts", "company.size", [10])] == ["1"]
    assert [r.id for r in store.find("contacts", "code", ["7"])] == ["1"]
    assert [r.id for r in store.find("contacts", "code", [7])] == ["2"]
    assert store.find("contacts", "company.name", []) == []


def test_describe_infers_fields_from_stored_values(store):
    store.seed(
        "contacts",
        [
            {
                "id": "1",
                "name": "Ada",
                "age": 36,
                "vip": True,
                "born": "1815-12-10",
                "company": {"name": "A"},
            },
            {"id": "2", "name": None, "age": "unknown", "seen": "2026-01-01T10:00:00Z", "tags": ["x"]},
        ],
    )
    info = store.describe("contacts")
    assert (info.name, info.id_field, info.modified_field) == ("contacts", "id", "updated_at")
    assert {name: f.type for name, f in info.fields.items()} == {
        "id": "id",
        "updated_at": "datetime",
        "age": "string",  # a number in one record, text in another
        "born": "date",
        "company": "object",
        "name": "string",
        "seen": "datetime",
        "tags": "list",
        "vip": "boolean",
    }
    assert info.fields["id"] == FieldInfo("id", "id", createable=True, updateable=False, nillable=False)


def test_describe_of_a_type_never_written_has_id_and_modified_fields(store):
    info = store.describe("leads")
    assert list(info.fields) == ["id", "updated_at"]
    assert info.createable and info.updateable and info.deletable


def test_custom_id_and_modified_fields(store, tmp_path):
    settings = {"id_field": "Id", "modified_field": "LastModified"}
    if isinstance(store, SqliteConnector):
        other = SqliteConnector({"path": "custom.db", **settings}, tmp_path)
    else:
        other = MemoryConnector(settings)
    [result] = other.write("Lead", [Write("r", "create", "Lead", values={"Id": "L1", "Name": "Ada"})])
    record = other.get("Lead", ["L1"])["L1"]
    assert result.id == "L1" and record.values["LastModified"] == record.modified
    assert set(other.describe("Lead").fields) == {"Id", "LastModified", "Name"}
    other.close()


def test_dates_are_stored_as_iso_text_and_other_objects_are_refused(store):
    results = store.write(
        "contacts",
        [create("d", id="d", born=datetime(2026, 1, 2, 3, 4, tzinfo=UTC)), create("o", id="o", x=object())],
    )
    assert store.get("contacts", ["d"])["d"].values["born"] == "2026-01-02T03:04:00+00:00"
    assert not results[1].ok and "object value" in results[1].error


def test_where_and_bad_since_are_connector_errors(store):
    with pytest.raises(ConnectorError) as error:
        store.read("contacts", where="name = 'x'")
    assert "does not support `where`" in error.value.message
    assert error.value.hint == "remove `where` from this side and filter records in the mapping instead"
    with pytest.raises(ConnectorError) as error:
        store.read("contacts", since="yesterday")
    assert error.value.message == "since `yesterday` is not an ISO 8601 time"


def test_calls_are_counted_per_method(store):
    store.write("contacts", [create("r", id="1")])
    store.write("contacts", [])
    store.get("contacts", ["1"])
    list(store.read("contacts"))
    store.find("contacts", "name", ["x"])
    assert store.calls == {"write": 2, "get": 1, "read": 1, "find": 1}


def test_records_read_back_are_copies(store):
    store.seed("contacts", [{"id": "1", "company": {"name": "Acme"}}])
    store.get("contacts", ["1"])["1"].values["company"]["name"] = "changed"
    assert store.get("contacts", ["1"])["1"].values["company"] == {"name": "Acme"}

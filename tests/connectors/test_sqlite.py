"""The SQLite file itself: layout, lazy tables, batching, streaming, two processes, errors."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.connectors import Write
from engine.connectors.sqlite import BATCH, SqliteConnector
from engine.errors import ConnectorError
from engine.times import Clock


@pytest.fixture
def connector(tmp_path: Path):
    with SqliteConnector({"path": "data/platform.db"}, tmp_path) as connector:
        yield connector


def test_the_file_is_created_relative_to_base_dir_in_wal_mode(connector, tmp_path):
    assert connector.path == tmp_path / "data" / "platform.db"
    assert connector.path.exists()
    assert connector.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_table_is_created_by_the_first_write_not_by_describe(connector):
    assert list(connector.describe("contacts").fields) == ["id", "updated_at"]
    assert connector.types() == []
    connector.write("contacts", [Write("r", "create", "contacts", values={"id": "1", "name": "Ada"})])
    assert connector.types() == ["contacts"]
    columns = [(name, kind) for _, name, kind, *_ in connector.db.execute("PRAGMA table_info(contacts)")]
    assert columns == [("id", "TEXT"), ("data", "TEXT"), ("updated_at", "TEXT"), ("deleted", "INTEGER")]
    indexes = [row[1] for row in connector.db.execute("PRAGMA index_list(contacts)")]
    assert "contacts_updated_at" in indexes


def test_rows_hold_json_values_and_tombstones(connector):
    connector.seed("contacts", [{"id": "1", "name": "Ada", "updated_at": "2026-01-01T10:00:00+02:00"}])
    row = connector.db.execute("SELECT id, data, updated_at, deleted FROM contacts").fetchone()
    assert row == (
        "1",
        json.dumps({"id": "1", "name": "Ada", "updated_at": "2026-01-01T08:00:00.000000+00:00"}),
        "2026-01-01T08:00:00.000000+00:00",
        0,
    )
    connector.write("contacts", [Write("d", "delete", "contacts", id="1")])
    data, stamp, deleted = connector.db.execute("SELECT data, updated_at, deleted FROM contacts").fetchone()
    assert deleted == 1 and json.loads(data)["updated_at"] == stamp > "2026-01-01T08"


def test_get_and_find_send_at_most_one_batch_of_values_per_query(connector):
    connector.seed("contacts", [{"id": str(i), "email": f"{i}@x.com"} for i in range(1201)])
    statements: list[str] = []
    connector.db.set_trace_callback(statements.append)
    assert len(connector.get("contacts", [str(i) for i in range(1201)])) == 1201
    assert len(connector.find("contacts", "email", [f"{i}@x.com" for i in range(1201)])) == 1201
    connector.db.set_trace_callback(None)
    literals = [s.count("'") // 2 for s in statements if " IN (" in s]
    assert BATCH == 500
    assert literals == [500, 500, 201, 501, 501, 202]  # find also sends its JSON path


def test_find_uses_json_extract_for_paths_and_the_column_for_ids(connector):
    connector.seed("contacts", [{"id": "1", "company": {"name": "Acme"}}])
    statements: list[str] = []
    connector.db.set_trace_callback(statements.append)
    assert [r.id for r in connector.find("contacts", "company.name", ["Acme"])] == ["1"]
    assert [r.id for r in connector.find("contacts", "id", [1])] == ["1"]
    assert 'json_extract(data, \'$."company"."name"\')' in statements[0]
    assert "AND id IN ('1')" in statements[1]


def test_read_streams_in_pages_and_ignores_rows_written_while_reading(connector):
    connector.seed("contacts", [{"id": f"{i:04}", "n": i} for i in range(1300)])
    seen = []
    for record in connector.read("contacts"):
        seen.append(record.id)
        # a sync writing back what it reads must not read its own writes in the same pass
        assert connector.write(
            "contacts", [Write("u", "update", "contacts", id=record.id, values={"n": -1})]
        )[0].ok
    assert seen == [f"{i:04}" for i in range(1300)]
    assert all(r.values["n"] == -1 for r in connector.read("contacts"))


def test_two_connectors_on_one_file_see_each_others_writes(tmp_path):
    first = SqliteConnector({"path": "shared.db"}, tmp_path)
    second = SqliteConnector({"path": "shared.db"}, tmp_path)
    first.seed("contacts", [{"id": "far", "updated_at": "2100-01-01T00:00:00Z"}])
    assert second.write("contacts", [Write("r", "create", "contacts", values={"id": "b"})])[0].ok
    assert set(first.get("contacts", ["far", "b"])) == {"far", "b"}
    # the second connector's clock never saw the first one's time, yet its write comes after it
    assert first.get("contacts", ["b"])["b"].modified == "2100-01-01T00:00:00.000001+00:00"
    reader = second.read("contacts")
    first.write("contacts", [Write("d", "delete", "contacts", id="far")])
    assert [r.id for r in reader] == ["b"]  # `far` changed after the read began: the next read has it
    assert [(r.id, r.deleted) for r in second.read("contacts", since="2100-01-01T00:00:00.000002Z")] == [
        ("far", True)
    ]
    first.close()
    second.close()


def test_records_survive_reopening_the_file(tmp_path):
    with SqliteConnector({"path": "p.db"}, tmp_path) as connector:
        connector.write("contacts", [Write("r", "create", "contacts", values={"id": "1", "name": "Ada"})])
    with SqliteConnector({"path": str(tmp_path / "p.db")}, None) as connector:
        assert connector.get("contacts", ["1"])["1"].values["name"] == "Ada"


def test_clock_bumps_by_a_microsecond_when_time_has_not_moved_on():
    clock = Clock()
    clock.observe("2999-12-31T23:59:59.999999+00:00")
    assert [clock.tick(), clock.tick()] == [
        "3000-01-01T00:00:00.000000+00:00",
        "3000-01-01T00:00:00.000001+00:00",
    ]
    clock = Clock()
    before = datetime.now(UTC).isoformat(timespec="microseconds")
    assert clock.tick() >= before


def test_settings_are_checked(tmp_path):
    with pytest.raises(ConnectorError) as error:
        SqliteConnector({}, tmp_path)
    assert (error.value.message, error.value.hint) == (
        "the sqlite connector needs a `path` setting",
        "add `settings: {path: ...}` to the connection",
    )
    with pytest.raises(ConnectorError) as error:
        SqliteConnector({"path": "x.db", "pth": "y.db"}, tmp_path)
    assert (error.value.message, error.value.hint) == ("unknown sqlite setting `pth`", "did you mean `path`?")


def test_a_file_that_is_not_a_database_is_a_connector_error(tmp_path):
    (tmp_path / "notes.db").write_text("these are not the records you are looking for\n" * 100)
    with pytest.raises(ConnectorError) as error:
        SqliteConnector({"path": "notes.db"}, tmp_path)
    assert (
        error.value.message
        == f"sqlite `{tmp_path / 'notes.db'}`: opening the file failed: file is not a database"
    )
    assert error.value.hint == "check that the file is a syncmap SQLite store and that it is writable"


def test_a_lock_held_too_long_is_a_connector_error_with_a_hint(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.connectors.sqlite.BUSY_TIMEOUT_SECONDS", 0.05)
    connector = SqliteConnector({"path": "locked.db"}, tmp_path)
    other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(ConnectorError) as error:
        connector.write("contacts", [Write("r", "create", "contacts")])
    assert error.value.message.endswith("writing `contacts` failed: database is locked")
    assert error.value.hint == "another process held the write lock for more than 0.05 s; retry"
    other.execute("ROLLBACK")
    assert connector.write("contacts", [Write("r", "create", "contacts")])[0].ok
    other.close()
    connector.close()


def test_sqlite_reserved_names_cannot_be_record_types(connector):
    with pytest.raises(ConnectorError) as error:
        connector.write("sqlite_master", [Write("r", "create", "sqlite_master")])
    assert error.value.message == "`sqlite_master` cannot be a sqlite record type"


def test_odd_type_names_are_quoted(connector):
    connector.write('my "odd" type', [Write("r", "create", 'my "odd" type', values={"id": "1"})])
    assert [r.id for r in connector.read('my "odd" type')] == ["1"]


def test_a_row_without_a_json_object_is_read_as_unreadable_and_the_others_still_read(connector):
    connector.seed("contacts", [{"id": "1"}, {"id": "2"}])
    connector.db.execute("UPDATE contacts SET data = '[1, 2]' WHERE id = '1'")
    first, second = connector.read("contacts")
    assert first.id == "1" and first.unreadable.endswith("`contacts` record `1` does not hold a JSON object")
    assert second.id == "2" and second.unreadable is None

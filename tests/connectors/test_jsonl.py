"""The jsonl connector: fixture files read as records, every problem named by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.connectors import Write, WriteResult
from engine.connectors.jsonl import JsonlConnector
from engine.errors import ConnectorError

LINE_HINT = 'each line of a .jsonl file holds one JSON object, e.g. {"id": "1", "name": "Ada"}'


def fixtures(folder: Path, **files: list[dict] | str) -> Path:
    folder.mkdir(exist_ok=True)
    for name, lines in files.items():
        text = lines if isinstance(lines, str) else "".join(json.dumps(line) + "\n" for line in lines)
        (folder / f"{name}.jsonl").write_text(text)
    return folder


@pytest.fixture
def connector(tmp_path: Path) -> JsonlConnector:
    fixtures(
        tmp_path / "fixtures",
        contacts=[
            {"id": 2, "name": "Bob", "updated_at": "2026-01-02T00:00:00Z", "company": {"name": "Acme"}},
            {"id": "1", "name": "Ada", "updated_at": "2026-01-01T00:00:00Z"},
            {"id": "3", "name": "Cy", "updated_at": "2026-01-03T00:00:00Z", "_deleted": True},
            {"id": "4", "name": "No time"},
        ],
    )
    return JsonlConnector({"path": "fixtures"}, tmp_path)


def test_read_orders_records_by_modified_time_and_marks_deletions(connector):
    records = list(connector.read("contacts"))
    assert [(r.id, r.modified, r.deleted) for r in records] == [
        ("4", None, False),
        ("1", "2026-01-01T00:00:00.000000+00:00", False),
        ("2", "2026-01-02T00:00:00.000000+00:00", False),
        ("3", "2026-01-03T00:00:00.000000+00:00", True),
    ]
    assert records[2].values == {
        "id": 2,
        "name": "Bob",
        "updated_at": "2026-01-02T00:00:00Z",
        "company": {"name": "Acme"},
    }
    assert "_deleted" not in records[3].values


def test_read_since_is_inclusive_and_keeps_records_without_a_time(connector):
    assert [r.id for r in connector.read("contacts", since="2026-01-02T00:00:00+00:00")] == ["4", "2", "3"]


def test_get_and_find_leave_out_deleted_records(connector):
    assert sorted(connector.get("contacts", ["1", 2, "3", "9"])) == ["1", "2"]
    assert [r.id for r in connector.find("contacts", "company.name", ["Acme"])] == ["2"]
    assert [r.id for r in connector.find("contacts", "name", ["Cy", "Ada"])] == ["1"]
    assert [r.id for r in connector.find("contacts", "id", [2])] == ["2"]


def test_every_write_fails_as_read_only(connector):
    writes = [
        Write("a", "create", "contacts", values={"name": "New"}),
        Write("b", "update", "contacts", id="1", values={"name": "Changed"}),
        Write("c", "delete", "contacts", id="2"),
    ]
    assert connector.write("contacts", writes) == [
        WriteResult("a", ok=False, error="the jsonl connector is read-only"),
        WriteResult("b", ok=False, id="1", error="the jsonl connector is read-only"),
        WriteResult("c", ok=False, id="2", error="the jsonl connector is read-only"),
    ]
    assert connector.get("contacts", ["1"])["1"].values["name"] == "Ada"


def test_describe_gives_read_only_fields(connector):
    info = connector.describe("contacts")
    assert list(info.fields) == ["id", "updated_at", "company", "name"]
    assert not (info.createable or info.updateable or info.deletable)
    assert not any(f.createable or f.updateable for f in info.fields.values())


def test_a_bad_json_line_names_the_file_and_line(tmp_path):
    folder = fixtures(tmp_path / "f", contacts='{"id": "1"}\n\n{"id": "2" "name": "x"}\n')
    with pytest.raises(ConnectorError) as error:
        list(JsonlConnector({"path": "f"}, tmp_path).read("contacts"))
    assert (
        error.value.message
        == f"{folder / 'contacts.jsonl'}:3: not valid JSON: Expecting ',' delimiter (column 12)"
    )
    assert error.value.hint == LINE_HINT


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("[1, 2]\n", "a line must hold a JSON object, not list", LINE_HINT),
        (
            '{"name": "x"}\n',
            "the record has no `id`",
            "give every record an id, or set `id_field` to the key that holds it",
        ),
        (
            '{"id": "1", "updated_at": "soon"}\n',
            "`updated_at` `soon` is not an ISO 8601 time",
            "write times like 2026-11-23T10:00:00Z or 2026-11-23T10:00:00.123456+00:00",
        ),
    ],
)
def test_a_line_that_is_not_a_record_names_the_file_and_line(tmp_path, text, message, hint):
    folder = fixtures(tmp_path / "f", contacts='{"id": "0"}\n' + text)
    with pytest.raises(ConnectorError) as error:
        JsonlConnector({"path": "f"}, tmp_path).get("contacts", ["0"])
    assert (error.value.message, error.value.hint) == (f"{folder / 'contacts.jsonl'}:2: {message}", hint)


def test_a_repeated_id_is_reported_not_silently_replaced(tmp_path):
    folder = fixtures(tmp_path / "f", contacts=[{"id": "1"}, {"id": "2"}, {"id": 1}])
    with pytest.raises(ConnectorError) as error:
        JsonlConnector({"path": "f"}, tmp_path).describe("contacts")
    assert error.value.message == f"{folder / 'contacts.jsonl'}:3: id `1` is already used on line 1"


def test_a_missing_type_suggests_the_fixture_files_there_are(connector):
    with pytest.raises(ConnectorError) as error:
        connector.describe("contact")
    assert (
        error.value.message
        == f"no fixture file `{connector.folder / 'contact.jsonl'}` for record type `contact`"
    )
    assert error.value.hint == "did you mean `contacts`?"
    with pytest.raises(ConnectorError) as error:
        connector.read("zzz")
    assert error.value.hint == "fixture types: contacts"


def test_a_missing_folder_is_a_connector_error(tmp_path):
    with pytest.raises(ConnectorError) as error:
        JsonlConnector({"path": "nowhere"}, tmp_path)
    assert error.value.message == f"fixture folder `{tmp_path / 'nowhere'}` not found"


def test_custom_id_and_modified_fields(tmp_path):
    fixtures(tmp_path / "f", Lead=[{"Id": "L1", "LastModifiedDate": "2026-01-01T00:00:00.000+0000"}])
    connector = JsonlConnector(
        {"path": "f", "id_field": "Id", "modified_field": "LastModifiedDate"}, tmp_path
    )
    [record] = connector.read("Lead")
    assert (record.id, record.modified) == ("L1", "2026-01-01T00:00:00.000000+00:00")


def test_a_changed_file_is_read_again(connector):
    assert len(list(connector.read("contacts"))) == 4
    with (connector.folder / "contacts.jsonl").open("a") as file:
        file.write(json.dumps({"id": "5", "name": "Di and a longer line"}) + "\n")
    assert "5" in connector.get("contacts", ["5"])


def test_records_are_copies_and_calls_are_counted(connector):
    connector.get("contacts", ["2"])["2"].values["company"]["name"] = "changed"
    assert connector.find("contacts", "company.name", ["Acme"])[0].values["company"] == {"name": "Acme"}
    list(connector.read("contacts"))
    connector.write("contacts", [])
    assert connector.calls == {"get": 1, "find": 1, "read": 1, "write": 1}


def test_where_is_not_supported(connector):
    with pytest.raises(ConnectorError) as error:
        connector.read("contacts", where="name = 'Ada'")
    assert error.value.message == "the jsonl connector does not support `where` (reading `contacts`)"

"""What every writable connector promises the runner, checked on each: syncmap's own stores
(sqlite, memory), a customer's tables through `sql` on a real PostgreSQL server and on a SQLite
file, CSV files, and a platform's REST API served by json-server. A new connector joins by adding a `Subject` below."""

from __future__ import annotations

import csv
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from engine.connectors import Connector, Declared, Record, Write
from engine.connectors.csvfiles import CsvConnector
from engine.connectors.memory import MemoryConnector
from engine.connectors.rest import RestConnector
from engine.connectors.sql import SqlConnector
from engine.connectors.sqlite import SqliteConnector
from engine.errors import UnknownObjectError
from tests.conftest import customer_database
from tests.rest.servers import settings as rest_settings

TABLE = {
    "postgresql": "CREATE TABLE contacts (id SERIAL PRIMARY KEY, name TEXT, email TEXT, score NUMERIC, "
    "updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), deleted_at TIMESTAMPTZ)",
    "sqlite": "CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT, email TEXT, score NUMERIC, "
    "updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, deleted_at DATETIME)",
}
# what spoils one record where it is kept, so that it cannot be read: a value the driver or the
# file format cannot convert, written behind the connector's back
SPOILED_SCORE = {"postgresql": "Infinity", "sqlite": "abc"}
HOSTILE_NAME = 'Zoë "Z" O\'Neil, Jr.\nline two; \u65e5\u672c'


@dataclass
class Subject:
    """A connector under test: how to open it (again: writes must outlive the instance), and
    whether it has a catalogue of record types (so an unknown one is an error); a value it
    cannot hold, and how to make one of its records unreadable in place (None: nothing in it
    can be)."""

    kind: str
    open: Callable[[], Connector]
    fixed_types: bool
    unwritable: Any = float("nan")
    spoil: Callable[[str], None] | None = None


def _sql(kind: str, request: pytest.FixtureRequest, folder: Path) -> Subject:
    server = request.getfixturevalue("postgres_server") if kind == "postgresql" else None
    url = customer_database(kind, server, folder, [TABLE[kind]])

    def open_sql() -> Connector:
        connector = SqlConnector({"url": url}, folder)
        connector.declare("contacts", Declared(deleted_field="deleted_at"))
        return connector

    def spoil(record_id: str) -> None:
        engine = sa.create_engine(
            url.replace("sqlite:///", f"sqlite:///{folder}/").replace(
                "postgresql://", "postgresql+psycopg://"
            )
        )
        with engine.begin() as connection:
            connection.execute(
                sa.text(f"UPDATE contacts SET score = '{SPOILED_SCORE[kind]}' WHERE id = :id"),
                {"id": int(record_id)},
            )
        engine.dispose()

    unwritable = "a\x00b" if kind == "postgresql" else "\ud800"  # PostgreSQL text holds no NUL
    return Subject(f"sql-{kind}", open_sql, fixed_types=True, unwritable=unwritable, spoil=spoil)


def _csv(folder: Path) -> Subject:
    (folder / "contacts.csv").write_text("id,name,email,updated_at,deleted\n", encoding="utf-8")

    def open_csv() -> Connector:
        connector = CsvConnector({"path": "."}, folder)
        connector.declare("contacts", Declared(modified_field="updated_at", deleted_field="deleted"))
        return connector

    def spoil(record_id: str) -> None:
        path = folder / "contacts.csv"
        rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(
                row | {"updated_at": "yesterday"} if row["id"] == record_id else row for row in rows
            )

    return Subject("csv", open_csv, fixed_types=True, unwritable="\ud800", spoil=spoil)


def _rest(request: pytest.FixtureRequest) -> Subject:
    server = request.getfixturevalue("json_server")()

    def open_rest() -> Connector:
        connector = RestConnector(rest_settings(server))
        connector.declare("contacts", Declared(deleted_field="deleted_at"))
        return connector

    def spoil(record_id: str) -> None:
        server.fault(keep_stamp=1)
        httpx.patch(
            f"{server.url}/contacts/{record_id}", json={"updated_at": "yesterday"}, headers=server.headers()
        )

    return Subject("rest", open_rest, fixed_types=True, spoil=spoil)


@pytest.fixture(params=["sqlite", "memory", "sql-postgresql", "sql-sqlite", "csv", "rest"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Subject:
    kind = request.param
    if kind == "sqlite":

        def spoil(record_id: str) -> None:
            with sqlite3.connect(tmp_path / "store.db") as store:
                store.execute("UPDATE contacts SET data = '[1]' WHERE id = ?", (record_id,))

        store = lambda: SqliteConnector({"path": "store.db"}, tmp_path)  # noqa: E731
        return Subject(kind, store, fixed_types=False, spoil=spoil)
    if kind == "memory":
        store = f"conformance-{uuid.uuid4().hex}"
        return Subject(kind, lambda: MemoryConnector({"store": store}), fixed_types=False)
    if kind.startswith("sql-"):
        return _sql(kind.removeprefix("sql-"), request, tmp_path)
    if kind == "rest":
        return _rest(request)
    return _csv(tmp_path)


@pytest.fixture
def connector(subject: Subject) -> Iterator[Connector]:
    opened = subject.open()
    yield opened
    opened.close()


def create(ref: str, **values) -> Write:
    return Write(ref, "create", "contacts", values=values)


def created(connector: Connector, *names: str) -> list[str]:
    results = connector.write(
        "contacts", [create(f"r{i}", name=n, email=f"{i}@x.org") for i, n in enumerate(names)]
    )
    assert all(r.ok for r in results), results
    return [str(r.id) for r in results]


def names(records: Iterator[Record] | list[Record]) -> list[str]:
    return [r.values["name"] for r in records]


def test_creates_come_back_in_order_with_their_ids_and_exact_values(connector):
    results = connector.write(
        "contacts", [create("a", name=HOSTILE_NAME, email="a@x.org"), create("b", name="Bob")]
    )
    assert [(r.ref, r.ok, r.error) for r in results] == [("a", True, None), ("b", True, None)]
    first, second = (str(r.id) for r in results)
    assert first != second
    found = connector.get("contacts", [first, second, "404"])
    assert set(found) == {first, second}
    assert (found[first].values["name"], found[first].values["email"]) == (HOSTILE_NAME, "a@x.org")
    assert found[second].values.get("email") is None


def test_a_failing_write_fails_alone_and_the_rest_are_written(connector):
    (kept,) = created(connector, "Ada")
    results = connector.write(
        "contacts",
        [
            create("new", name="Cy"),
            Write("missing", "update", "contacts", id="404", values={"name": "X"}),
            Write("gone", "delete", "contacts", id="405"),
            Write("ok", "update", "contacts", id=kept, values={"name": "Ada L."}),
        ],
    )
    assert [(r.ref, r.ok) for r in results] == [
        ("new", True),
        ("missing", False),
        ("gone", False),
        ("ok", True),
    ]
    assert "404" in results[1].error and "405" in results[2].error
    assert sorted(names(connector.get("contacts", [kept, str(results[0].id)]).values())) == ["Ada L.", "Cy"]


def test_an_update_changes_only_the_fields_it_names(connector):
    (record_id,) = created(connector, "Ada")
    assert connector.write(
        "contacts", [Write("u", "update", "contacts", id=record_id, values={"name": "Ada L."})]
    )[0].ok
    values = connector.get("contacts", [record_id])[record_id].values
    assert (values["name"], values["email"]) == ("Ada L.", "0@x.org")


def test_reads_come_oldest_first_and_since_includes_its_own_time(connector):
    ids = created(connector, "Ada", "Bob", "Cy")
    everything = list(connector.read("contacts"))
    assert sorted(names(everything)) == ["Ada", "Bob", "Cy"]
    stamps = [r.modified for r in everything]
    assert all(stamps) and stamps == sorted(stamps)
    watermark = stamps[-1]
    assert connector.write(
        "contacts", [Write("u", "update", "contacts", id=ids[0], values={"name": "Ada L."})]
    )[0].ok
    changed = list(connector.read("contacts", since=watermark))
    assert "Ada L." in names(changed) and all(r.modified >= watermark for r in changed)
    assert everything[-1].id in {r.id for r in changed}  # at the watermark itself: read again


def test_a_deleted_record_is_read_as_a_deletion_and_left_out_of_get_and_find(connector):
    gone, kept = created(connector, "Ada", "Bob")
    assert connector.write("contacts", [Write("d", "delete", "contacts", id=gone)])[0].ok
    assert list(connector.get("contacts", [gone, kept])) == [kept]
    assert connector.find("contacts", "email", ["0@x.org", "1@x.org"])[0].id == kept
    assert len(connector.find("contacts", "email", ["0@x.org", "1@x.org"])) == 1
    read = {r.id: r for r in connector.read("contacts")}
    assert read[gone].deleted and not read[kept].deleted


def test_find_matches_exact_values_and_never_none(connector):
    connector.write(
        "contacts",
        [
            create("a", name="Ada", email="ada@x.org"),
            create("b", name="ADA", email="ADA@x.org"),
            create("c", name="Nobody"),
        ],
    )
    assert names(connector.find("contacts", "email", ["ada@x.org", None])) == ["Ada"]
    assert connector.find("contacts", "email", []) == []


def test_writes_outlive_the_connector(subject, connector):
    created(connector, "Ada")
    connector.close()
    reopened = subject.open()
    assert names(reopened.read("contacts")) == ["Ada"]
    reopened.close()


def test_thousands_of_records_written_in_batches_are_all_read_back(connector):
    ids = []
    for start in range(0, 2500, 200):
        batch = [
            create(f"r{i}", name=f"n{i}", email=f"{i}@x.org") for i in range(start, min(start + 200, 2500))
        ]
        results = connector.write("contacts", batch)
        assert all(r.ok for r in results)
        ids.extend(str(r.id) for r in results)
    read = list(connector.read("contacts"))
    assert len(read) == len({r.id for r in read}) == 2500 and {r.id for r in read} == set(ids)
    assert len(connector.get("contacts", ids)) == 2500


def test_an_unknown_record_type_is_named_with_a_did_you_mean(subject, connector):
    if not subject.fixed_types:
        pytest.skip(f"{subject.kind} creates a record type on its first write")
    with pytest.raises(UnknownObjectError) as unknown:
        connector.describe("contact")
    assert unknown.value.hint == "did you mean `contacts`?"


def test_a_value_the_system_cannot_hold_fails_that_write_alone(subject, connector):
    results = connector.write(
        "contacts", [create("a", name="Ada"), create("bad", name=subject.unwritable), create("b", name="Bob")]
    )
    assert [(r.ref, r.ok) for r in results] == [("a", True), ("bad", False), ("b", True)]
    assert results[1].error and not results[1].unknown
    assert sorted(names(connector.read("contacts"))) == ["Ada", "Bob"]


def test_a_record_that_cannot_be_read_is_said_so_and_the_others_still_read(subject, connector):
    if subject.spoil is None:
        pytest.skip(f"{subject.kind} keeps Python values: nothing in it is unreadable")
    first, spoiled, last = created(connector, "Ada", "Bad", "Cy")
    subject.spoil(spoiled)
    for records in (
        list(connector.read("contacts")),
        list(connector.get("contacts", [first, spoiled, last]).values()),
    ):
        by_id = {r.id: r for r in records}
        assert set(by_id) == {first, spoiled, last}
        assert by_id[spoiled].unreadable and not by_id[first].unreadable and not by_id[last].unreadable
        assert (by_id[first].values["name"], by_id[last].values["name"]) == ("Ada", "Cy")

"""The sql connector against a real PostgreSQL server and real SQLite files: every test runs on both."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.connectors import Declared, Write, WriteResult
from engine.connectors.sql import READ_PAGE, SqlConnector
from engine.errors import ConnectorError, QueryError, SettingError, UnknownObjectError
from tests.conftest import customer_database

CONTACTS = {
    "postgresql": """CREATE TABLE contacts (
        id SERIAL PRIMARY KEY, name TEXT NOT NULL, phone TEXT, score NUMERIC(6, 2),
        active BOOLEAN DEFAULT TRUE, born DATE, address JSONB,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), deleted_at TIMESTAMPTZ)""",
    "sqlite": """CREATE TABLE contacts (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, phone TEXT, score NUMERIC,
        active BOOLEAN DEFAULT 1, born DATE, address JSON,
        updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, deleted_at DATETIME)""",
}


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The url of an empty database with a `contacts` table of real columns."""
    server = request.getfixturevalue("postgres_server") if request.param == "postgresql" else None
    return customer_database(request.param, server, tmp_path, [CONTACTS[request.param]])


@pytest.fixture
def contacts(database: str, tmp_path: Path) -> Iterator[SqlConnector]:
    connector = SqlConnector({"url": database}, tmp_path)
    connector.declare("contacts", Declared(deleted_field="deleted_at"))
    yield connector
    connector.close()


def create(ref: str, **values) -> Write:
    return Write(ref, "create", "contacts", values=values)


def test_describe_comes_from_the_catalogue(contacts):
    info = contacts.describe("contacts")
    assert info.authoritative and (info.id_field, info.modified_field) == ("id", "updated_at")
    assert list(info.fields) == [
        "id", "name", "phone", "score", "active", "born", "address", "updated_at", "deleted_at",
    ]  # fmt: skip
    fields = info.fields
    assert (fields["id"].type, fields["id"].createable, fields["id"].required) == ("id", False, False)
    assert fields["name"].required and not fields["phone"].required
    assert not fields["active"].required and fields["active"].defaulted
    assert [fields[n].type for n in ("score", "active", "born", "address")] == [
        "number",
        "boolean",
        "date",
        "object",
    ]
    assert not fields["updated_at"].createable and not fields["updated_at"].updateable


def test_an_unknown_table_or_column_is_named_with_a_did_you_mean(contacts, database, tmp_path):
    with pytest.raises(UnknownObjectError) as unknown:
        contacts.describe("contact")
    assert (
        "has no table `contact`" in unknown.value.message and unknown.value.hint == "did you mean `contacts`?"
    )
    other = SqlConnector({"url": database}, tmp_path)
    other.declare("contacts", Declared(modified_field="updatedat"))
    with pytest.raises(UnknownObjectError) as column:
        other.describe("contacts")
    assert column.value.hint == "did you mean `updated_at`?"
    other.close()


def test_a_schema_that_does_not_exist_is_an_error_at_the_schema_setting(contacts, database, tmp_path):
    typo = "pubilc" if database.startswith("postgresql") else "mian"
    other = SqlConnector({"url": database, "schema": typo}, tmp_path)
    with pytest.raises(SettingError) as wrong:
        other.describe("contacts")
    assert wrong.value.setting == "schema" and f"has no schema `{typo}`" in wrong.value.message
    assert wrong.value.hint == f"did you mean `{'public' if typo == 'pubilc' else 'main'}`?"
    other.close()


def test_what_the_library_cannot_reflect_never_reaches_the_user_as_a_warning(database, tmp_path):
    url = database.replace("sqlite:///", f"sqlite:///{tmp_path}/")
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:  # an index on an expression: SQLAlchemy skips it with an SAWarning
        connection.execute(sa.text("CREATE INDEX contacts_lower_name ON contacts (lower(name))"))
    engine.dispose()
    connector = SqlConnector({"url": database}, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "name" in connector.describe("contacts").fields
    connector.close()


def test_writes_convert_by_column_type_and_one_bad_row_fails_alone(contacts):
    results = contacts.write(
        "contacts",
        [
            create(
                "a", name="Ada", score="12.5", born="1990-01-02", active="no", **{"address.city": "Paris"}
            ),
            create("b", name=None),
            create("c", name="Cy", score="lots"),
            create("d", name="Di", phone=5550001),
        ],
    )
    assert [r.ok for r in results] == [True, False, False, True]
    assert "name" in results[1].error and results[1].error.startswith("create of contacts failed: ")
    assert results[2].error.startswith("column `score` (NUMERIC") and results[2].error.endswith(
        "cannot hold 'lots'"
    )
    ada = contacts.get("contacts", [results[0].id])[results[0].id].values
    assert (ada["name"], ada["score"], ada["born"], ada["active"], ada["address"]) == (
        "Ada", 12.5, "1990-01-02", False, {"city": "Paris"},
    )  # fmt: skip
    assert contacts.get("contacts", [results[3].id])[results[3].id].values["phone"] == "5550001"


def test_an_update_merges_a_json_member_and_stamps_modified(contacts):
    [made] = contacts.write("contacts", [create("a", name="Ada", **{"address.city": "London"})])
    before = contacts.get("contacts", [made.id])[made.id]
    [updated] = contacts.write(
        "contacts",
        [Write("u", "update", "contacts", id=made.id, values={"address.zip": "N1", "name": "Ada L."})],
    )
    after = contacts.get("contacts", [made.id])[made.id]
    assert updated == WriteResult("u", ok=True, id=made.id)
    assert after.values["address"] == {"city": "London", "zip": "N1"} and after.values["name"] == "Ada L."
    assert after.modified > before.modified


def test_incremental_reads_are_oldest_first_and_include_soft_deletes(contacts):
    made = contacts.write("contacts", [create(str(i), name=f"n{i}") for i in range(5)])
    everything = list(contacts.read("contacts"))
    assert [r.id for r in everything] == [r.id for r in made]
    mark = everything[-1].modified
    [deleted] = contacts.write("contacts", [Write("x", "delete", "contacts", id=made[1].id)])
    assert deleted.ok
    changed = list(contacts.read("contacts", since=mark))  # at or after: rows stamped at `mark` come again
    assert (changed[-1].id, changed[-1].deleted) == (made[1].id, True)
    assert all(r.modified >= mark for r in changed) and not any(r.deleted for r in changed[:-1])
    assert made[1].id not in contacts.get("contacts", [made[1].id])
    assert contacts.find("contacts", "name", ["n1", "n2"])[0].id == made[2].id
    [again] = contacts.write(
        "contacts", [Write("y", "update", "contacts", id=made[1].id, values={"name": "z"})]
    )
    assert again.error == f"contacts `{made[1].id}` not found"


def test_reads_stream_by_keyset_over_many_pages(contacts):
    count = READ_PAGE * 2 + 7
    results = contacts.write("contacts", [create(str(i), name=f"n{i}") for i in range(count)])
    assert all(r.ok for r in results)
    ids = [r.id for r in contacts.read("contacts")]
    assert len(ids) == count and len(set(ids)) == count
    assert contacts.calls["read"] == 1


def test_a_hard_delete_removes_the_row_when_no_deleted_column_is_declared(database, tmp_path):
    with SqlConnector({"url": database}, tmp_path) as connector:
        [made] = connector.write("contacts", [create("a", name="Ada")])
        [gone] = connector.write("contacts", [Write("d", "delete", "contacts", id=made.id)])
        assert gone.ok and list(connector.read("contacts")) == []


def test_a_query_side_reads_and_is_checked_at_once(contacts, database, tmp_path):
    contacts.write("contacts", [create("a", name="Ada", phone="1"), create("b", name="Bob")])
    with SqlConnector({"url": database}, tmp_path) as connector:
        query = "SELECT id, name, updated_at FROM contacts WHERE phone IS NOT NULL"
        connector.declare("with_phone", Declared(modified_field="updated_at", query=query))
        info = connector.describe("with_phone")
        assert list(info.fields) == ["id", "name", "updated_at"] and not info.createable
        [ada] = connector.read("with_phone")
        assert ada.values["name"] == "Ada" and [
            r.id for r in connector.read("with_phone", since=ada.modified)
        ] == [ada.id]
        assert [r.values["name"] for r in connector.find("with_phone", "name", ["Ada"])] == ["Ada"]
        with pytest.raises(ConnectorError, match="cannot be written"):
            connector.write("with_phone", [create("c", name="Cy")])
        connector.declare("broken", Declared(query="SELECT nme FROM contacts"))
        with pytest.raises(QueryError, match="the query of `broken` fails on "):
            connector.describe("broken")
        with pytest.raises(ConnectorError, match="is not a SELECT"):
            connector.declare("drop", Declared(query="DELETE FROM contacts"))


def test_read_only_creates_nothing(tmp_path):
    with pytest.raises(SettingError) as missing:
        SqlConnector({"url": "sqlite:///missing/app.db"}, tmp_path, read_only=True)
    assert missing.value.setting == "url" and not (tmp_path / "missing").exists()


def test_read_only_postgresql_refuses_writes(database, tmp_path):
    if not database.startswith("postgresql"):
        pytest.skip("the PostgreSQL READ ONLY transaction; SQLite's mode=ro is tested above")
    with SqlConnector({"url": database}, tmp_path, read_only=True) as connector:
        [result] = connector.write("contacts", [create("a", name="Ada")])
        assert not result.ok and "read-only" in result.error


def test_a_refused_connection_and_wrong_password_never_show_the_password(tmp_path):
    with pytest.raises(ConnectorError) as refused:
        SqlConnector({"url": "postgresql://app:hunter2secret@127.0.0.1:9/app"}, tmp_path)
    assert refused.value.exit_code == 3
    assert "cannot reach 127.0.0.1:9" in refused.value.message
    assert "hunter2secret" not in refused.value.message + (refused.value.hint or "")


def test_credentials_the_server_refuses_are_named_without_the_password(postgres_server, tmp_path):
    # the server trusts every password on loopback, so an unknown user is the login it refuses
    url = sa.make_url(postgres_server).set(username="nobody_here", password="hunter2secret")
    with pytest.raises(ConnectorError) as refused:
        SqlConnector({"url": url.render_as_string(hide_password=False)}, tmp_path)
    message = refused.value.message
    assert 'role "nobody_here" does not exist' in message and "nobody_here:***@" in message
    assert refused.value.hint == "check the user and the password variable"
    assert "hunter2secret" not in message + refused.value.hint


def test_a_row_locked_by_another_transaction_is_waited_for(contacts, database):
    if not database.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite waits on its file lock (busy timeout)")
    [made] = contacts.write("contacts", [create("a", name="Ada")])
    other = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://"))
    holder = other.connect()
    holder.begin()
    holder.execute(sa.text("SELECT 1 FROM contacts WHERE id = :id FOR UPDATE"), {"id": int(made.id)})
    releaser = threading.Timer(1.0, holder.rollback)
    releaser.start()
    started = time.monotonic()
    [updated] = contacts.write(
        "contacts", [Write("u", "update", "contacts", id=made.id, values={"name": "Ada L."})]
    )
    waited = time.monotonic() - started
    releaser.join()
    holder.close()
    other.dispose()
    assert updated.ok and waited >= 0.9
    assert contacts.get("contacts", [made.id])[made.id].values["name"] == "Ada L."


SPELLINGS = [  # one instant per pair, two ways SQLite tables hold times
    ("2026-11-01 09:00:00", "2026-11-01 09:00:00.000000"),
    ("2026-11-01 09:00:00.5", "2026-11-01 09:00:00.500"),
]


def sqlite_people(tmp_path: Path, stamps: list[str]) -> SqlConnector:
    with sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}").begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE people (id INTEGER PRIMARY KEY, updated_at DATETIME NOT NULL)")
        )
        connection.execute(sa.text("CREATE INDEX people_modified ON people (updated_at, id)"))
        connection.execute(
            sa.text("INSERT INTO people (id, updated_at) VALUES (:id, :at)"),
            [{"id": i, "at": at} for i, at in enumerate(stamps, 1)],
        )
    return SqlConnector({"url": "sqlite:///app.db"}, tmp_path, read_only=True)


def test_sqlite_times_in_either_spelling_read_in_time_order_and_since_is_inclusive(tmp_path):
    stamps = [at for pair in SPELLINGS for at in pair] * (READ_PAGE // 2)  # pages split ties
    connector = sqlite_people(tmp_path, stamps)
    everything = list(connector.read("people"))
    assert len(everything) == len(stamps) and len({r.id for r in everything}) == len(stamps)
    assert [r.modified for r in everything] == sorted(r.modified for r in everything)
    for first, second in SPELLINGS:  # every spelling of the instant `since` names is read again
        since = next(r.modified for r in everything if int(r.id) == stamps.index(first) + 1)
        again = list(connector.read("people", since=since))
        assert len(again) == sum(1 for r in everything if r.modified >= since)
        assert {stamps[int(r.id) - 1] for r in again} >= {first, second}


def test_sqlite_times_with_a_zone_or_a_T_read_in_time_order(tmp_path):
    stamps = [
        "2026-11-01T10:00:00+02:00",
        "2026-11-01 08:30:00",
        "2026-11-01T07:00:00Z",
        "2026-11-01 09:00:00",
    ]
    connector = sqlite_people(tmp_path, stamps)
    assert [r.id for r in connector.read("people")] == ["3", "1", "2", "4"]  # 07:00, 08:00, 08:30, 09:00 UTC
    assert [r.id for r in connector.read("people", since="2026-11-01T08:15:00Z")] == ["2", "4"]


def test_a_sqlite_read_in_one_spelling_pages_through_the_tables_index(tmp_path):
    connector = sqlite_people(
        tmp_path, [f"2026-11-01 {9 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}" for i in range(3 * READ_PAGE)]
    )
    plans: list[str] = []

    @sa.event.listens_for(connector.engine, "before_cursor_execute")
    def explain(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("SELECT") and "ORDER BY" in statement:
            rows = connection.connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            plans.append(" ".join(str(row[-1]) for row in rows))

    assert len(list(connector.read("people", since="2026-11-01T09:10:00Z"))) == 3 * READ_PAGE - 600
    assert plans and all(
        "USING INDEX people_modified" in plan or "USING COVERING INDEX people_modified" in plan
        for plan in plans
    ), plans
    assert not any("TEMP B-TREE" in plan for plan in plans), plans


def test_a_sqlite_modified_time_that_is_no_time_is_read_as_unreadable_on_every_read(tmp_path):
    connector = sqlite_people(tmp_path, ["2026-11-01T10:00:00Z", "yesterday", "2026-11-02 10:00:00"])
    for since in (None, "2026-10-01T00:00:00Z"):
        read = {r.id: r for r in connector.read("people", since=since)}
        assert sorted(read) == ["1", "2", "3"]
        assert read["2"].unreadable == "`updated_at` holds `yesterday`: Invalid isoformat string: 'yesterday'"
        assert read["1"].unreadable is None and read["3"].unreadable is None

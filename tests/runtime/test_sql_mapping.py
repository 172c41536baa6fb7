"""A mapping between two customer tables through the `syncmap` command, on PostgreSQL and SQLite:
the catalogue refuses typos before anything runs, a plan writes nothing, apply syncs both ways."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import customer_database, run_syncmap, write_project

TABLES = {
    "postgresql": [
        "CREATE TABLE people (person_id SERIAL PRIMARY KEY, full_name TEXT, mobile TEXT, "
        "changed_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        "CREATE TABLE contacts (id SERIAL PRIMARY KEY, name TEXT NOT NULL, phone TEXT, email TEXT, "
        "updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), removed BOOLEAN NOT NULL DEFAULT false)",
        "INSERT INTO people (full_name, mobile) VALUES ('Ada Lovelace', '+1 415 555 0101'), "
        "('Bob Byte', '+1 415 555 0102')",
        "CREATE TABLE members (person_id SERIAL PRIMARY KEY, full_name TEXT, mobile TEXT, tier TEXT NOT NULL, "
        "changed_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    ],
    "sqlite": [
        "CREATE TABLE people (person_id INTEGER PRIMARY KEY, full_name TEXT, mobile TEXT, "
        "changed_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        "CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, phone TEXT, email TEXT, "
        "updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, removed BOOLEAN NOT NULL DEFAULT 0)",
        "INSERT INTO people (full_name, mobile) VALUES ('Ada Lovelace', '+1 415 555 0101'), "
        "('Bob Byte', '+1 415 555 0102')",
        "CREATE TABLE members (person_id INTEGER PRIMARY KEY, full_name TEXT, mobile TEXT, tier TEXT NOT NULL, "
        "changed_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    ],
}


def mapping(
    url: str,
    table: str = "contacts",
    name_field: str = "name",
    source: str = "people",
    full_name: str = "full_name",
) -> str:
    return textwrap.dedent(
        f"""\
        syncmap: 2
        name: people-to-contacts
        connections:
          app: {{connector: sql, settings: {{url: "{url}"}}}}
        objects:
          people:
            source: {{connection: app, object: {source}, id: person_id, modified: changed_at}}
            target: {{connection: app, object: {table}, deleted: removed}}
            direction: both
            match: [{{source: mobile, target: [phone], normalize: phone}}]
            fields:
              {name_field}: {full_name}
              phone: mobile
        """
    )


@pytest.fixture(params=["postgresql", "sqlite"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    server = request.getfixturevalue("postgres_server") if request.param == "postgresql" else None
    root = write_project(tmp_path / "project", {})
    return root, customer_database(request.param, server, root, TABLES[request.param])


def rows(url: str, root: Path, query: str) -> list[tuple]:
    if url.startswith("sqlite:///"):
        url = f"sqlite:///{root / url.removeprefix('sqlite:///')}"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        result = connection.execute(sa.text(query))
        found = [tuple(row) for row in result] if result.returns_rows else []
    engine.dispose()
    return found


def errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if "error:" in line or "hint:" in line]


def test_plan_refuses_an_unknown_table_and_column_at_their_lines(project):
    root, url = project
    (root / "job.yaml").write_text(mapping(url, table="contact"))
    result = run_syncmap("plan", "job.yaml", cwd=root)
    assert result.returncode == 1, result.stderr
    assert errors(result)[0].startswith("job.yaml:8:39: error: ")
    assert (
        "has no table `contact`" in errors(result)[0]
        and errors(result)[1] == "  hint: did you mean `contacts`?"
    )
    (root / "job.yaml").write_text(mapping(url, name_field="nmae"))
    result = run_syncmap("plan", "job.yaml", cwd=root)
    assert result.returncode == 1, result.stderr
    assert errors(result) == [
        "job.yaml:8:39: error: new contacts records need `name`, and no field of `people` gives it a value at objects.people.target.object",
        "  hint: add `name: {value: ..., create_only: true}` under fields, or a `default:` to a field that maps it",
        "job.yaml:12:7: error: contacts has no field `nmae` at objects.people.fields.nmae",
        "  hint: did you mean `name`?",
    ]
    assert rows(url, root, "SELECT count(*) FROM contacts") == [(0,)]


def test_plan_refuses_a_source_column_the_table_lacks_or_one_new_rows_cannot_leave_empty(project):
    root, url = project
    (root / "job.yaml").write_text(mapping(url, full_name="ful_name"))
    result = run_syncmap("plan", "job.yaml", cwd=root)
    assert result.returncode == 1, result.stderr
    assert errors(result) == [
        "job.yaml:12:13: error: people has no field `ful_name` at objects.people.fields.name",
        "  hint: did you mean `full_name`?",
    ]
    (root / "job.yaml").write_text(mapping(url, source="members"))
    result = run_syncmap("plan", "job.yaml", cwd=root)
    assert result.returncode == 1, result.stderr
    assert errors(result) == [
        "job.yaml:7:39: error: new members records need `tier`, and no field of `people` gives it a value at objects.people.source.object",
        "  hint: map a field to `tier` (or give the column a default), or set `direction: {create: to_target}`",
    ]


@pytest.mark.parametrize(
    "query, refused",
    [
        ("SELECT person_id, full_nme, mobile, changed_at FROM people", "full_nme"),
        ("SELECT person_id,, full_name FROM people", "syntax error"),
    ],
)
def test_plan_refuses_a_query_the_database_refuses_at_its_line(project, query, refused):
    root, url = project
    document = mapping(url).replace(
        "object: people, id: person_id,", f'object: people_with_phone, query: "{query}", id: person_id,'
    )
    (root / "job.yaml").write_text(document)
    result = run_syncmap("plan", "job.yaml", cwd=root)
    assert result.returncode == 1, result.stderr
    first, hint = errors(result)
    assert first.startswith("job.yaml:7:65: error: the query of `people_with_phone` fails on ")
    assert refused in first and first.endswith(" at objects.people.source.query")
    assert hint == "  hint: try it in the database's own client; a side's query is one SELECT (or WITH ...)"
    assert "Traceback" not in result.stderr


def test_plan_writes_nothing_and_apply_syncs_both_ways(project):
    root, url = project
    (root / "job.yaml").write_text(mapping(url))
    before = sorted(p.name for p in root.rglob("*"))
    planned = run_syncmap("plan", "job.yaml", "--detailed-exitcode", cwd=root)
    assert planned.returncode == 2, planned.stderr
    assert sorted(p.name for p in root.rglob("*")) == before, "a plan creates no file"
    assert rows(url, root, "SELECT count(*) FROM contacts") == [(0,)]

    applied = run_syncmap("apply", "job.yaml", cwd=root)
    assert applied.returncode == 0, applied.stderr
    assert rows(url, root, "SELECT name, phone FROM contacts ORDER BY name") == [
        ("Ada Lovelace", "+1 415 555 0101"),
        ("Bob Byte", "+1 415 555 0102"),
    ]
    again = run_syncmap("plan", "job.yaml", "--detailed-exitcode", cwd=root)
    assert again.returncode == 0, again.stdout + again.stderr

    # the CRM side changes a name: it flows back to the platform table
    engine = sa.create_engine(
        (f"sqlite:///{root / 'app.db'}" if url.startswith("sqlite") else url).replace(
            "postgresql://", "postgresql+psycopg://"
        )
    )
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE contacts SET name = 'Ada King', updated_at = CURRENT_TIMESTAMP + INTERVAL '1 minute' "
                "WHERE name = 'Ada Lovelace'"
                if url.startswith("postgresql")
                else "UPDATE contacts SET name = 'Ada King', updated_at = datetime('now', '+1 minute') "
                "WHERE name = 'Ada Lovelace'"
            )
        )
    engine.dispose()
    back = run_syncmap("apply", "job.yaml", cwd=root)
    assert back.returncode == 0, back.stderr
    assert rows(url, root, "SELECT full_name FROM people ORDER BY person_id") == [
        ("Ada King",),
        ("Bob Byte",),
    ]


@pytest.mark.parametrize("find_hard_deletes", [True, False])
def test_a_row_removed_from_the_table_is_found_by_the_key_scan_only_when_asked(project, find_hard_deletes):
    root, url = project
    flag = str(find_hard_deletes).lower()
    document = mapping(url).replace(
        "modified: changed_at}", f"modified: changed_at, find_hard_deletes: {flag}}}"
    )
    assert f"find_hard_deletes: {flag}}}" in document
    (root / "job.yaml").write_text(document + "    deletes: propagate\n")
    applied = run_syncmap("apply", "job.yaml", cwd=root)
    assert applied.returncode == 0, applied.stderr
    rows(url, root, "DELETE FROM people WHERE full_name = 'Ada Lovelace'")
    planned = run_syncmap("plan", "job.yaml", "--format", "json", cwd=root)
    assert planned.returncode == 0, planned.stderr
    deletes = [
        c for s in json.loads(planned.stdout)["steps"] for c in s["changes"] if c["action"] == "delete"
    ]
    assert [(c["side"], c["origin"]) for c in deletes] == (
        [("target", "people 1 (deleted)")] if find_hard_deletes else []
    )
    again = run_syncmap("apply", "job.yaml", cwd=root)
    assert again.returncode == 0, again.stderr
    assert rows(url, root, "SELECT name, removed FROM contacts ORDER BY name") == [
        ("Ada Lovelace", find_hard_deletes),
        ("Bob Byte", False),
    ]
    settled = run_syncmap("plan", "job.yaml", "--detailed-exitcode", cwd=root)
    assert settled.returncode == 0, settled.stdout + settled.stderr


def test_rows_whose_modified_time_is_null_are_read_on_every_run(project):
    root, url = project
    rows(
        url,
        root,
        "CREATE TABLE loose (person_id INTEGER PRIMARY KEY, full_name TEXT, mobile TEXT, changed_at TIMESTAMP)",
    )
    rows(url, root, "INSERT INTO loose VALUES (1, 'Ada Lovelace', '+1 415 555 0101', NULL), "
                    "(2, 'Bob Byte', '+1 415 555 0102', '2026-11-01 09:00:00')")  # fmt: skip
    (root / "job.yaml").write_text(mapping(url, source="loose"))
    applied = run_syncmap("apply", "job.yaml", cwd=root)
    assert applied.returncode == 0, applied.stderr
    assert rows(url, root, "SELECT name FROM contacts ORDER BY name") == [("Ada Lovelace",), ("Bob Byte",)]

    # after the initial sync, the app inserts and edits rows without stamping them
    rows(url, root, "INSERT INTO loose VALUES (3, 'Cy Young', '+1 415 555 0103', NULL)")
    rows(url, root, "UPDATE loose SET full_name = 'Ada King' WHERE person_id = 1")
    planned = run_syncmap("plan", "job.yaml", "--format", "json", cwd=root)
    assert planned.returncode == 0, planned.stderr
    preview = json.loads(planned.stdout)
    changes = sorted(
        (c["action"], c["side"], c.get("origin")) for s in preview["steps"] for c in s["changes"]
    )
    assert changes == [("create", "target", "loose 3"), ("update", "target", "loose 1")]
    assert preview["steps"][0]["warnings"] == [
        "2 records of `loose` have no `changed_at`: read again on every run, as no time tells whether they changed"
    ]
    applied = run_syncmap("apply", "job.yaml", cwd=root)
    assert applied.returncode == 0, applied.stderr
    assert rows(url, root, "SELECT name FROM contacts ORDER BY name") == [
        ("Ada King",), ("Bob Byte",), ("Cy Young",)
    ]  # fmt: skip
    settled = run_syncmap("plan", "job.yaml", "--detailed-exitcode", cwd=root)
    assert settled.returncode == 0, settled.stdout + settled.stderr

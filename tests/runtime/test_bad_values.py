"""One value a side cannot read or the other cannot hold stops nothing but its own record,
through the `syncmap` command: a PostgreSQL `numeric` Infinity and a time past year 9999 are
skipped with their reason (named by column), a name a Latin-1 CSV file cannot hold fails that
record into the dead-letter list, and every other record syncs, on this run and the next."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import customer_database, run_syncmap, write_project

TABLE = (
    "CREATE TABLE people (id SERIAL PRIMARY KEY, name TEXT, email TEXT, score NUMERIC, "
    "seen_at TIMESTAMPTZ, updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())"
)
PEOPLE = (
    "INSERT INTO people (name, email, score, seen_at) VALUES "
    "('Ada', 'ada@x.org', 1.5, '2026-11-01 10:00:00+00'), "
    "('Inf', 'inf@x.org', 'Infinity', '2026-11-01 10:00:00+00'), "
    "('Far', 'far@x.org', 2, '12000-01-01 00:00:00+00'), "
    "('\u674e', 'li@x.org', 3, '2026-11-01 10:00:00+00'), "
    "('Bob', 'bob@x.org', 4, '2026-11-01 10:00:00+00')"
)


def _project(tmp_path: Path, postgres_server: str) -> Path:
    root = write_project(tmp_path / "project", {})
    (root / "leads.csv").write_bytes(b"id,name,email,score,seen_at,updated_at\n")
    url = customer_database("postgresql", postgres_server, root, [TABLE, PEOPLE])
    document = {
        "syncmap": 2,
        "name": "people-to-list",
        "connections": {
            "app": {"connector": "sql", "settings": {"url": url}},
            "list": {"connector": "csv", "settings": {"path": ".", "encoding": "latin-1"}},
        },
        "objects": {
            "people": {
                "source": {"connection": "app", "object": "people"},
                "target": {"connection": "list", "object": "leads", "modified": "updated_at"},
                "direction": "to_target",
                "match": [{"source": "email", "target": ["email"], "normalize": "email"}],
                "fields": {"name": "name", "email": "email", "score": "score", "seen_at": "seen_at"},
            }
        },
    }
    (root / "job.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return root


def _changes(output: str) -> list[dict]:
    return [c for step in json.loads(output)["steps"] for c in step["changes"]]


def test_a_value_one_side_cannot_read_or_the_other_cannot_hold_stops_only_its_record(
    tmp_path, postgres_server
):
    root = _project(tmp_path, postgres_server)
    planned = run_syncmap("plan", "job.yaml", "--format", "json", cwd=root)
    assert planned.returncode == 0, planned.stderr
    skipped = {
        c["record_id"]: (c["code"], c["reason"]) for c in _changes(planned.stdout) if c["action"] == "skip"
    }
    assert skipped == {
        "2": ("unreadable", "`score` holds `Infinity`, a number no other system can hold"),
        "3": (
            "unreadable",
            "`seen_at` holds `12000-01-01 00:00:00+00`: timestamp too large (after year 10K): '12000-01-01 00:00:00+00'",
        ),
    }
    text = run_syncmap("plan", "job.yaml", cwd=root)
    assert text.returncode == 0 and "Traceback" not in text.stderr
    assert "`score` holds `Infinity`" in text.stdout

    for _ in range(2):  # the record the file cannot hold fails again, alone, on the next run
        applied = run_syncmap("apply", "job.yaml", "--format", "json", cwd=root)
        assert applied.returncode == 1, applied.stderr
        report = json.loads(applied.stdout)
        assert [(f["record"], f["error"]) for f in report["failed"]] == [
            (
                "people 4",
                "`name` holds `\u674e`, which a latin-1 file cannot hold (the file's `encoding` setting; utf-8 holds every character)",
            )
        ]
        rows = (root / "leads.csv").read_text(encoding="latin-1").splitlines()
        assert sorted(row.split(",")[1] for row in rows[1:]) == ["Ada", "Bob"]

"""A PostgreSQL `timestamptz` synced both ways with a Salesforce datetime field: the two systems
spell one instant differently (`2027-03-01T10:00:00.000000+00:00`, `2027-03-01T10:00:00.000+0000`)
and keep different precisions; neither is a change, so apply settles and plans nothing after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from engine.sandbox import Sandbox
from tests.conftest import SALESFORCE_FROM_ENV, customer_database, run_syncmap, sandbox_env, write_project

TABLE = (
    "CREATE TABLE people (id SERIAL PRIMARY KEY, name TEXT, email TEXT, callback_at TIMESTAMPTZ, "
    "updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())"
)
PEOPLE = (
    "INSERT INTO people (name, email, callback_at) VALUES "
    "('Ada', 'ada@x.org', '2027-03-01 10:00:00+00'), ('Bob', 'bob@x.org', '2027-03-01 11:30:00.123456+02')"
)
DESCRIBE = {"sobjects": [{"name": "Lead", "fields": [{"name": "Callback__c", "type": "datetime"}]}]}


@pytest.fixture
def org(tmp_path: Path):
    describe = tmp_path / "describe.json"
    describe.write_text(json.dumps(DESCRIBE))
    with Sandbox(describe_file=describe) as running:
        yield running


def test_one_instant_spelled_two_ways_is_no_change(tmp_path, org, postgres_server):
    root = write_project(tmp_path / "project", {})
    url = customer_database("postgresql", postgres_server, root, [TABLE, PEOPLE])
    document = {
        "syncmap": 2,
        "name": "people-leads",
        "connections": {
            "app": {"connector": "sql", "settings": {"url": url}},
            "salesforce": {"connector": "salesforce", "settings": SALESFORCE_FROM_ENV},
        },
        "objects": {
            "people": {
                "source": {"connection": "app", "object": "people", "modified": "updated_at"},
                "target": {"connection": "salesforce", "object": "Lead"},
                "direction": "both",
                "match": [{"source": "email", "target": ["Email"], "normalize": "email"}],
                "fields": {
                    "LastName": "name",
                    "Email": "email",
                    "Callback__c": "callback_at",
                    "Company": {"value": "Acme", "create_only": True},
                },
            }
        },
    }
    (root / "job.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    environ = sandbox_env(org.instance_url, org.session_id, org.ca_file)

    first = run_syncmap("apply", "job.yaml", "--format", "json", cwd=root, env=environ)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["counts"]["create"] == 2
    for _ in range(2):  # neither side's spelling echoes back to the other
        again = run_syncmap("apply", "job.yaml", "--format", "json", cwd=root, env=environ)
        assert again.returncode == 0, again.stderr
        assert [c for step in json.loads(again.stdout)["steps"] for c in step["changes"]] == []
    leads = org.client().query("SELECT Email, Callback__c FROM Lead ORDER BY Email")["records"]
    assert [(r["Email"], r["Callback__c"]) for r in leads] == [
        ("ada@x.org", "2027-03-01T10:00:00.000+0000"),
        ("bob@x.org", "2027-03-01T09:30:00.123+0000"),
    ]

    # a real change of the instant still flows, and settles
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE people SET callback_at = '2027-03-02 08:00:00+00', "
                                   "updated_at = clock_timestamp() WHERE name = 'Ada'"))  # fmt: skip
    engine.dispose()
    moved = run_syncmap("apply", "job.yaml", "--format", "json", cwd=root, env=environ)
    assert moved.returncode == 0, moved.stderr
    updates = [c for step in json.loads(moved.stdout)["steps"] for c in step["changes"]]
    assert [(c["action"], c["side"]) for c in updates] == [("update", "target")]
    settled = run_syncmap("plan", "job.yaml", "--detailed-exitcode", cwd=root, env=environ)
    assert settled.returncode == 0, settled.stdout

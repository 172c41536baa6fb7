"""Helpers for runtime scenarios: a job over two in-memory stores, and changes as short lines."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml

from engine.changeset import Change, ChangeSet
from engine.connectors.memory import MemoryConnector, drop_stores
from engine.connectors.sqlite import SqliteConnector
from engine.job import Job
from tests.conftest import write_project

CONTACTS = """\
syncmap: 1
name: contacts-job
connections:
  platform: {connector: memory, settings: {store: platform}}
  crm: {connector: memory, settings: {store: crm}}
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: crm, object: [Lead, Contact], priority: Contact, create_as: Lead}
    direction: both
    match:
      - {source: phone, target: [MobilePhone, Phone], normalize: phone}
    filters:
      - {side: source, require: first_name, reason: no first name}
      - {side: target, require: "phone_valid(MobilePhone || Phone)", reason: no valid phone}
    fields:
      FirstName: first_name
      LastName: {source: last_name, default: Unknown}
      MobilePhone: {source: phone, transform: "phone_e164(@)"}
      Email: {source: email, transform: "email(@)"}
    conflicts: {duplicate_key: keep_target}
"""


def describe(change: Change) -> str:
    """A change as one readable line: `update target Contact c1: Email None -> 'a@b.c'`."""
    record = change.record_id or "(new)"
    text, fields = f"{change.action} {change.side} {change.record_type} {record}", change.field_changes()
    if fields and change.action == "update":
        text += ": " + ", ".join(f"{f.field} {f.old!r} -> {f.new!r}" for f in fields)
    elif fields:
        text += ": " + ", ".join(f"{f.field}={f.new!r}" for f in fields)
    if change.reason and change.action in ("skip", "conflict"):
        text += f" ({change.reason})"
    return text


def lines(changeset: ChangeSet, counted_only: bool = False) -> list[str]:
    return sorted(
        describe(c) for step in changeset.steps for c in step.changes if c.counted or not counted_only
    )


@pytest.fixture
def stores():
    drop_stores()
    yield MemoryConnector({"store": "platform"}), MemoryConnector({"store": "crm"})
    drop_stores()


@pytest.fixture
def open_job(tmp_path: Path):
    """Open a Job for a mapping text (the CONTACTS job by default), with its own state file."""
    (tmp_path / "syncmap.toml").write_text("")
    jobs = []

    def make(text: str = CONTACTS) -> Job:
        mapping = tmp_path / "job.yaml"
        mapping.write_text(textwrap.dedent(text))
        job = Job.open(mapping, tmp_path / "state.db")
        jobs.append(job)
        return job

    yield make
    for job in jobs:
        job.close()


def leads_project(folder: Path, name: str, people: int, salesforce: dict) -> Path:
    """A project whose job sends ``people`` platform contacts one way to Salesforce Leads,
    matched by email, with these salesforce connection settings."""
    document = {
        "syncmap": 2,
        "name": name,
        "connections": {
            "platform": {"connector": "sqlite", "settings": {"path": "platform.db"}},
            "salesforce": {"connector": "salesforce", "settings": salesforce},
        },
        "objects": {
            "contacts": {
                "source": {"connection": "platform", "object": "contacts"},
                "target": {"connection": "salesforce", "object": "Lead"},
                "direction": "to_target",
                "match": [{"source": "email", "target": ["Email"], "normalize": "email"}],
                "fields": {
                    "LastName": "name",
                    "Email": "email",
                    "Company": {"value": "Acme", "create_only": True},
                },
            }
        },
    }
    root = write_project(folder, {"job.yaml": yaml.safe_dump(document, sort_keys=False)})
    with SqliteConnector({"path": "platform.db"}, root) as store:
        store.seed(
            "contacts", [{"id": f"p{i}", "name": f"P{i}", "email": f"p{i}@x.org"} for i in range(people)]
        )
    return root


def fresh_state_database(server: str) -> str:
    """A PostgreSQL state store's URL: a schema of its own in the test session's database."""
    schema = f"state_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    return f"{server}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def state_backend(request) -> str | None:
    """The state store a test runs on: the project's SQLite file (None), or a PostgreSQL database's URL."""
    if request.param == "sqlite":
        return None
    return fresh_state_database(request.getfixturevalue("postgres_server"))

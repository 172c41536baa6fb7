"""A record created on one side is copied to the other; later edits on either side, of the
original or of the copy, arrive through the `syncmap` command. Checked for every connector that
can create, against syncmap's own CRM store and a Salesforce org, including systems that choose
the new record's id (a REST API answering it, a SERIAL column, SQLite's rowid, Salesforce) where
syncmap cannot give one."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from engine.connectors import Connector, Declared, Write
from engine.connectors.csvfiles import CsvConnector
from engine.connectors.rest import RestConnector
from engine.connectors.salesforce import SalesforceConnector
from engine.connectors.sql import SqlConnector
from engine.connectors.sqlite import SqliteConnector
from engine.sandbox import Sandbox
from tests.conftest import SALESFORCE_FROM_ENV, customer_database, run_syncmap, sandbox_env, write_project
from tests.rest.servers import settings as rest_settings

TABLE = {
    "postgresql": "CREATE TABLE contacts (id SERIAL PRIMARY KEY, name TEXT, email TEXT, "
    "updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())",
    "sqlite": "CREATE TABLE contacts (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, email TEXT, "
    "updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP)",
}


@dataclass
class Platform:
    """The platform side of the job: its connection in the document, and the connector a test
    opens to change its records as a user of the platform would."""

    connection: dict
    open: Callable[[], Connector]
    environ: dict[str, str] | None = None


def _platform(kind: str, request: pytest.FixtureRequest, root: Path) -> Platform:
    if kind == "sqlite":
        settings = {"path": "platform.db"}
        return Platform(
            {"connector": "sqlite", "settings": settings}, lambda: SqliteConnector(settings, root)
        )
    if kind == "csv":
        (root / "contacts.csv").write_text("id,name,email,updated_at\n", encoding="utf-8")
        settings = {"path": "."}

        def open_csv() -> Connector:
            connector = CsvConnector(settings, root)
            connector.declare("contacts", Declared(modified_field="updated_at"))
            return connector

        return Platform({"connector": "csv", "settings": settings}, open_csv)
    if kind == "rest":
        server = request.getfixturevalue("json_server")()
        settings = rest_settings(server)
        written = {**settings, "auth": {"type": "bearer", "token": "${PLATFORM_TOKEN}"}}
        environ = {**os.environ, "PLATFORM_TOKEN": server.token or ""}
        return Platform({"connector": "rest", "settings": written}, lambda: RestConnector(settings), environ)
    database = kind.removeprefix("sql-")
    server = request.getfixturevalue("postgres_server") if database == "postgresql" else None
    url = customer_database(database, server, root, [TABLE[database]])

    def open_sql() -> Connector:
        connector = SqlConnector({"url": url}, root)
        connector.declare("contacts", Declared(modified_field="updated_at"))
        return connector

    return Platform({"connector": "sql", "settings": {"url": url}}, open_sql)


@dataclass
class Crm:
    connection: dict
    open: Callable[[], Connector]
    environ: dict[str, str]


@pytest.fixture
def crm_store(tmp_path: Path) -> Crm:
    settings = {"path": "crm.db"}
    root = tmp_path / "project"
    return Crm({"connector": "sqlite", "settings": settings}, lambda: SqliteConnector(settings, root), {})


@pytest.fixture
def crm_org() -> Iterator[Crm]:
    """A Salesforce org (the sandbox), whose ids Salesforce chooses."""
    with Sandbox() as org:
        settings = {
            "instance_url": org.instance_url,
            "session_id": org.session_id,
            "ca_file": str(org.ca_file),
        }
        environ = sandbox_env(org.instance_url, org.session_id, org.ca_file)
        yield Crm(
            {"connector": "salesforce", "settings": SALESFORCE_FROM_ENV},
            lambda: SalesforceConnector(settings),
            environ,
        )


JOBS = [(platform, "crm_store") for platform in ("sqlite", "csv", "rest", "sql-postgresql", "sql-sqlite")]
JOBS += [("rest", "crm_org"), ("sql-postgresql", "crm_org")]


@pytest.fixture(params=JOBS, ids=[f"{platform}-{crm.removeprefix('crm_')}" for platform, crm in JOBS])
def job(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Platform, Crm]:
    kind, crm_kind = request.param
    root = write_project(tmp_path / "project", {})
    platform = _platform(kind, request, root)
    crm = request.getfixturevalue(crm_kind)
    platform.environ = {**os.environ, **crm.environ, **(platform.environ or {})}
    document = {
        "syncmap": 2,
        "name": "platform-crm",
        "connections": {"platform": platform.connection, "crm": crm.connection},
        "objects": {
            "people": {
                "source": {"connection": "platform", "object": "contacts", "modified": "updated_at"},
                "target": {"connection": "crm", "object": "Lead"},
                "direction": "both",
                "match": [{"source": "email", "target": ["Email"], "normalize": "email"}],
                "fields": {
                    "LastName": "name",
                    "Email": "email",
                    "Company": {"value": "Acme", "create_only": True},
                },
            }
        },
    }
    (root / "job.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return root, platform, crm


def _write(connector: Connector, record_type: str, write: Write) -> str:
    result = connector.write(record_type, [write])[0]
    assert result.ok, result.error
    connector.close()
    return str(result.id)


def _people(connector: Connector, record_type: str) -> dict[str, tuple[str, str]]:
    """Email -> (id, name) of every record of the type."""
    email, name = ("Email", "LastName") if record_type == "Lead" else ("email", "name")
    found = {r.values[email]: (r.id, r.values[name]) for r in connector.read(record_type)}
    connector.close()
    return found


def _names(connector: Connector, record_type: str) -> dict[str, str]:
    return {email: name for email, (_, name) in _people(connector, record_type).items()}


def _apply_then_nothing_left(root: Path, platform: Platform) -> None:
    applied = run_syncmap("apply", "job.yaml", cwd=root, env=platform.environ)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    planned = run_syncmap("plan", "job.yaml", "--format", "json", cwd=root, env=platform.environ)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    preview = json.loads(planned.stdout)
    assert [c for step in preview["steps"] for c in step["changes"]] == []


def test_records_created_on_each_side_take_later_edits_from_either_side(job):
    root, platform, crm_side = job
    crm = crm_side.open
    ada = _write(platform.open(), "contacts", Write("p", "create", "contacts",
                                                   values={"name": "Ada", "email": "ada@x.org"}))  # fmt: skip
    bob = _write(
        crm(),
        "Lead",
        Write("c", "create", "Lead", values={"LastName": "Bob", "Email": "bob@x.org", "Company": "Acme"}),
    )
    _apply_then_nothing_left(root, platform)

    # the originals are edited: the platform's Ada, the CRM's Bob (whose copy the platform made)
    _write(platform.open(), "contacts", Write("p", "update", "contacts", ada, {"name": "Ada L."}))
    _write(crm(), "Lead", Write("c", "update", "Lead", bob, {"LastName": "Bob B."}))
    _apply_then_nothing_left(root, platform)
    assert _names(crm(), "Lead") == {"ada@x.org": "Ada L.", "bob@x.org": "Bob B."}
    assert _names(platform.open(), "contacts") == {"ada@x.org": "Ada L.", "bob@x.org": "Bob B."}

    # then the copies are edited: Ada's in the CRM, Bob's on the platform
    ada_copy = _people(crm(), "Lead")["ada@x.org"][0]
    bob_copy = _people(platform.open(), "contacts")["bob@x.org"][0]
    _write(crm(), "Lead", Write("c", "update", "Lead", ada_copy, {"LastName": "Ada Lovelace"}))
    _write(platform.open(), "contacts", Write("p", "update", "contacts", bob_copy, {"name": "Bob Byte"}))
    _apply_then_nothing_left(root, platform)
    expected = {"ada@x.org": "Ada Lovelace", "bob@x.org": "Bob Byte"}
    assert _names(crm(), "Lead") == expected
    assert _names(platform.open(), "contacts") == expected


MEMORY_JOB = """\
syncmap: 2
name: memory-crm
connections:
  platform: {connector: memory, settings: {store: platform}}
  crm: {connector: memory, settings: {store: crm}}
objects:
  people:
    source: {connection: platform, object: contacts}
    target: {connection: crm, object: Lead}
    direction: both
    match: [{source: email, target: [Email], normalize: email}]
    fields: {LastName: name, Email: email}
"""


def test_the_memory_store_takes_later_edits_from_either_side_too(stores, open_job):
    """The in-process store (tests and `syncmap test`), through the library, as no command reaches it."""
    platform, crm = stores
    ada = platform.write(
        "contacts", [Write("p", "create", "contacts", values={"name": "Ada", "email": "ada@x.org"})]
    )
    bob = crm.write("Lead", [Write("c", "create", "Lead", values={"LastName": "Bob", "Email": "bob@x.org"})])
    job = open_job(MEMORY_JOB)
    job.apply()
    platform.write("contacts", [Write("p", "update", "contacts", ada[0].id, {"name": "Ada L."})])
    crm.write("Lead", [Write("c", "update", "Lead", bob[0].id, {"LastName": "Bob B."})])
    job.apply()
    expected = {"ada@x.org": "Ada L.", "bob@x.org": "Bob B."}
    assert {r.values["Email"]: r.values["LastName"] for r in crm.records("Lead")} == expected
    assert {r.values["email"]: r.values["name"] for r in platform.records("contacts")} == expected
    assert [c for step in job.plan_changes().steps for c in step.changes] == []

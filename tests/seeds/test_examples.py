"""Each customer example, as a consultant runs it: generate its data, start the sandbox on its
org, `syncmap compile` shows the customer's settings on top of the template, `syncmap plan` shows
creates, updates, skips with reasons and conflicts, and after `syncmap apply` nothing is left to
create."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.connectors.sqlite import SqliteConnector
from engine.sandbox import Sandbox
from tests.conftest import REPO, customer_database

EXAMPLES = {
    "avochato": ("acme.yaml", ["phone_region: GB", "create_as: Contact"]),
    "syncapps": ("brightwave.yaml", ["target: HasOptedOutOfEmail", "normalize: email"]),
    "csv": ("newsletter.yaml", ["connector: csv", "normalize: email"]),
    "phoneiq": ("northwind.yaml", ["target: Title", "update: to_source"]),
    "aloware": ("pinecrest.yaml", ["priority: Lead", "create: to_source"]),
}


def syncmap(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], cwd=cwd, env={**os.environ, **(env or {})},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def generate(example: str, project: Path) -> str:
    """A project holding the templates, the rule sets and ``example``'s document with fresh data;
    returns the document's path in it."""
    (project / "syncmap.toml").write_text("")
    for folder in ("mappings", "rules"):
        shutil.copytree(REPO / folder, project / folder)
    document = EXAMPLES[example][0]
    (project / "examples" / example).mkdir(parents=True)
    shutil.copy(REPO / "examples" / example / document, project / "examples" / example / document)
    generator = [sys.executable, str(REPO / "examples" / "customers.py"), example, "--dir", "examples"]
    subprocess.run(generator, cwd=project, check=True, capture_output=True)
    return f"examples/{example}/{document}"


def sandbox_for(example: str, project: Path) -> Sandbox:
    describe = REPO / "examples" / example / "describe.json"  # the org's custom fields, if any
    return Sandbox(
        seed=[project / "examples" / example / "org.jsonl"],
        describe_file=describe if describe.exists() else None,
    )


def salesforce_env(org: Sandbox) -> dict[str, str]:
    return {
        "SF_INSTANCE_URL": org.instance_url,
        "SF_SESSION_ID": org.session_id,
        "SF_CA_FILE": str(org.ca_file),
    }


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_the_customer_example_plans_every_kind_of_decision(example, tmp_path):
    mapping = generate(example, tmp_path)
    compiled = syncmap("compile", mapping, cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    for setting in EXAMPLES[example][1]:
        assert setting in compiled.stdout, f"`syncmap compile` does not show the customer's {setting}"

    with sandbox_for(example, tmp_path) as org:
        env = salesforce_env(org)
        planned = syncmap("plan", mapping, "--limit", "500", cwd=tmp_path, env=env)
        assert planned.returncode == 0, planned.stderr
        for mark in ("+ create new", "~ update", "! conflict", "  skipped:\n    no "):
            assert mark in planned.stdout, f"the plan of {example} shows no `{mark.strip()}`"

        applied = syncmap("apply", mapping, cwd=tmp_path, env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        again = syncmap("plan", mapping, cwd=tmp_path, env=env)
        assert "Plan: 0 to create, 0 to update," in again.stdout, again.stdout


def test_the_csv_example_appends_new_contacts_to_the_exported_file_as_it_was(tmp_path):
    mapping = generate("csv", tmp_path)
    exported = tmp_path / "examples" / "csv" / "subscribers.csv"
    before = exported.read_bytes()
    with sandbox_for("csv", tmp_path) as org:
        applied = syncmap("apply", mapping, "--format", "json", cwd=tmp_path, env=salesforce_env(org))
        assert applied.returncode == 0, applied.stderr
        contacts = org.client().query_all("SELECT Email FROM Contact WHERE Email != null")["records"]
        emails = {r["Email"].strip().lower() for r in contacts}  # written to the list normalised
    report = json.loads(applied.stdout)
    to_list = [
        c for s in report["steps"] for c in s["changes"] if c["action"] == "create" and c["side"] == "source"
    ]
    after = exported.read_bytes()
    assert after.startswith(before[: before.index(b"\r\n") + 2]), "the header or the byte order mark changed"
    lines = after.decode("utf-8-sig").split("\r\n")
    assert lines[-1] == "" and all("\n" not in line for line in lines), "line endings changed"
    rows = list(csv.DictReader(lines[:-1]))
    assert len(rows) == before.count(b"\r\n") - 1 + len(to_list) and to_list
    appended = rows[-len(to_list) :]
    assert {row["email"] for row in appended} <= emails and all(row["updated_at"] for row in appended)
    assert rows[: -len(to_list)] == list(csv.DictReader(before.decode("utf-8-sig").split("\r\n")[:-1]))


def test_a_customer_example_runs_on_postgres_tables_by_overriding_its_connection_only(
    postgres_server, tmp_path
):
    """Acme's SQLite store copied into PostgreSQL tables whose columns are the template's fields:
    a document changing only the connection plans exactly what the store's plan does."""
    mapping = generate("avochato", tmp_path)
    folder = tmp_path / "examples" / "avochato"
    statements = []
    with SqliteConnector({"path": "acme-avochato.db"}, folder) as store:
        for record_type in ("contacts", "activities"):
            records = list(store.read(record_type))
            columns = sorted({name for record in records for name in record.values} - {"id", "updated_at"})
            statements.append(
                f"CREATE TABLE {record_type} (id text PRIMARY KEY, {', '.join(f'{c} text' for c in columns)}, "
                "updated_at timestamptz NOT NULL DEFAULT clock_timestamp())"
            )
            statements += [
                f"INSERT INTO {record_type} (id, {', '.join(columns)}, updated_at) VALUES "
                f"({', '.join(sql_literal(v) for v in (r.id, *(r.values.get(c) for c in columns), r.modified))})"
                for r in records
            ]
    url = customer_database("postgresql", postgres_server, folder, statements)
    (folder / "acme-postgres.yaml").write_text(
        f"syncmap: 2\nextends: acme.yaml\nname: acme-postgres\n"
        f"connections:\n  avochato: {{connector: sql, settings: {{url: '{url}'}}}}\n"
    )
    with sandbox_for("avochato", tmp_path) as org:
        env = salesforce_env(org)
        on_sqlite = syncmap("plan", mapping, "--format", "json", cwd=tmp_path, env=env)
        on_postgres = syncmap(
            "plan", "examples/avochato/acme-postgres.yaml", "--format", "json", cwd=tmp_path, env=env
        )
        assert on_postgres.returncode == 0, on_postgres.stderr
        assert json.loads(on_postgres.stdout)["counts"] == json.loads(on_sqlite.stdout)["counts"]
        applied = syncmap("apply", "examples/avochato/acme-postgres.yaml", cwd=tmp_path, env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        again = syncmap("plan", "examples/avochato/acme-postgres.yaml", cwd=tmp_path, env=env)
        assert "Plan: 0 to create, 0 to update," in again.stdout, again.stdout


def sql_literal(value: object) -> str:
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


TOTANGO_JOBS = [
    "tasks-outbound", "tasks-inbound", "touchpoints-outbound", "touchpoints-inbound", "campaign-touches-outbound",
]  # fmt: skip


def test_the_totango_example_jobs_run_one_after_another_on_one_org(tmp_path):
    (tmp_path / "syncmap.toml").write_text("")
    for folder in ("mappings", "rules"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    shutil.copytree(
        REPO / "examples" / "totango",
        tmp_path / "examples" / "totango",
        ignore=shutil.ignore_patterns("*.db", "*.jsonl"),
    )
    generator = [sys.executable, str(REPO / "examples" / "customers.py"), "totango", "--dir", "examples"]
    subprocess.run(generator, cwd=tmp_path, check=True, capture_output=True)
    folder = tmp_path / "examples" / "totango"

    with Sandbox(seed=[folder / "org.jsonl"], describe_file=folder / "describe.json") as org:
        env = {
            "SF_INSTANCE_URL": org.instance_url,
            "SF_SESSION_ID": org.session_id,
            "SF_CA_FILE": str(org.ca_file),
        }
        for job in TOTANGO_JOBS:
            mapping = f"examples/totango/{job}.yaml"
            planned = syncmap("plan", mapping, cwd=tmp_path, env=env)
            assert planned.returncode == 0, planned.stderr
            assert "+ create new" in planned.stdout, f"the {job} example creates nothing"
            applied = syncmap("apply", mapping, cwd=tmp_path, env=env)
            assert applied.returncode == 0, f"{job}: {applied.stdout}{applied.stderr}"
        for job in TOTANGO_JOBS:
            again = syncmap("plan", f"examples/totango/{job}.yaml", cwd=tmp_path, env=env)
            assert "Plan: 0 to create," in again.stdout, f"{job} would create again:\n{again.stdout}"

"""`syncmap compile --check-remote` checks target fields against the org's describe, located."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from engine.connectors.sqlite import SqliteConnector
from engine.sandbox import Sandbox
from tests.conftest import run_syncmap, sandbox_env

CONNECTIONS = textwrap.dedent(
    """\
    syncmap: 1
    connections:
      platform: {connector: sqlite, settings: {path: platform.db}}
      salesforce:
        connector: salesforce
        settings: {instance_url: "${SF_INSTANCE_URL}", session_id: "${SF_SESSION_ID}", ca_file: "${SF_CA_FILE}"}
    """
)
MAPPING = CONNECTIONS + textwrap.dedent(
    """\
    objects:
      contacts:
        source: {connection: platform, object: contacts}
        target: {connection: salesforce, object: Contact}
        fields:
          Emial: email
          CreatedDate: {source: created, direction: to_target}
          AccountId: account_id
          OwnerId: {source: owner_email, lookup: {object: User, by: Email}}
          LastName: last_name
      tasks:
        source: {connection: platform, object: tasks}
        target: {connection: salesforce, object: Task}
        direction: to_target
        parent: contacts
        fields:
          WhoId: {source: contact_id, link: contacts}
          Subject: title
          Type: {value: Email, optional: true}
          Priority: {value: Normal}
    """
)


def compile_remote(tmp_path: Path, org: Sandbox, text: str) -> subprocess.CompletedProcess:
    (tmp_path / "syncmap.toml").write_text("")
    (tmp_path / "job.yaml").write_text(text)
    SqliteConnector({"path": "platform.db"}, tmp_path).close()  # an empty platform store
    env = {
        **os.environ,
        "SF_INSTANCE_URL": org.instance_url,
        "SF_SESSION_ID": org.session_id,
        "SF_CA_FILE": str(org.ca_file),
    }
    return subprocess.run(
        [sys.executable, "-m", "engine", "compile", "job.yaml", "--check-remote"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip


def errors(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if ": error: " in line or line.startswith("  hint:")]


def test_fields_are_checked_against_describe(tmp_path):
    with Sandbox(drop_fields=["Task.Type"]) as org:
        result = compile_remote(tmp_path, org, MAPPING)
    assert result.returncode == 1
    assert errors(result) == [
        "job.yaml:12:7: error: Contact has no field `Emial` at objects.contacts.fields.Emial",
        "  hint: did you mean `Email`?",
        "job.yaml:13:7: error: Contact.CreatedDate cannot be changed once set at objects.contacts.fields.CreatedDate",
        "  hint: set `direction: to_source`",
        "job.yaml:13:7: error: Contact.CreatedDate cannot be set on new records at objects.contacts.fields.CreatedDate",
        "  hint: set `direction: to_source`",
        "job.yaml:14:7: error: Contact.AccountId refers to Account; a raw value cannot be written to it at objects.contacts.fields.AccountId",
        "  hint: translate ids with `link: <object>` (a synced object) or `lookup: {object: User, by: Email}`",
    ]
    assert org.session_id not in result.stderr


def test_optional_fields_are_kept_only_where_the_org_has_them(tmp_path):
    valid = "\n".join(
        line
        for line in MAPPING.splitlines()
        if not line.strip().startswith(("Emial", "CreatedDate", "AccountId"))
    )
    with Sandbox(drop_fields=["Task.Type"]) as org:
        assert compile_remote(tmp_path, org, valid).returncode == 0
    required_type = valid.replace("Type: {value: Email, optional: true}", "Type: {value: Email}")
    with Sandbox(drop_fields=["Task.Type"]) as org:
        result = compile_remote(tmp_path, org, required_type)
    assert errors(result)[0].endswith("error: Task has no field `Type` at objects.tasks.fields.Type")
    with Sandbox() as org:
        assert compile_remote(tmp_path, org, required_type).returncode == 0


CUSTOM_OBJECTS = {
    "sobjects": [
        {"name": "Patient__c", "fields": [{"name": "Mobile__c", "type": "phone"}]},
        {
            "name": "Visitor__c",
            "searchable": False,
            "feedEnabled": False,
            "allowActivities": False,
            "fields": [{"name": "Mobile__c", "type": "string"}],
        },
    ]
}


def test_a_custom_object_must_be_eligible_to_take_contacts(tmp_path):
    describe = tmp_path / "describe.json"
    describe.write_text(json.dumps(CUSTOM_OBJECTS))
    mapping = CONNECTIONS + textwrap.dedent(
        """\
        objects:
          patients:
            source: {connection: platform, object: contacts}
            target: {connection: salesforce, object: Patient__c}
            match: [{source: phone, target: Mobile__c, normalize: phone}]
            fields: {Mobile__c: phone, Name: name}
          visitors:
            source: {connection: platform, object: visitors}
            target: {connection: salesforce, object: Visitor__c}
            match: [{source: phone, target: Mobile__c, normalize: phone}]
            fields: {Mobile__c: phone, Name: name}
        """
    )
    with Sandbox(describe_file=describe) as org:
        result = compile_remote(tmp_path, org, mapping)
    assert result.returncode == 1
    assert [line for line in errors(result) if ": error: " in line] == [
        "job.yaml:16:22: error: Visitor__c does not allow activities at objects.visitors.target.object",
        "job.yaml:16:22: error: Visitor__c has no Phone-type field to match contacts on at objects.visitors.target.object",
        "job.yaml:16:22: error: Visitor__c has no feed tracking at objects.visitors.target.object",
        "job.yaml:16:22: error: Visitor__c is not searchable at objects.visitors.target.object",
    ]
    assert (
        "hint: Setup > Object Manager > Edit: under Optional Features, click Allow Activities"
        in result.stderr
    )


PLANNED = CONNECTIONS.replace("syncmap: 1", "syncmap: 2") + textwrap.dedent(
    """\
    objects:
      leads:
        source: {connection: platform, object: contacts}
        target: {connection: salesforce, object: Lead}
        direction: to_target
        match: [{source: phone, target: [MobilePhone], normalize: phone}]
        fields:
          LastName: last_name
          MobilPhone: phone
      people:
        source: {connection: platform, object: people}
        target: {connection: salesforce, object: Contactt}
        direction: to_target
        fields:
          LastName: last_name
    """
)


def test_plan_refuses_what_the_org_cannot_take_before_reading_anything(tmp_path):
    """Describe is checked by every plan and apply, not only by `compile --check-remote`: a
    misspelled field, a required field left out, an unknown object, each at its line."""
    with Sandbox() as org:
        env = sandbox_env(org.instance_url, org.session_id, org.ca_file)
        compile_remote(tmp_path, org, PLANNED)  # writes the project
        for command in ("plan", "apply"):
            result = run_syncmap(command, "job.yaml", cwd=tmp_path, env=env)
            assert result.returncode == 1, result.stderr
            assert errors(result) == [
                "job.yaml:10:46: error: new Lead records need `Company`, and no field of `leads` gives it a value at objects.leads.target.object",
                "  hint: add `Company: {value: ..., create_only: true}` under fields, or a `default:` to a field that maps it",
                "job.yaml:15:7: error: Lead has no field `MobilPhone` at objects.leads.fields.MobilPhone",
                "  hint: did you mean `MobilePhone`?",
                "job.yaml:18:46: error: unknown Salesforce object `Contactt` at objects.people.target.object",
                "  hint: did you mean `Contact`?",
            ]
            assert org.stats()["by_kind"].get("query", 0) == 0, "nothing was read"
        with sqlite3.connect(tmp_path / ".syncmap" / "state.db") as db:
            assert db.execute("SELECT count(*) FROM runs").fetchone() == (0,), "nor run"
        with sqlite3.connect(tmp_path / "platform.db") as db:
            assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,), "nor anything written"

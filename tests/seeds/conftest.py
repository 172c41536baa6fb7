"""The seed scenarios: a customer document that `extends:` a shipped template, a SQLite platform
store in a temp dir, and the sandbox org reached through the real simple-salesforce client.

One sandbox (with Person Accounts enabled) serves every test and is reset before each one.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from simple_salesforce import Salesforce

from engine.changeset import ChangeSet
from engine.connectors import Write
from engine.connectors.sqlite import SqliteConnector
from engine.job import Job, RunReport, Selection
from engine.sandbox import Sandbox
from tests.conftest import REPO

ACTIVITY_FIELDS = Path(__file__).parent / "data" / "activity-fields.json"  # the templates' custom fields


@pytest.fixture(scope="session")
def org() -> Sandbox:
    with Sandbox(person_accounts=True, describe_file=ACTIVITY_FIELDS) as running:
        yield running


@pytest.fixture
def project(org: Sandbox, tmp_path: Path) -> Project:
    org.reset()
    return new_project(tmp_path, org)


def new_project(folder: Path, org: Sandbox) -> Project:
    (folder / "syncmap.toml").write_text("")
    for templates in ("mappings", "rules"):  # templates live inside the project that extends them
        shutil.copytree(REPO / templates, folder / templates)
    return Project(folder, org)


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class Project:
    """A customer's folder: the document, the platform's SQLite store and the state store."""

    def __init__(self, folder: Path, org: Sandbox):
        self.folder = folder
        self.org = org
        self.sf: Salesforce = org.client()
        self.mapping = folder / "customer.yaml"
        self.environ = {
            "SF_INSTANCE_URL": org.instance_url,
            "SF_SESSION_ID": org.session_id,
            "SF_CA_FILE": str(org.ca_file),
        }

    # -- the document ---------------------------------------------------------------------------

    def use(self, template: str, overrides: dict[str, Any] | None = None, name: str | None = None) -> Project:
        """Write a customer document (`customer.yaml`, or `<name>.yaml` for a second job): the
        template, whose platform connection is named after its first word, pointed at this
        folder, plus overrides."""
        if name:
            self.mapping = self.folder / f"{name}.yaml"
        document = {
            "syncmap": 1,
            "extends": f"mappings/{template}.yaml",
            "connections": {
                template.split("-")[0]: {"settings": {"path": "platform.db"}},
                "salesforce": {"settings": {"ca_file": "${SF_CA_FILE}"}},
            },
        }
        self.mapping.write_text(yaml.safe_dump(merge(document, overrides or {}), sort_keys=False))
        return self

    def job(self, **selection: Any) -> Job:
        return Job.open(
            self.mapping, self.folder / "state.db", environ=self.environ, selection=Selection(**selection)
        )

    def apply(self, **selection: Any) -> RunReport:
        with self.job(**selection) as job:
            return job.apply()

    def plan(self, **selection: Any) -> ChangeSet:
        with self.job(**selection) as job:
            return job.plan_changes()

    # -- the platform ---------------------------------------------------------------------------

    def platform_store(self) -> SqliteConnector:
        return SqliteConnector({"path": "platform.db"}, self.folder)

    def on_platform(self, record_type: str, *records: dict[str, Any]) -> None:
        with self.platform_store() as store:
            store.seed(record_type, records)

    def edit_on_platform(self, record_type: str, record_id: str, **values: Any) -> None:
        with self.platform_store() as store:
            (result,) = store.write(record_type, [Write("edit", "update", record_type, record_id, values)])
            assert result.ok, result.error

    def platform(self, record_type: str) -> dict[str, dict[str, Any]]:
        """Live platform records by id."""
        with self.platform_store() as store:
            return {r.id: dict(r.values) for r in store.read(record_type) if not r.deleted}

    # -- Salesforce -----------------------------------------------------------------------------

    def in_salesforce(self, sobject: str, **values: Any) -> str:
        return getattr(self.sf, sobject).create(values)["id"]

    def soql(self, query: str) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in row.items() if k != "attributes"} for row in self.sf.query_all(query)["records"]
        ]


def actions(changeset: ChangeSet | RunReport, action: str) -> list[tuple[str, str | None, str | None]]:
    """(side, record type, reason) of every change of one kind, for assertions."""
    changes = changeset.changeset if isinstance(changeset, RunReport) else changeset
    return sorted(
        (c.side, c.record_type, c.reason)
        for step in changes.steps
        for c in step.changes
        if c.action == action
    )

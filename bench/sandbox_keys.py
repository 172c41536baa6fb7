"""The sandbox at an org's pace for look-ups by key: an initial sync of N platform contacts into
the sandbox keyed by a unique External ID field (every create checked for a duplicate value, every
match a query by that field), against the floor of the same sync keyed by a plain text field,
which the org checks nothing for. Both through syncmap and simple-salesforce over HTTPS."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from bench.results import Result
from engine.connectors.sqlite import SqliteConnector
from engine.job import Job
from engine.sandbox import Sandbox

MAPPING = {
    "syncmap": 2,
    "name": "keyed",
    "connections": {
        "platform": {"connector": "sqlite", "settings": {"path": "platform.db"}},
        "salesforce": {
            "connector": "salesforce",
            "settings": {
                "instance_url": "${SF_INSTANCE_URL}",
                "session_id": "${SF_SESSION_ID}",
                "ca_file": "${SF_CA_FILE}",
            },
        },
    },
    "objects": {
        "contacts": {
            "source": {"connection": "platform", "object": "contacts"},
            "target": {"connection": "salesforce", "object": "Lead"},
            "direction": "to_target",
            "match": [{"source": "key", "target": "KEY_FIELD", "normalize": "lower"}],
            "fields": {
                "LastName": "name",
                "KEY_FIELD": "key",
                "Company": {"value": "Acme", "create_only": True},
            },
        }
    },
}
FIELDS = [
    {"name": "Ext__c", "type": "string", "length": 40, "externalId": True, "unique": True},
    {"name": "Plain__c", "type": "string", "length": 40},
]


def seconds(records: int, key_field: str) -> float:
    """The wall time of the initial sync keyed by ``key_field``."""
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "syncmap.toml").write_text("")
        (project / "describe.json").write_text(json.dumps({"sobjects": [{"name": "Lead", "fields": FIELDS}]}))
        (project / "job.yaml").write_text(json.dumps(MAPPING).replace("KEY_FIELD", key_field))
        with SqliteConnector({"path": "platform.db"}, project) as store:
            store.seed(
                "contacts", [{"id": f"p{i}", "name": f"P{i}", "key": f"k{i:06d}"} for i in range(records)]
            )
        with Sandbox(describe_file=project / "describe.json") as org:
            environ = {
                "SF_INSTANCE_URL": org.instance_url,
                "SF_SESSION_ID": org.session_id,
                "SF_CA_FILE": str(org.ca_file),
            }
            started = time.perf_counter()
            with Job.open(project / "job.yaml", environ=environ) as job:
                report = job.apply()
            elapsed = time.perf_counter() - started
            assert report.changeset.counts()["create"] == records and not report.failed
            assert org.client().query("SELECT COUNT() FROM Lead")["totalSize"] == records
    return elapsed


def main(records: int = 10_000) -> list[Result]:
    keyed, floor = seconds(records, "Ext__c"), seconds(records, "Plain__c")
    title = f"sandbox: initial sync of {records:,} contacts keyed by a unique External ID"
    print(f"{title}: {keyed:.1f} s; floor (a plain text key): {floor:.1f} s; ratio {keyed / floor:.2f}")
    return [
        Result(title, "wall time", keyed, "s"),
        Result(title, "floor: the same keyed by a plain text field", floor, "s"),
        Result(title, "ratio to the floor", keyed / floor, "x", "<= 1.3"),
    ]


if __name__ == "__main__":
    main()

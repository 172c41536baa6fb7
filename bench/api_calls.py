"""Salesforce API calls: an initial sync of N platform contacts into an empty org, then an
incremental run with 1% of them changed, then a run with nothing changed, each compared with the
floor and with a naive client making one call per record. The floor of a run is what its writes
take (a Bulk job above 2,000, else a Collections call per 200) plus its reads: the describe of
Lead and one query for what changed there.

The three runs are made three times: with default settings (syncmap's own creates are not read
back, its updates are), with `skip_own_changes: true` (nothing syncmap wrote is read back) and
with `skip_own_changes: false` (everything is). Runs against `syncmap sandbox` through
simple-salesforce."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.results import Result
from engine.connectors import Write
from engine.connectors.salesforce.usage import write_calls
from engine.connectors.sqlite import SqliteConnector
from engine.job import Job
from engine.sandbox import Sandbox

MAPPING = """\
syncmap: 2
name: api-calls
defaults: {phone_region: US}
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  salesforce:
    connector: salesforce
    settings:
      instance_url: "${SF_INSTANCE_URL}"
      session_id: "${SF_SESSION_ID}"
      ca_file: "${SF_CA_FILE}"
      username: sandbox@syncmap.local
SKIP\
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: salesforce, object: Lead, create_as: Lead}
    match: [{source: phone, target: MobilePhone, normalize: phone}]
    fields:
      FirstName: first_name
      LastName: last_name
      MobilePhone: {source: phone, transform: "phone_e164(@)"}
      Company: {value: "[not provided]", create_only: true}
"""
READS = 2  # the describe of Lead, and one query for the Leads changed since the last run


SETTINGS = {
    "default": "",
    "skip_own_changes": "      skip_own_changes: true\n",
    "read back": "      skip_own_changes: false\n",
}


def runs(records: int, setting: str) -> list[tuple[str, int, int]]:
    """(run, Salesforce calls, records written) of the three runs against a new org."""
    with tempfile.TemporaryDirectory() as folder, Sandbox() as org:
        project = Path(folder)
        (project / "syncmap.toml").write_text("")
        (project / "job.yaml").write_text(MAPPING.replace("SKIP", SETTINGS[setting]))
        people = [
            {
                "id": f"p{i}",
                "first_name": f"Person{i}",
                "last_name": "Test",
                "phone": f"+1628{2_000_000 + i:07d}",
            }
            for i in range(records)
        ]
        with SqliteConnector({"path": "platform.db"}, project) as store:
            store.seed("contacts", people)
        environ = {
            "SF_INSTANCE_URL": org.instance_url,
            "SF_SESSION_ID": org.session_id,
            "SF_CA_FILE": str(org.ca_file),
        }

        def run() -> tuple[int, int]:
            with Job.open(project / "job.yaml", environ=environ) as job:
                report = job.apply()
            counts = report.changeset.counts()
            return report.api_calls["salesforce"], counts["create"] + counts["update"]

        made = [("initial sync", *run())]
        changed = max(1, records // 100)
        with SqliteConnector({"path": "platform.db"}, project) as store:
            store.write(
                "contacts",
                [
                    Write(f"c{i}", "update", "contacts", f"p{i}", {"first_name": f"Changed{i}"})
                    for i in range(changed)
                ],
            )
        made.append(("1% changed", *run()))
        made.append(("nothing changed", *run()))
    return made


def main(records: int = 10_000) -> list[Result]:
    print(f"Salesforce API calls, {records} records (floor: what the writes take + describe + one query):")
    made = {setting: runs(records, setting) for setting in SETTINGS}
    results = []
    for index, (name, _, writes) in enumerate(made["default"]):
        floor = write_calls({("Lead", "create"): writes}, 2_000, 200, 100_000) + READS
        title = f"Salesforce API calls, {records:,} records: {name}"
        target = f"floor {floor}, within 10%" if writes else f"floor {floor}: describe + one query"
        for setting, rows in made.items():
            calls = rows[index][1]
            print(f"  {name:<16} {setting:<17} {calls:>5} calls for {writes:>6} writes; floor {floor:>4}")
            results.append(Result(title, f"calls made, {setting}", calls, "calls", target))
        if writes:
            results.append(Result(title, "one call per record", writes + 1, "calls"))
    return results


if __name__ == "__main__":
    main()

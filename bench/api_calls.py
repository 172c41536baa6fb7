"""Salesforce API calls: an initial sync of N platform contacts into an empty org, then an
incremental run with 1% of them changed, then a run with nothing changed. Each is compared with
the floor (one collection call per 200 writes, plus the reads) and with a naive client making one
call per record. Runs against `syncmap sandbox` through simple-salesforce."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from bench.results import Result
from engine.connectors import Write
from engine.connectors.sqlite import SqliteConnector
from engine.job import Job
from engine.sandbox import Sandbox

MAPPING = """\
syncmap: 1
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
      overlap_seconds: 0   # the runs follow each other within seconds: no re-read window
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


def main(records: int = 10_000) -> list[Result]:
    with tempfile.TemporaryDirectory() as folder, Sandbox() as org:
        project = Path(folder)
        (project / "syncmap.toml").write_text("")
        (project / "job.yaml").write_text(MAPPING)
        people = [
            {"id": f"p{i}", "first_name": f"Person{i}", "last_name": "Test", "phone": f"+1628{i:07d}"}
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

        rows = [("initial sync", *run())]
        changed = max(1, records // 100)
        with SqliteConnector({"path": "platform.db"}, project) as store:
            store.write(
                "contacts",
                [
                    Write(f"c{i}", "update", "contacts", f"p{i}", {"first_name": f"Changed{i}"})
                    for i in range(changed)
                ],
            )
        rows.append(("1% changed", *run()))
        rows.append(("nothing changed", *run()))
    print(f"Salesforce API calls, {records} records (floor: ceil(writes/200) writes + reads):")
    results = []
    for name, calls, writes in rows:
        floor = math.ceil(writes / 200)
        print(
            f"  {name:<16} {calls:>5} calls for {writes:>6} writes; write floor {floor:>4}, naive {writes + 1:>6}"
        )
        title = f"Salesforce API calls, {records:,} records: {name}"
        results += [
            Result(title, "calls made", calls, "calls", f"~ {floor} writes + reads"),
            Result(title, "one call per record", writes + 1, "calls"),
        ]
    return results


if __name__ == "__main__":
    main()

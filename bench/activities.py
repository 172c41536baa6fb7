"""Activities linked to contacts: the first apply of N activities, each translating its contact
through the contacts' links, against 4N. Linear work takes about 4 times as long; a link table
read again per activity (as before) took 15 times as long."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.results import Result
from engine.connectors.memory import MemoryConnector, drop_stores
from engine.job import Job

MAPPING = """\
syncmap: 2
name: activities
connections:
  platform: {connector: memory, settings: {store: platform}}
  crm: {connector: memory, settings: {store: crm}}
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: crm, object: Lead}
    direction: to_target
    match: [{source: phone, target: [MobilePhone], normalize: phone}]
    fields:
      LastName: last_name
      MobilePhone: {source: phone, transform: "phone_e164(@)"}
  activities:
    source: {connection: platform, object: activities}
    target: {connection: crm, object: Task}
    direction: to_target
    parent: {object: contacts, when_missing: wait}
    fields:
      WhoId: {source: contact_id, link: contacts, create_only: true}
      Subject: subject
"""


def first_apply(count: int) -> float:
    """Seconds for the first apply of ``count`` contacts, each with one activity."""
    drop_stores()
    platform = MemoryConnector({"store": "platform"})
    platform.seed(
        "contacts", [{"id": f"p{i}", "last_name": f"L{i}", "phone": f"415555{i:04d}"} for i in range(count)]
    )
    platform.seed(
        "activities", [{"id": f"a{i}", "contact_id": f"p{i}", "subject": "Call"} for i in range(count)]
    )
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "syncmap.toml").write_text("")
        (project / "job.yaml").write_text(MAPPING)
        started = time.perf_counter()
        with Job.open(project / "job.yaml") as job:
            report = job.apply()
        seconds = time.perf_counter() - started
    assert report.applied()["create"] == 2 * count and report.failed == 0
    drop_stores()
    return seconds


def main(count: int) -> list[Result]:
    small, large = first_apply(count), first_apply(4 * count)
    ratio = large / small
    print(
        f"activities, first apply: {count:,} in {small:.2f} s, {4 * count:,} in {large:.2f} s (ratio {ratio:.1f})"
    )
    name = f"first apply of {count:,} vs {4 * count:,} activities linked to contacts"
    return [
        Result(name, f"{count:,}", small, "s"),
        Result(name, f"{4 * count:,}", large, "s"),
        Result(name, "ratio", ratio, "", "about 4 (linear)"),
    ]

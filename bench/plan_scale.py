"""Dry-run scale: `syncmap plan` over N platform contacts, against a SQLite CRM and against the
sandbox org, run as a subprocess whose wall time and peak memory (RSS) are measured. The CRM
holds N/10 Leads, half of them sharing a phone number with a platform contact, so the plan
matches, updates and creates. Targets: 1,000,000 records in under 60 s and under 1 GB. The same
plan written as JSON (every change, to /dev/null) must stay under 1 GB too."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from bench import process
from bench.results import Result
from engine.connectors.sqlite import SqliteConnector
from engine.phones import phone_e164
from engine.sandbox import Sandbox

MAPPING = """\
syncmap: 1
name: plan-scale
defaults: {{phone_region: US}}
connections:
  platform: {platform}
  crm: {crm}
objects:
  contacts:
    source: {{connection: platform, object: contacts{source}}}
    target: {{connection: crm, object: Lead, create_as: Lead}}
    match: [{{source: phone, target: MobilePhone, normalize: phone}}]
    filters:
      - {{side: source, require: "trim(first_name || '') != ''", reason: no first name}}
    fields:
      FirstName: first_name
      LastName: {{source: last_name, default: "[not provided]"}}
      MobilePhone: {{source: phone, transform: "phone_e164(@)"}}
      Email: {{source: email, transform: "email(@)"}}
      Company: {{source: company, default: "[not provided]"}}
      LeadSource: {{value: SMS platform, create_only: true}}
    conflicts: {{duplicate_key: keep_target}}
"""
SQLITE_PLATFORM = "{connector: sqlite, settings: {path: platform.db}}"
SQLITE_CRM = "{connector: sqlite, settings: {path: crm.db}}"
SANDBOX_CRM = (
    "{connector: salesforce, settings: "
    '{instance_url: "${SF_INSTANCE_URL}", session_id: "${SF_SESSION_ID}", ca_file: "${SF_CA_FILE}"}}'
)
FORMATS = ("+1{a}{e}{n}", "({a}) {e}-{n}", "{a}.{e}.{n}", "{a} {e} {n}")
MATCHING = 2_000_000  # Leads share the numbers of `phone(i)` below this; the others lie beyond


def phone(i: int) -> str:
    """A valid US number, unique per i, written one of four ways."""
    area = ("415", "628", "510", "650")[i % 4]
    exchange, line = 200 + (i // 10_000) % 800, i % 10_000
    return FORMATS[(i // 4) % 4].format(a=area, e=f"{exchange:03d}", n=f"{line:04d}")


def contacts(count: int) -> Iterator[dict]:
    for i in range(count):
        yield {
            "id": f"p{i}",
            "first_name": "" if i % 50 == 7 else f"Ana{i % 997}",
            "last_name": f"Lopez{i}",
            "phone": phone(i),
            "email": f" Ana.Lopez{i}@Example.com ",
            "company": f"Globex {i % 100}",
        }


def leads(count: int) -> Iterator[dict]:
    """Every other Lead shares the phone of platform contact 20*k (while there is one); the rest
    match no one, and no two share a number."""
    for k in range(count):
        number = phone(20 * k) if k % 2 == 0 and 20 * k < MATCHING else phone(10_000_000 + k)
        yield {
            "FirstName": f"Ana{k}",
            "LastName": f"Crm{k}",
            "MobilePhone": phone_e164(number, "US"),
            "Company": "Initech",
        }


def seed_crm(project: Path, count: int) -> None:
    """The SQLite CRM (`crm.db`) holding ``count`` Leads."""
    with SqliteConnector({"path": "crm.db", "id_field": "Id"}, project) as crm:
        crm.seed("Lead", ({"Id": f"L{k}", **lead} for k, lead in enumerate(leads(count))))


def main(records: int = 1_000_000, sandbox_records: int = 100_000) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "syncmap.toml").write_text("")
        with SqliteConnector({"path": "platform.db"}, project) as store:
            store.seed("contacts", contacts(records))
        (project / "sqlite.yaml").write_text(
            MAPPING.format(platform=SQLITE_PLATFORM, source="", crm=SQLITE_CRM)
        )
        seed_crm(project, records // 10)
        results += measure(project, "sqlite.yaml", records, "SQLite CRM", {}, "<= 60 s", "<= 1,024 MB")
        results += measure(project, "sqlite.yaml", records, "SQLite CRM", {}, "", "<= 1,024 MB", json=True)

        with SqliteConnector({"path": "platform.db"}, project) as store:
            store.db.execute(
                f"DELETE FROM contacts WHERE CAST(substr(id, 2) AS INTEGER) >= {sandbox_records}"
            )
            store.db.commit()
        (project / "sandbox.yaml").write_text(
            MAPPING.format(platform=SQLITE_PLATFORM, source="", crm=SANDBOX_CRM)
        )
        org_leads = ({"attributes": {"type": "Lead"}, **lead} for lead in leads(sandbox_records // 10))
        with Sandbox(seed=list(org_leads)) as org:
            environ = {
                "SF_INSTANCE_URL": org.instance_url,
                "SF_SESSION_ID": org.session_id,
                "SF_CA_FILE": str(org.ca_file),
            }
            results += measure(project, "sandbox.yaml", sandbox_records, "sandbox org", environ)
    return results


def measure(
    project: Path,
    mapping: str,
    records: int,
    against: str,
    environ: Mapping[str, str],
    time_target: str = "",
    memory_target: str = "",
    json: bool = False,
) -> list[Result]:
    arguments = ["plan", mapping, "--format", "json"] if json else ["plan", mapping]
    measured = process.measure(process.module("engine", *arguments), project, environ, keep_output=not json)
    if measured.code not in (0, 2):  # 2: the plan has changes
        raise RuntimeError(f"syncmap plan failed:\n{measured.err}")
    seconds = measured.seconds
    summary = "" if json else next(line for line in measured.out.splitlines() if line.startswith("Plan:"))
    print(f"plan {records:,} platform records against the {against}{' as JSON' if json else ''}: "
          f"{seconds:.1f} s, {measured.peak_mb:,.0f} MB peak. {summary}".rstrip())  # fmt: skip
    name = f"syncmap plan{' --format json' if json else ''}, {records:,} records vs {against}"
    return [
        Result(name, "wall time", seconds, "s", time_target),
        Result(name, "throughput", records / seconds, "records/s"),
        Result(name, "peak RSS", measured.peak_mb, "MB", memory_target),
    ]


if __name__ == "__main__":
    main()

"""A dry run against its floor: `syncmap plan` of N platform contacts against N/10 CRM Leads (the
plan-scale data: SQLite on both sides, matched on phone, both ways), beside a hand-written Python
program doing the same work: it reads the same files, parses every distinct phone with
phonenumbers, filters, matches with a dict, compares the fields of each pair, and counts what
would change. Each runs as its own process, measured for wall time and peak RSS. The dry run is
timed as a person runs it (its preview: every decision made and kept, a summary shown); the same
plan written whole as JSON, a line per decision the floor never writes, is timed beside it, and
its counts must equal the floor's, or the numbers mean nothing. Targets at 1,000,000 x 100,000:
at most 1.0x the floor's time, under 400 MB; at 100,000 x 1,000,000 (the Leads held whole), under
600 MB."""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench import process
from bench.plan_scale import MAPPING, SQLITE_CRM, SQLITE_PLATFORM, contacts, seed_crm
from bench.results import Result
from engine.connectors.sqlite import SqliteConnector

# target field -> (source field, default, transform): the mapping's fields, written out by hand
FIELDS = {
    "FirstName": ("first_name", None, None),
    "LastName": ("last_name", "[not provided]", None),
    "MobilePhone": ("phone", None, "phone"),
    "Email": ("email", None, "email"),
    "Company": ("company", "[not provided]", None),
}


def floor(folder: Path) -> Counter:
    """What `syncmap plan` counts for the plan-scale mapping, computed by hand."""
    import phonenumbers

    def e164(text: str | None) -> str | None:
        if not text:
            return None
        try:
            number = phonenumbers.parse(text, "US")
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def email(text: str | None) -> str | None:
        return text.strip().lower() if text and "@" in text else None

    def rows(path: Path, table: str) -> list[dict]:
        with sqlite3.connect(path) as db:
            return [json.loads(data) for (data,) in db.execute(f"SELECT data FROM {table}")]

    phones: dict[str, str | None] = {}  # every distinct number parsed once
    leads = rows(folder / "crm.db", "Lead")
    by_phone: dict[str, dict] = {}
    for lead in leads:
        number = lead.get("MobilePhone")
        key = phones[number] if number in phones else phones.setdefault(number, e164(number))
        if key is not None:
            by_phone.setdefault(key, lead)
    counts: Counter = Counter()
    linked: set[str] = set()
    for contact in rows(folder / "platform.db", "contacts"):
        if not (contact.get("first_name") or "").strip():
            counts["skip"] += 1
            continue
        number = contact.get("phone")
        key = phones[number] if number in phones else phones.setdefault(number, e164(number))
        values = {}
        for target, (source, default, transform) in FIELDS.items():
            value = contact.get(source)
            if transform == "phone":
                value = phones[value] if value in phones else phones.setdefault(value, e164(value))
            elif transform == "email":
                value = email(value)
            values[target] = default if value in (None, "") and default is not None else value
        lead = by_phone.get(key) if key else None
        if lead is None or lead["Id"] in linked:
            counts["create"] += 1
            continue
        linked.add(lead["Id"])
        counts["link"] += 1
        to_target = any(lead.get(name) in (None, "") and value is not None for name, value in values.items())
        to_source = any(
            lead.get(name) not in (None, "") and value != lead.get(name) for name, value in values.items()
        )
        counts["update"] += to_target + to_source
    counts["create"] += sum(lead["Id"] not in linked for lead in leads)  # Leads become contacts
    return counts


def main(records: int = 1_000_000, leads: int | None = None) -> list[Result]:
    """The dry run of `records` contacts against `leads` Leads (a tenth as many unless given)."""
    leads = records // 10 if leads is None else leads
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "syncmap.toml").write_text("")
        with SqliteConnector({"path": "platform.db"}, project) as store:
            store.seed("contacts", contacts(records))
        seed_crm(project, leads)
        (project / "plan.yaml").write_text(MAPPING.format(platform=SQLITE_PLATFORM, source="", crm=SQLITE_CRM))
        syncmap_seconds, syncmap_mb, _ = measure(process.module("engine", "plan", "plan.yaml"), project)
        json_seconds, json_mb, plan = measure(
            process.module("engine", "plan", "plan.yaml", "--format", "json"), project
        )
        floor_seconds, floor_mb, counted = measure(process.module("bench.plan_floor", folder), project)
    expected = {name: count for name, count in json.loads(plan)["counts"].items() if count}
    if json.loads(counted) != expected:
        raise RuntimeError(f"the floor counts {counted}, syncmap {expected}: they must agree")
    ratio = syncmap_seconds / floor_seconds
    more_leads = leads > records
    time_target = "" if more_leads else "<= 1.0"
    memory_target = "< 600 MB at 100,000 x 1,000,000" if more_leads else "< 400 MB at 1,000,000 x 100,000"
    print(f"plan {records:,} x {leads:,}: syncmap {syncmap_seconds:.1f} s, {syncmap_mb:,.0f} MB "
          f"(written whole as JSON: {json_seconds:.1f} s, {json_mb:,.0f} MB); hand-written floor "
          f"{floor_seconds:.1f} s, {floor_mb:,.0f} MB; ratio {ratio:.2f} "
          f"(target {time_target + ', ' if time_target else ''}{memory_target})")  # fmt: skip
    name = f"syncmap plan vs hand-written floor, {records:,} x {leads:,}"
    return [
        Result(name, "syncmap wall time", syncmap_seconds, "s"),
        Result(name, "floor wall time", floor_seconds, "s"),
        Result(name, "syncmap wall time, every change written as JSON", json_seconds, "s"),
        Result(name, "time ratio", ratio, "x", time_target),
        Result(name, "syncmap peak RSS", syncmap_mb, "MB", memory_target),
        Result(name, "floor peak RSS", floor_mb, "MB"),
    ]


def measure(command: list[str], folder: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB and standard output of a command run in its own process."""
    measured = process.measure(command, folder)
    if measured.code not in (0, 2):  # 2: the plan has changes
        raise RuntimeError(f"{' '.join(command)} failed:\n{measured.err}")
    return measured.seconds, measured.peak_mb, measured.out


if __name__ == "__main__":
    if len(sys.argv) == 2:  # the floor itself, in its own process
        print(json.dumps({name: count for name, count in sorted(floor(Path(sys.argv[1])).items()) if count}))
    else:
        main()

"""Generate messy data for the customer examples of the shipped templates:

    examples/avochato/acme.yaml         Avochato (SMS), UK phone numbers      seed 000
    examples/syncapps/brightwave.yaml   SyncApps (marketing list), emails     seed 001
    examples/csv/newsletter.yaml        the same template on a list exported as a CSV file
    examples/phoneiq/northwind.yaml     PhoneIQ (phone), Contacts + Accounts  seed 002
    examples/aloware/pinecrest.yaml     Aloware (phone), Leads, users         seed 003
    examples/totango/*.yaml             Totango (customer success) activities seed 004

For each, the platform's SQLite store or CSV files (next to the document) and `org.jsonl`, the Salesforce side
as a `syncmap sandbox --seed` file. The data is the same every time and made to show every kind of
decision in `syncmap plan`: records linked on a key written differently on each side, gaps filled
both ways, records created on either side, records skipped with the reason, and conflicts held.
Run it again to start an example over: it also forgets the sync state.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.connectors.sqlite import SqliteConnector

HERE = Path(__file__).resolve().parent
FIRST = [
    "Ana",
    "Bo",
    "Chen",
    "Dana",
    "Eli",
    "Fatima",
    "Gus",
    "Hana",
    "Ivan",
    "Jo",
    "Kai",
    "Lena",
    "Mo",
    "Nia",
]
LAST = ["Lopez", "Smith", "Nguyen", "Okafor", "Rossi", "Kim", "Novak", "Silva", "Khan", "Berg"]
COMPANIES = ["Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark"]


def us_phone(number: int, rng: random.Random) -> str:
    """A San Francisco number, written one of the ways people type it."""
    line = f"{number:04d}"
    return rng.choice(
        [f"(415) 555-{line}", f"+1 415 555 {line}", f"415555{line}", f"415.555.{line}", f"1-415-555-{line}"]
    )


def uk_phone(number: int, rng: random.Random) -> str:
    """A London number, written one of the ways people type it."""
    line = f"{number:04d}"
    return rng.choice(
        [f"020 7946 {line}", f"+44 20 7946 {line}", f"02079460{line[1:]}", f"+44 (0)20 7946 {line}"]
    )


def messy_email(first: str, last: str, domain: str, rng: random.Random) -> str:
    """An address as people leave it: mixed case, stray spaces."""
    address = f"{first}.{last}@{domain}"
    return rng.choice([address.lower(), address, f" {address.lower()} ", address.upper()])


class Example:
    """One customer's two sides, filled person by person."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.platform: dict[str, list[dict]] = {}
        self.org: list[dict] = []

    def person(self, i: int) -> tuple[str, str]:
        return FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]

    def on_platform(self, record_type: str, **values) -> None:
        self.platform.setdefault(record_type, []).append(values)

    def in_org(self, sobject: str, **values) -> None:
        self.org.append(
            {"attributes": {"type": sobject}, **{k: v for k, v in values.items() if v is not None}}
        )

    def write(self, folder: Path, store: str) -> str:
        """The platform's records into ``store``: a SQLite store, or with ``*.csv`` one CSV file
        per record type as a spreadsheet exports it (UTF-8 with a byte order mark, CRLF)."""
        if store == "*.csv":
            for record_type, records in self.platform.items():
                with (folder / f"{record_type}.csv").open("w", encoding="utf-8-sig", newline="") as out:
                    writer = csv.DictWriter(out, fieldnames=list(records[0]))
                    writer.writeheader()
                    writer.writerows(records)
        else:
            for suffix in ("", "-wal", "-shm"):
                (folder / f"{store}{suffix}").unlink(missing_ok=True)
            with SqliteConnector({"path": store}, folder) as connector:
                for record_type, records in self.platform.items():
                    connector.seed(record_type, records)
        with (folder / "org.jsonl").open("w") as out:
            out.writelines(json.dumps(record) + "\n" for record in self.org)
        counts = ", ".join(f"{len(records)} {name}" for name, records in self.platform.items())
        return f"{folder.name}/{store}: {counts}; {folder.name}/org.jsonl: {len(self.org)} Salesforce records"


def phone_people(
    example: Example, count: int, phone: Callable[[int, random.Random], str], extra=dict
) -> None:
    """People keyed on a phone number; what each one shows in the plan depends on i % 10."""
    rng = example.rng
    for i in range(count):
        first, last = example.person(i)
        case = i % 10
        number = 100 + i
        contact = {
            "id": f"c{i:04d}", "first_name": first, "last_name": last, "phone": phone(number, rng),
            "email": messy_email(first, last, "example.com", rng), **extra(i),
        }  # fmt: skip
        if case in (0, 1, 2):  # on both sides, the phone written differently: linked, gaps filled
            example.on_platform("contacts", **contact)
            kind = "Contact" if case == 0 else "Lead"
            example.in_org(kind, FirstName=first, LastName=last, MobilePhone=phone(number, rng),
                           Company=COMPANIES[i % len(COMPANIES)] if kind == "Lead" else None)  # fmt: skip
        elif case in (3, 4):  # only on the platform
            example.on_platform("contacts", **contact)
        elif case in (5, 6):  # only in Salesforce
            example.in_org(
                "Lead", FirstName=first, LastName=last, Phone=phone(number, rng), Company=COMPANIES[i % 6]
            )
        elif case == 7:  # in Salesforce without a usable phone or first name: skipped
            example.in_org(
                "Lead", LastName=last, Phone=phone(number, rng) if i % 20 else "n/a", Company="Hooli"
            )
        elif case == 8:  # the same phone on two Leads: ambiguous, held for a person
            example.on_platform("contacts", **contact)
            for twin in (first, f"{first}ie"):
                example.in_org(
                    "Lead", FirstName=twin, LastName=last, Phone=phone(number, rng), Company="Globex"
                )
        else:  # on both sides with different names: a duplicate key, decided by the document's policy
            example.on_platform("contacts", **contact)
            example.in_org("Contact", FirstName=f"{first}a", LastName=last, Phone=phone(number, rng))


def acme() -> Example:
    example = Example(seed=0)
    phone_people(example, 60, uk_phone, lambda i: {"company": COMPANIES[i % 6] if i % 3 else None})
    kinds = ["call", "text", "note", "voicemail_greeting"]  # the last is neither: skipped with its reason
    for n, contact in enumerate(example.platform["contacts"][:24]):
        example.on_platform(
            "activities", id=f"act{n}", contact_id=contact["id"], kind=kinds[n % 4],
            direction=["inbound", "outbound"][n % 2], occurred_at=f"2026-11-{1 + n % 20:02d}T09:{n:02d}:00Z",
            body=f"Message {n}",
        )  # fmt: skip
    return example


def list_members(seed: int, domain: str, extra: Callable[[int], dict]) -> Example:
    """Members of a marketing list keyed on email; what each one shows in the plan depends on i % 6."""
    example = Example(seed)
    rng = example.rng
    for i in range(60):
        first, last = example.person(i)
        email = messy_email(first, f"{last}{i}", domain, rng)
        member = {"id": f"m{i:04d}", "email": email, "first_name": first, "last_name": last, **extra(i)}
        case = i % 6
        if case in (0, 1):  # on the list and in Salesforce, the email written differently
            example.on_platform("subscribers", **member)
            example.in_org("Contact", FirstName=first, LastName=last, Email=email.strip().lower(),
                           Phone=us_phone(i, rng))  # fmt: skip
        elif case == 2:  # only on the list; some without an email
            example.on_platform("subscribers", **{**member, "email": "" if i % 4 == 0 else email})
        elif case == 3:  # only in Salesforce; some without an email
            example.in_org(
                "Contact", FirstName=first, LastName=last, Email=None if i % 4 == 1 else email.strip()
            )
        elif case == 4:  # two Contacts share one email: ambiguous, held
            example.on_platform("subscribers", **member)
            for twin in (last, f"{last}-Jones"):
                example.in_org("Contact", FirstName=first, LastName=twin, Email=email.strip().lower())
        else:  # the same email with different names: held (duplicate_key: hold)
            example.on_platform("subscribers", **member)
            example.in_org("Contact", FirstName=f"{first}a", LastName=last, Email=email.strip())
    return example


def brightwave() -> Example:
    return list_members(1, "brightwave.example", lambda i: {"unsubscribed": i % 5 == 0})


def newsletter() -> Example:
    """A list exported as a file: every cell text, the time of each member's last change."""
    return list_members(
        5, "harbor.example", lambda i: {"phone": "", "updated_at": f"2026-11-{1 + i % 28:02d} 09:{i:02d}:00"}
    )


def northwind() -> Example:
    example = Example(seed=2)
    for n, name in enumerate(COMPANIES):
        example.in_org("Account", Id=f"001{n + 1:012d}", Name=name)
    phone_people(
        example,
        60,
        us_phone,
        lambda i: {"job_title": "Buyer" if i % 2 else None, "sf_object_type": "Contact"},
    )
    for record in example.org:  # PhoneIQ reads the Company from the Contact's Account
        if record["attributes"]["type"] == "Contact":
            record["AccountId"] = f"001{example.rng.randrange(1, len(COMPANIES) + 1):012d}"
    return example


def pinecrest() -> Example:
    example = Example(seed=3)
    phone_people(example, 60, us_phone, lambda i: {"company_name": None})
    users = [
        ("ana", "active", "user"),
        ("bo", "active", "user"),
        ("cy", "suspended", "user"),
        ("desk", "active", "extension"),
    ]
    for n, (name, status, kind) in enumerate(users):
        email = f"{name}@pinecrest.example"
        example.on_platform(
            "users", id=f"u{n}", email=email.title() if n == 1 else email, status=status, kind=kind
        )
        example.in_org("User", Username=email, Email=email, LastName=name.title(), IsActive=name != "bo")
    return example


def globex() -> Example:
    """Totango: accounts matched by their Salesforce id, activities on both sides."""
    example = Example(seed=4)
    now = datetime.now(UTC)
    accounts = [f"001{n:012d}AAA" for n in range(1, 5)]
    for account, name in zip(accounts, COMPANIES, strict=False):
        example.in_org("Account", Id=account, Name=name)
    for account, name in zip(accounts[:3], COMPANIES, strict=False):  # the fourth is not in Totango
        example.on_platform("accounts", id=account.lower(), account_id=account.lower(), name=name)
    example.in_org("User", Username="rep@globex.example", Email="rep@globex.example", LastName="Rep")
    for i in range(6):
        first, last = example.person(i)
        example.on_platform(
            "contacts", id=f"p{i}", email=messy_email(first, last, "globex.example", example.rng)
        )
        example.in_org("Contact", FirstName=first, LastName=last, Email=f"{first}.{last}@globex.example".lower(),
                       AccountId=accounts[i % 3])  # fmt: skip
    for i in range(12):
        account = accounts[i % 4].lower()  # every fourth on the account Totango does not have
        updated = now - timedelta(days=45 if i == 5 else i)  # one outside the 30-day window
        example.on_platform(
            "tasks", id=f"t{i}", account_id=account, title=f"Follow-up #{i}", status="Not Started",
            priority=["High", "Normal", "Low"][i % 3], due_date=(now + timedelta(days=i)).date().isoformat(),
            assigned_to="rep@globex.example", updated_at=updated.isoformat(timespec="microseconds"),
        )  # fmt: skip
        example.on_platform(
            "touchpoints", id=f"tp{i}", account_id=account, subject=f"Check-in #{i}", content="Notes",
            touchpoint_date=(now - timedelta(days=i)).isoformat(timespec="seconds"), participant_id=f"p{i % 6}",
        )  # fmt: skip
        example.on_platform(
            "campaign_touches", id=f"CT-{i}", account_id=account, campaign_type=["ongoing", "one_time"][i % 2],
            campaign_name=f"Campaign {i}", recipients=10 * i, sender_email="ana@globex.example",
            start_date=None if i == 7 else (now - timedelta(days=i)).date().isoformat(),
        )  # fmt: skip
    for i in range(8):
        example.in_org(
            "Task",
            Subject="" if i == 3 else f"Salesforce task #{i}",
            WhatId=accounts[i % 4] if i != 5 else None,
        )
        example.in_org("Event", Subject=f"Salesforce meeting #{i}", WhatId=accounts[i % 4], IsAllDayEvent=True,
                       ActivityDate=(now - timedelta(days=i)).date().isoformat())  # fmt: skip
    return example


EXAMPLES = {
    "avochato": (acme, "acme-avochato.db"),
    "syncapps": (brightwave, "syncapps.db"),
    "csv": (newsletter, "*.csv"),
    "phoneiq": (northwind, "phoneiq.db"),
    "aloware": (pinecrest, "aloware.db"),
    "totango": (globex, "totango.db"),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "examples", nargs="*", metavar="EXAMPLE", help=f"any of {', '.join(EXAMPLES)} (default: all)"
    )
    parser.add_argument("--dir", type=Path, default=HERE, help="folder holding the example folders")
    args = parser.parse_args()
    unknown = sorted(set(args.examples) - set(EXAMPLES))
    if unknown:
        parser.error(f"unknown example {', '.join(unknown)}; choose from {', '.join(EXAMPLES)}")
    for name in args.examples or EXAMPLES:
        make, store = EXAMPLES[name]
        folder = args.dir / name
        folder.mkdir(parents=True, exist_ok=True)
        print(make().write(folder, store))
    shutil.rmtree(args.dir.parent / ".syncmap", ignore_errors=True)


if __name__ == "__main__":
    main()

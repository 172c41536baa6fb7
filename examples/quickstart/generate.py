"""Fill platform.db and crm.db with a few hundred realistic, messy contacts (same data every time),
and the CRM's records into org.db too: a local Salesforce org, which a connection with
`sandbox: org.db` serves for each run (org.jsonl holds them as a `syncmap sandbox --seed` file).

Run it again to start the quickstart over: it also forgets the sync state in .syncmap/.
`--bad-day` adds what a real sync meets: two of the CRM's Contacts entered twice (the platform
contacts sharing their phone are held for a person to decide) and a platform email with a typo
that Salesforce refuses (its write fails, and every run tries it again).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

from engine.connectors.sqlite import SqliteConnector
from engine.sandbox import Sandbox

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


def phone_variants(number: int, rng: random.Random) -> str:
    """One US number written the many ways people type it."""
    digits = f"415{number:07d}"
    area, prefix, line = digits[:3], digits[3:6], digits[6:]
    forms = [
        f"({area}) {prefix}-{line}",
        f"+1 {area} {prefix} {line}",
        digits,
        f"{area}.{prefix}.{line}",
        f"1-{area}-{prefix}-{line}",
    ]
    return rng.choice(forms)


def person(rng: random.Random, number: int) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = (
        f"  {first}.{last}{number}@Example.com "
        if rng.random() < 0.3
        else f"{first.lower()}.{last.lower()}{number}@example.com"
    )
    return {"first": first, "last": last, "email": email, "number": 5550000 + number}


def generate(count: int, seed: int = 7, bad_day: bool = False) -> tuple[list[dict], list[dict], list[dict]]:
    rng = random.Random(seed)
    platform, leads, contacts = [], [], []
    for i in range(count):
        p = person(rng, i)
        roll = rng.random()
        if roll < 0.55 or i % 40 == 0:  # only on the platform (some without a first name)
            first = "" if i % 25 == 0 else p["first"]
            platform.append(
                {
                    "id": f"p{i}",
                    "first_name": first,
                    "last_name": p["last"],
                    "phone": phone_variants(p["number"], rng),
                    "email": p["email"],
                }
            )
        if 0.35 < roll < 0.7:  # in the CRM as a Contact (the overlap with the platform matches on phone)
            contacts.append(
                {
                    "id": f"003{i:06d}",
                    "FirstName": p["first"],
                    "LastName": p["last"],
                    "MobilePhone": phone_variants(p["number"], rng),
                    "Email": p["email"].strip().lower(),
                }
            )
        if roll > 0.65 or i % 30 == 0:  # a Lead (some share a phone with a Contact: the Contact has priority)
            phone = phone_variants(p["number"], rng) if i % 17 else "n/a"
            leads.append(
                {
                    "id": f"00Q{i:06d}",
                    "FirstName": p["first"],
                    "LastName": p["last"],
                    "Phone": phone,
                    "Company": f"{p['last']} & Co",
                }
            )
    if bad_day:
        on_platform = {contact["id"] for contact in platform}
        shared = [contact for contact in contacts if f"p{int(contact['id'][3:])}" in on_platform]
        for contact in shared[:2]:  # the same person entered again, with a work address
            last = contact["LastName"].lower()
            contacts.append(
                {
                    **contact,
                    "id": contact["id"] + "-2",
                    "Email": f"{contact['FirstName'][0].lower()}{last}@{last}.example",
                }
            )
        platform[-1]["email"] = platform[-1]["email"].strip().removesuffix(".com")  # `ana@example`
    return platform, leads, contacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=300, help="people to generate (default 300)")
    parser.add_argument("--dir", type=Path, default=HERE, help="folder for the two stores (default: here)")
    parser.add_argument(
        "--bad-day", action="store_true", help="add duplicate Contacts and an email Salesforce refuses"
    )
    args = parser.parse_args()
    folder = args.dir
    for name in ("platform.db", "crm.db", "org.db"):
        for suffix in ("", "-wal", "-shm"):
            (folder / f"{name}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(folder / ".syncmap", ignore_errors=True)
    platform, leads, contacts = generate(args.records, bad_day=args.bad_day)
    SqliteConnector({"path": "platform.db"}, folder).seed("contacts", platform).close()
    crm = SqliteConnector({"path": "crm.db"}, folder)
    crm.seed("Lead", leads).seed("Contact", contacts).close()
    write_org_seed(folder / "org.jsonl", leads, contacts)
    with Sandbox(db_path=folder / "org.db", seed=[folder / "org.jsonl"]):
        pass  # a new org file is seeded when first opened
    print(
        f"platform.db: {len(platform)} contacts; crm.db and the org in org.db: "
        f"{len(leads)} Leads, {len(contacts)} Contacts"
    )


def write_org_seed(path: Path, leads: list[dict], contacts: list[dict]) -> None:
    """The CRM records as a `syncmap sandbox --seed` file (the org gives them real Salesforce ids)."""
    with path.open("w") as out:
        for record_type, records in (("Lead", leads), ("Contact", contacts)):
            for record in records:
                fields = {key: value for key, value in record.items() if key != "id"}
                out.write(json.dumps({"attributes": {"type": record_type}, **fields}) + "\n")


if __name__ == "__main__":
    main()

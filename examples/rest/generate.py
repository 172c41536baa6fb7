"""Write `db.json`, the data of a customer-success platform's API (served by json-server), and
`org.jsonl`, the Salesforce side to seed `syncmap sandbox`: a few dozen contacts, some in both
(their emails written differently), some on one side only, and their activities.

    python examples/rest/generate.py

Run it again to start over: it rewrites both files and forgets the sync state in .syncmap/.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEOPLE = [
    ("Ana", "Lopez", "Globex"), ("Bo", "Smith", "Initech"), ("Chen", "Nguyen", "Umbrella"),
    ("Dana", "Okafor", "Hooli"), ("Eli", "Rossi", "Globex"), ("Fatima", "Kim", "Stark"),
]  # fmt: skip
KINDS = ["Onboarding call", "Health check", "Renewal review", "Support escalation"]


def generate(folder: Path) -> str:
    """Write ``folder/db.json`` and ``folder/org.jsonl``; returns what was made."""
    contacts, activities, org = [], [], []
    for i in range(30):
        first, last, company = PEOPLE[i % len(PEOPLE)]
        last, email = f"{last}{i}", f"{first}.{last}{i}@example.com".lower()
        stamp = f"2026-11-{1 + i % 28:02d}T09:{i:02d}:00.000Z"
        contact = {"id": i + 1, "first_name": first, "last_name": last, "email": email,
                   "phone": f"+1415555{1000 + i}", "company": company, "updated_at": stamp}  # fmt: skip
        case = i % 4
        if case in (0, 1):  # in both: linked by email, whatever its case
            contacts.append(contact)
            org.append({"attributes": {"type": "Contact"}, "FirstName": first, "LastName": last,
                        "Email": email.upper() if case == 0 else email})  # fmt: skip
        elif case == 2:  # only on the platform: a new Salesforce Contact
            contacts.append(contact)
        else:  # only in Salesforce: a new platform contact
            org.append({"attributes": {"type": "Contact"}, "FirstName": first, "LastName": last,
                        "Email": email, "Phone": f"(415) 555-{1000 + i}"})  # fmt: skip
    for n, contact in enumerate(contacts * 2):
        activities.append({"id": n + 1, "contact_id": contact["id"], "kind": KINDS[n % len(KINDS)],
                           "note": f"Talked about the {['Q1', 'Q2', 'Q3', 'Q4'][n % 4]} plan",
                           "occurred_at": f"2026-11-{1 + n % 28:02d}T15:00:00Z",
                           "updated_at": f"2026-11-{1 + n % 28:02d}T15:00:00.000Z"})  # fmt: skip
    (folder / "db.json").write_text(json.dumps({"contacts": contacts, "activities": activities}, indent=1))
    with (folder / "org.jsonl").open("w") as out:
        out.writelines(json.dumps(record) + "\n" for record in org)
    shutil.rmtree(folder / ".syncmap", ignore_errors=True)
    return f"db.json: {len(contacts)} contacts, {len(activities)} activities; org.jsonl: {len(org)} Salesforce Contacts"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dir", type=Path, default=HERE, help="folder for db.json, org.jsonl and the sync state"
    )
    print(generate(parser.parse_args().dir))


if __name__ == "__main__":
    main()

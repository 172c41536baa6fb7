"""Create a customer's own tables in PostgreSQL, `app.contacts` and `app.calls`, filled with a
few dozen messy contacts and their calls (the same every time), and write `org.jsonl` next to
this file: the Salesforce side, to seed `syncmap sandbox`.

    python examples/postgres/generate.py --url postgresql://postgres@127.0.0.1:5432/test

The tables are the app's, not syncmap's: a serial key, a JSONB address, a soft-delete time and
a trigger stamping `updated_at` with `clock_timestamp()`. Run it again to start over: it drops
and recreates the two tables and forgets the sync state in .syncmap/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
PEOPLE = [
    ("Ana", "Lopez", "Oakland"), ("Bo", "Smith", "Berkeley"), ("Chen", "Nguyen", "San Jose"),
    ("Dana", "Okafor", "Fremont"), ("Eli", "Rossi", "Oakland"), ("Fatima", "Kim", "Daly City"),
    ("Gus", "Novak", "San Mateo"), ("Hana", "Silva", "Berkeley"), ("Ivan", "Khan", "Alameda"),
    ("Jo", "Berg", "Oakland"),
]  # fmt: skip
TABLES = """
CREATE SCHEMA IF NOT EXISTS app;
DROP TABLE IF EXISTS app.calls, app.contacts;
CREATE TABLE app.contacts (
    contact_id bigserial PRIMARY KEY,
    first_name text,
    last_name text NOT NULL,
    mobile text,
    email text,
    address jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    deleted_at timestamptz
);
CREATE INDEX ON app.contacts (updated_at, contact_id);
CREATE TABLE app.calls (
    call_id bigserial PRIMARY KEY,
    contact_id bigint NOT NULL REFERENCES app.contacts,
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    duration_seconds integer NOT NULL,
    called_at timestamptz NOT NULL,
    notes text,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ON app.calls (updated_at, call_id);
CREATE OR REPLACE FUNCTION app.stamp_updated_at() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
CREATE TRIGGER contacts_updated_at BEFORE UPDATE ON app.contacts
    FOR EACH ROW EXECUTE FUNCTION app.stamp_updated_at();
CREATE TRIGGER calls_updated_at BEFORE UPDATE ON app.calls
    FOR EACH ROW EXECUTE FUNCTION app.stamp_updated_at();
"""


def phone(number: int, rng: random.Random) -> str:
    """A San Francisco number, written one of the ways people type it."""
    line = f"{number:04d}"
    return rng.choice([f"(415) 555-{line}", f"+1 415 555 {line}", f"415555{line}", f"415.555.{line}"])


def generate(url: str, folder: Path) -> str:
    """Fill the tables at ``url`` and write ``folder/org.jsonl``; returns what was made."""
    rng = random.Random(7)
    contacts, calls, org = [], [], []
    for i in range(40):
        first, last, city = PEOPLE[i % len(PEOPLE)]
        last = f"{last}{i}"
        number = 200 + i
        row = {"first_name": first, "last_name": last, "mobile": phone(number, rng),
               "email": f" {first}.{last}@example.com ".upper() if i % 3 == 0 else f"{first}.{last}@example.com",
               "address": json.dumps({"city": city, "country": "US"})}  # fmt: skip
        case = i % 5
        if case in (0, 1):  # in both, the phone written differently: linked, gaps filled
            contacts.append(row)
            sobject = "Contact" if case == 0 else "Lead"
            org.append({"attributes": {"type": sobject}, "FirstName": first, "LastName": last,
                        "MobilePhone": phone(number, rng), **({"Company": "Acme"} if case == 1 else {})})  # fmt: skip
        elif case == 2:  # only in the app: a new Lead
            contacts.append(row)
        elif case == 3:  # only in Salesforce: a new row in app.contacts
            org.append({"attributes": {"type": "Lead"}, "FirstName": first, "LastName": last,
                        "MobilePhone": phone(number, rng), "Company": "Initech", "City": city})  # fmt: skip
        else:  # in the app without a phone: skipped, with the reason
            contacts.append({**row, "mobile": None})
    engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))
    with engine.begin() as connection:
        connection.exec_driver_sql(TABLES)
        ids = [
            connection.execute(
                sa.text(
                    "INSERT INTO app.contacts (first_name, last_name, mobile, email, address) "
                    "VALUES (:first_name, :last_name, :mobile, :email, CAST(:address AS jsonb)) RETURNING contact_id"
                ),
                row,
            ).scalar_one()
            for row in contacts
        ]
        reachable = [contact_id for contact_id, row in zip(ids, contacts, strict=True) if row["mobile"]]
        for n, contact_id in enumerate(reachable):
            calls.append({"contact_id": contact_id, "direction": ["inbound", "outbound"][n % 2],
                          "duration_seconds": 30 + 17 * n, "called_at": f"2026-11-{1 + n:02d}T15:{n:02d}:00Z",
                          "notes": f"Asked about the {['spring', 'autumn'][n % 2]} offer"})  # fmt: skip
        connection.execute(
            sa.text(
                "INSERT INTO app.calls (contact_id, direction, duration_seconds, called_at, notes) "
                "VALUES (:contact_id, :direction, :duration_seconds, :called_at, :notes)"
            ),
            calls,
        )
    engine.dispose()
    with (folder / "org.jsonl").open("w") as out:
        out.writelines(json.dumps(record) + "\n" for record in org)
    shutil.rmtree(folder / ".syncmap", ignore_errors=True)
    return f"app.contacts: {len(contacts)} rows, app.calls: {len(calls)} rows; org.jsonl: {len(org)} Salesforce records"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("APP_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="the PostgreSQL database to create the tables in (default: $APP_DATABASE_URL, or the local `test`)",
    )
    parser.add_argument(
        "--dir", type=Path, default=HERE, help="folder for org.jsonl and the sync state (default: here)"
    )
    args = parser.parse_args()
    print(generate(args.url, args.dir))


if __name__ == "__main__":
    main()

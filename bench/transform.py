"""Transform throughput: records per second through a compiled mapping of 15 fields (renames, a
phone normalization, a lower-cased email, a value map, a template), side by side with hand-written
Python doing the same, in the same run. Target: the compiled plan at least half as fast. Then
again with every phone number unique, against hand-written code that validates each number the
way syncmap does (libphonenumber's parser and validity rules). Target: at least 0.8."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import phonenumbers

from bench.plan_scale import phone
from bench.results import Result
from engine.connectors import Record
from engine.job import Job

RECORDS = 50_000
MAPPING = """\
syncmap: 1
name: transform
connections:
  platform: {connector: memory, settings: {store: bench-platform}}
  crm: {connector: memory, settings: {store: bench-crm}}
value_maps:
  stage: {new: Open - Not Contacted, working: Working - Contacted, won: Closed - Converted}
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: crm, object: Lead}
    direction: to_target
    fields:
      FirstName: first_name
      LastName: last_name
      Title: title
      Company: company.name
      City: address.city
      Street: address.street
      PostalCode: address.zip
      Country: address.country
      Website: website
      Industry: industry
      Description: notes
      MobilePhone: {source: phone, transform: "phone_e164(@)"}
      Email: {source: email, transform: "email(@)"}
      Status: {source: stage, value_map: stage}
      Subject__c: {template: "{{ first_name }} {{ last_name }} at {{ company.name }}"}
"""
STAGES = {"new": "Open - Not Contacted", "working": "Working - Contacted", "won": "Closed - Converted"}


def hand_written(values: dict) -> dict:
    phone = phonenumbers.parse(values["phone"], "US")
    company = values["company"]["name"]
    return {
        "FirstName": values["first_name"], "LastName": values["last_name"], "Title": values["title"],
        "Company": company, "City": values["address"]["city"], "Street": values["address"]["street"],
        "PostalCode": values["address"]["zip"], "Country": values["address"]["country"],
        "Website": values["website"], "Industry": values["industry"], "Description": values["notes"],
        "MobilePhone": phonenumbers.format_number(phone, phonenumbers.PhoneNumberFormat.E164),
        "Email": values["email"].strip().lower(), "Status": STAGES.get(values["stage"]),
        "Subject__c": f"{values['first_name']} {values['last_name']} at {company}",
    }  # fmt: skip


def validating(values: dict) -> dict:
    """``hand_written``, with each phone number validated (each is new: nothing to remember)."""
    number = phonenumbers.parse(values["phone"], "US")
    valid = phonenumbers.is_valid_number(number)
    return {
        **hand_written(values),
        "MobilePhone": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if valid else None,
    }


def records(count: int, unique_phones: bool = False) -> list[Record]:
    return [
        Record(
            "contacts",
            f"p{i}",
            {
                "first_name": "Ana",
                "last_name": f"Lopez{i}",
                "title": "Buyer",
                "company": {"name": f"Globex {i % 50}"},
                "address": {"city": "Oakland", "street": f"{i} Main St", "zip": "94607", "country": "US"},
                "website": "https://globex.example",
                "industry": "Retail",
                "notes": "Met at the fair",
                "phone": phone(i) if unique_phones else f"(415) 555-{i % 10000:04d}",
                "email": f" Ana.Lopez{i}@Globex.example ",
                "stage": ("new", "working", "won")[i % 3],
            },
        )
        for i in range(count)
    ]


def main(count: int = RECORDS) -> list[Result]:
    return [*compare(count, hand_written, ">= 0.50"), *compare(count, validating, ">= 0.8", unique_phones=True)]


def compare(count: int, by_hand: Callable[[dict], dict], target: str, unique_phones: bool = False) -> list[Result]:
    from engine.run.create import Creator
    from engine.run.values import Values

    sample = records(count, unique_phones)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "syncmap.toml").write_text("")
        (Path(folder) / "job.yaml").write_text(MAPPING)
        with Job.open(Path(folder) / "job.yaml", Path(folder) / "state.db") as job:
            step, context = job.plan.steps[0], job.context()
            creator = Creator(step, context, Values(step, context))
            started = time.perf_counter()
            compiled = [creator.creation_values("target", record, "Lead")[0] for record in sample]
            compiled_rate = count / (time.perf_counter() - started)
    started = time.perf_counter()
    written = [by_hand(record.values) for record in sample]
    hand_rate = count / (time.perf_counter() - started)
    assert compiled == written, "the compiled mapping and the hand-written code disagree"
    phones = ", unique phones" if unique_phones else ""
    print(f"transform, 15 fields{phones}, {count} records: compiled {compiled_rate:,.0f}/s, hand-written "
          f"{hand_rate:,.0f}/s, ratio {compiled_rate / hand_rate:.2f} (target {target})")  # fmt: skip
    name = f"transform 15 fields{phones}, {count:,} records"
    return [
        Result(name, "compiled mapping", compiled_rate, "records/s"),
        Result(name, "hand-written Python", hand_rate, "records/s"),
        Result(name, "ratio", compiled_rate / hand_rate, "", target),
    ]


if __name__ == "__main__":
    main()

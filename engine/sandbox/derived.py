"""Fields the org computes itself on every write, as Salesforce does.

A full name from first and last names (also a Person Account's), an activity's AccountId from
its WhatId, a Task's IsClosed from its status, an Event's end, duration and date from each
other. Kept apart from validation so that the rules read as a list.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine.sandbox.errors import ApiError
from engine.sandbox.schema import SObject
from engine.sandbox.values import format_datetime, parse_datetime

CLOSED_TASK_STATUSES = frozenset({"Completed"})


def derive(sobject: SObject, record: dict[str, Any]) -> None:
    """Fill the computed fields of a record about to be saved (in place)."""
    name = sobject.field("Name")
    if name is not None and not name.createable and sobject.field("LastName"):
        parts = (record.get("FirstName"), record.get("LastName"))
        record["Name"] = " ".join(part for part in parts if part) or None
    if sobject.name == "Account" and sobject.field("PersonMobilePhone"):
        _derive_person_account(record)
    if sobject.field("WhatId") and sobject.field("AccountId"):  # an activity's account
        what = record.get("WhatId")
        record["AccountId"] = what if isinstance(what, str) and what.startswith("001") else None
    if sobject.name == "Task" and sobject.field("IsClosed"):
        record["IsClosed"] = record.get("Status") in CLOSED_TASK_STATUSES
    if sobject.name == "Event":
        _derive_event_times(record)


def _derive_person_account(record: dict[str, Any]) -> None:
    """In an org with Person Accounts, an Account with a last name is a person, named by it."""
    record["IsPersonAccount"] = bool(record.get("LastName"))
    if record["IsPersonAccount"]:
        parts = (record.get("FirstName"), record.get("LastName"))
        record["Name"] = " ".join(part for part in parts if part)


def _derive_event_times(record: dict[str, Any]) -> None:
    if record.get("IsAllDayEvent"):
        if not record.get("ActivityDate"):
            raise _missing("ActivityDate")
        return
    start_text = record.get("StartDateTime")
    if not start_text:
        raise _missing("StartDateTime")
    start = parse_datetime(start_text)
    if record.get("EndDateTime"):
        end = parse_datetime(record["EndDateTime"])
        record["DurationInMinutes"] = int((end - start).total_seconds() // 60)
    elif record.get("DurationInMinutes") is not None:
        end = start + timedelta(minutes=record["DurationInMinutes"])
        record["EndDateTime"] = format_datetime(end)
    else:
        raise _missing("DurationInMinutes")
    if record["DurationInMinutes"] < 0:
        raise ApiError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            "End Date Time: End time must be after start time",
            ("EndDateTime",),
        )
    record["ActivityDate"] = start.date().isoformat()


def _missing(field_name: str) -> ApiError:
    return ApiError(
        400,
        "REQUIRED_FIELD_MISSING",
        f"Required fields are missing: [{field_name}]",
        (field_name,),
    )

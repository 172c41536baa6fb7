"""Seed data: records from JSON or JSONL files (or dicts) put into a fresh sandbox org.

A record names its sObject with ``attributes.type`` (as query results do) or a ``type`` key;
failing both, the file name does (``Contact.jsonl``). A JSON file may hold a list of records,
a query result (``{"records": [...]}``) or a map of sObject name to records. Seeded records may
set their Id, system fields and read-only fields, and may refer to each other in any order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.sandbox.errors import ApiError
from engine.sandbox.org import Org

SeedSource = str | Path | dict[str, Any]


def read_records(sources: Iterable[SeedSource]) -> list[tuple[str, dict[str, Any]]]:
    """(sObject name, field values) for every record of every source, in order."""
    records: list[tuple[str, dict[str, Any]]] = []
    for source in sources:
        if isinstance(source, dict):
            records.append(_typed(source, None, "seed record"))
        else:
            records.extend(_read_file(Path(source)))
    return records


def apply(org: Org, records: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """Create the records in the org; returns how many were created."""
    count = 0
    for name, values in records:
        sobject = org.schema.get(name)
        if sobject is None:
            raise UsageError(f"seed record of unknown sObject {name!r}")
        try:
            org.create(sobject, values, trusted=True)
        except ApiError as e:
            raise UsageError(f"cannot seed {name} record {values}: {e.code}: {e.message}") from e
        count += 1
    return count


def _read_file(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            data: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read seed file {path}: {e}") from e
    default_type = path.stem.split(".")[0]
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    if isinstance(data, dict):
        for name, records in data.items():
            for record in records:
                yield _typed(record, name, str(path))
        return
    for record in data:
        yield _typed(record, default_type, str(path))


def _typed(record: Any, default_type: str | None, origin: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(record, dict):
        raise UsageError(f"{origin}: a seed record must be a JSON object, got {record!r}")
    values = dict(record)
    attributes = values.pop("attributes", None) or {}
    name = attributes.get("type") or values.pop("type", None) or default_type
    if not name:
        raise UsageError(f"{origin}: seed record without a type: {record!r}")
    return name, values

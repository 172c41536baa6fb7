"""The ChangeSet: the one product of a run. The preview prints it, `--out` saves it, apply executes it.

Each ``Change`` is one thing syncmap would do to one record (or decided not to do, with the
reason), on one side. Bookkeeping that apply must persist alongside the writes (new links, the
agreed values of a pair, watermarks) travels in the same objects so nothing is decided twice.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

import msgspec

from engine.spool import Spool

Action = Literal["create", "update", "delete", "link", "skip", "conflict"]
Side = Literal["source", "target"]
SIDES = ("source", "target")
WRITES = ("create", "update", "delete")  # the actions that change a system's records
# why a record is skipped or held, for machines (the preview JSON, the run report, run history)
ReasonCode = Literal[
    "filtered",  # it fails a filter of its side
    "partner_gone",  # the record it is linked to no longer exists
    "outranked",  # a record of the priority type shares its key
    "parent_not_linked",  # the record its `link:` field names is not linked (yet)
    "create_disabled",  # nothing matches, and creating records on the other side is off
    "invalid_value",  # an expression failed on its values
    "ambiguous_key",  # its key matches several records of one type
    "already_linked",  # the record its key matches is linked to another
    "duplicate_source_key",  # another record of its side with the same key syncs instead
    "waiting_for_partner",  # `link_all`: the record it will share is still being created
    "values_differ",  # a first match with differing values, `first_match: hold`
    "create_in_doubt",  # an interrupted run may have created its partner already
    "unreadable",  # a value of it (or of its partner) could not be read
    "invalid_key",  # its match keys are present but none is valid (`conflicts.invalid_key: skip`)
    "ignored",  # a person chose to leave it alone (`syncmap resolve --ignore`)
]


class FieldChange(msgspec.Struct, frozen=True, array_like=True):
    field: str
    old: Any
    new: Any


class Change(msgspec.Struct, frozen=True, array_like=True):
    """One decision about one record. Changes are msgspec Structs: a large run makes millions,
    and spools them to disk as MessagePack (see `spool.py`)."""

    step: str
    action: Action
    side: Side  # where the write happens (for skips and conflicts: where the record was read)
    record_type: str
    record_id: str | None  # None for a record still to be created
    origin: str | None = None  # "<type> <id>" of the record on the other side that causes it
    fields: tuple[FieldChange, ...] = ()
    reason: str | None = None  # why: skip reason, conflict, match key, resolved policy
    code: ReasonCode | None = None  # the reason of a skip or a conflict, for machines
    counted: bool = True  # records skipped for an unlinked parent are shown but not counted
    source_id: str | None = None  # the pair this change belongs to, for links and snapshots
    planned_id: str | None = None  # id given to a record created where the connector allows it
    values: dict[str, Any] = {}  # full values to write (create/update); each change has its own
    candidates: tuple[str, ...] = ()  # a conflict's: "<type> <id>" of the records it could pair with

    def field_changes(self) -> tuple[FieldChange, ...]:
        """What it changes, field by field. A create's are its values (but the id it gives the
        new record), kept once: a large first run holds and spools a million of them."""
        if self.action == "create" and not self.fields:
            return tuple(FieldChange(k, None, v) for k, v in self.values.items() if v != self.planned_id)
        return self.fields


class PairState(msgspec.Struct, frozen=True, array_like=True):
    """What apply records for a linked pair once its writes succeed."""

    source_id: str
    source_type: str
    target_type: str | None
    target_id: str | None  # None while the target record is being created
    made_by: str
    synced: dict[str, Any]
    target_known: bool = False  # the target record holds exactly ``synced`` (it was read or written so)


@dataclass
class StepChanges:
    """One step's decisions. The long lists are Spools: a step over a million records keeps its
    decisions on disk, not in memory."""

    step: str
    writes: Spool[Change] = field(default_factory=lambda: Spool(Change))  # creates, updates, deletes, links
    notes: Spool[Change] = field(default_factory=lambda: Spool(Change))  # skips and conflicts
    pairs: Spool[PairState] = field(default_factory=lambda: Spool(PairState))
    unlinks: list[str] = field(default_factory=list)  # source ids whose link ends (deletions)
    # source ids of the pairs whose target record may hold more than they agreed on
    unsure_targets: set[str] = field(default_factory=set)
    watermarks: dict[str, str] = field(default_factory=dict)
    seen: dict[str, dict[str, str]] = field(default_factory=dict)  # side -> records at its watermark
    read: dict[str, int] = field(default_factory=dict)  # records read per side
    # the match keys of every record read, per side: (type, id, modified, [(key index, value)])
    keys: dict[str, Spool[tuple[str, str, str | None, list[tuple[int, str]]]]] = field(
        default_factory=lambda: {side: Spool(tuple[str, str, str | None, list[tuple[int, str]]]) for side in SIDES}
    )
    warnings: list[str] = field(default_factory=list)  # what a person should look at, in the preview
    tally: Counter[str] = field(default_factory=Counter)  # counted changes by action
    # (side, record type, action) of the writes (every write is counted): what limits, API call
    # estimates and apply's write groups come from
    writes_by_type: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    connections: dict[str, str] = field(default_factory=dict)  # side -> the connection it is read from
    decided: list[tuple[str, str]] = field(default_factory=list)  # (side, id) a person's decision applied to
    reasons: Counter[str] = field(default_factory=Counter)  # counted skips and conflicts by code
    digest: int = 0  # of the records read (side, id, modified), whatever order they came in

    @property
    def changes(self) -> Iterator[Change]:
        """Every change: the writes, then the skips and conflicts."""
        return itertools.chain(self.writes, self.notes)

    def add(self, change: Change) -> None:
        (self.notes if change.action in ("skip", "conflict") else self.writes).append(change)
        if change.counted:
            self.tally[change.action] += 1
            if change.action in WRITES:
                self.writes_by_type[(change.side, change.record_type, change.action)] += 1
            if change.code:
                self.reasons[change.code] += 1

    @property
    def written(self) -> Counter[tuple[str, str]]:
        """The writes by (side, action)."""
        found: Counter[tuple[str, str]] = Counter()
        for (side, _, action), count in self.writes_by_type.items():
            found[(side, action)] += count
        return found

    def saw(self, side: str, record_id: str, modified: str | None) -> None:
        """Note a record read, for the fingerprint that tells whether the data changed since."""
        entry = f"{side}\0{record_id}\0{modified or ''}".encode()
        self.digest = (self.digest + int.from_bytes(hashlib.sha256(entry).digest())) % 2**256


@dataclass
class ChangeSet:
    job: str
    plan_hash: str
    steps: list[StepChanges] = field(default_factory=list)
    # connection -> the API calls an apply would make: {"reads": n, "writes": m} (a plan's own)
    api_estimate: dict[str, dict[str, int]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        tally = sum((step.tally for step in self.steps), Counter())
        return {
            "create": tally["create"],
            "update": tally["update"],
            "delete": tally["delete"],
            "skip": tally["skip"],
            "conflict": tally["conflict"],
            "link": tally["link"],
        }

    def reasons(self) -> dict[str, int]:
        """The counted skips and conflicts by reason code."""
        return dict(sorted(sum((step.reasons for step in self.steps), Counter()).items()))

    def by_connection(self) -> dict[str, dict[str, int]]:
        """What each connection gains, loses and has changed: its creates, updates and deletes."""
        found: dict[str, dict[str, int]] = {}
        for step in self.steps:
            for (side, action), count in step.written.items():
                connection = step.connections.get(side, side)
                found.setdefault(connection, dict.fromkeys(WRITES, 0))[action] += count
        return found

    def has_changes(self) -> bool:
        counts = self.counts()
        return any(counts[action] for action in ("create", "update", "delete", "link"))

    def summary(self) -> str:
        c = self.counts()
        conflicts = f"{c['conflict']} conflict{'s' if c['conflict'] != 1 else ''}"
        return (
            f"Plan: {c['create']} to create, {c['update']} to update, {c['delete']} to delete, "
            f"{c['skip']} skipped, {conflicts}."
        )

    def to_dict(self, shown: Callable[[Any], Any] = lambda value: value) -> dict[str, Any]:
        """The changes as JSON-ready data, each passed through ``shown`` (masking). The lists of
        changes are read from their spools as they are written: give the data to ``write_json``."""
        return {
            "job": self.job,
            "plan_hash": self.plan_hash,
            "counts": self.counts(),
            "by_connection": self.by_connection(),
            "reasons": self.reasons(),
            "steps": [
                {
                    "step": step.step,
                    "read": step.read,
                    "changes": Streamed(
                        lambda step=step: (shown(_change_dict(change)) for change in step.changes),
                        len(step.writes) + len(step.notes),
                    ),
                    **({"warnings": step.warnings} if step.warnings else {}),
                }
                for step in self.steps
            ],
            **({"api_calls_estimate": self.api_estimate} if self.api_estimate else {}),
        }


class Streamed(list):
    """A list written one item at a time by ``write_json``, so a million changes are never all in
    memory. (``json.dumps`` copies it into a plain list first: correct, but not small.)"""

    def __init__(self, items: Callable[[], Iterator[Any]], length: int):
        super().__init__()
        self.items, self.length = items, length

    def __iter__(self) -> Iterator[Any]:
        return self.items()

    def __len__(self) -> int:
        return self.length


def write_json(data: Any, out: TextIO) -> None:
    """Write data as indented JSON, piece by piece; the items of a ``Streamed`` list go one per
    line, each encoded by the json module's C encoder (indenting them would take ten times as long)."""
    pieces = _json_pieces(data, 0)
    while text := "".join(itertools.islice(pieces, 10_000)):
        out.write(text)
    out.write("\n")


def _json_pieces(value: Any, level: int) -> Iterator[str]:
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, Streamed):
        items = (_json_line(item) for item in value)
        first = next(items, None)
        yield "[]" if first is None else "[\n" + inner + first
        for item in items:
            yield ",\n" + inner + item
        yield "" if first is None else "\n" + pad + "]"
    elif isinstance(value, dict | list) and value:
        entries = value.items() if isinstance(value, dict) else ((None, item) for item in value)
        yield "{" if isinstance(value, dict) else "["
        for index, (key, item) in enumerate(entries):
            yield ("," if index else "") + "\n" + inner + ("" if key is None else json.dumps(str(key)) + ": ")
            yield from _json_pieces(item, level + 1)
        yield "\n" + pad + ("}" if isinstance(value, dict) else "]")
    else:
        yield json.dumps(value, default=str)


_ENCODER = msgspec.json.Encoder(enc_hook=str)
_NOT_ASCII = re.compile(r"[^\x00-\x7e]")  # what json.dumps escapes, control characters aside


def _json_line(item: Any) -> str:
    """An item as one line of JSON, spaced and ASCII-only as ``json.dumps`` writes it, three times
    as fast (a large plan writes a line per change)."""
    try:
        text = msgspec.json.format(_ENCODER.encode(item), indent=0).decode()
    except UnicodeEncodeError:  # a lone surrogate, which only the json module escapes
        return json.dumps(item, default=str)
    return text if text.isascii() and "\x7f" not in text else _NOT_ASCII.sub(_escaped, text)


def _escaped(found: re.Match) -> str:
    code = ord(found.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


def _change_dict(change: Change) -> dict[str, Any]:
    """A change as JSON-ready data, empty entries (None, no fields, no values) left out."""
    data = msgspec.structs.asdict(change)
    data["fields"] = [{"field": f.field, "old": f.old, "new": f.new} for f in change.field_changes()]
    return {
        key: value
        for key, value in data.items()
        if value is not None and (value or not isinstance(value, tuple | list | dict))
    }

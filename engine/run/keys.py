"""The match keys of one step run: what the stored index knows of the records past runs read,
overlaid with the records this run read, each record's keys worked out once while it is in hand."""

from __future__ import annotations

from engine.connectors import Record
from engine.normalize import match_key_values
from engine.plan import Step
from engine.run.context import RunContext

KeyRow = tuple[str, str, str | None]  # record type, id, modified
PARTNERED = "*"  # leads the packed row of a record that gets a partner created in this run


class KeyIndex:
    """Match-key look-ups of one step run, by side, key index and normalized value."""

    def __init__(self, step: Step, context: RunContext, read: dict[str, set[str]]):
        self.step, self.context = step, context
        self.read = read  # side -> the ids this run read: their stored keys may be stale
        self.region = context.plan.defaults.phone_region
        # a first run has no stored keys to look up: the overlay alone answers
        self.stored = {
            side: context.state.has_keys(context.job, step.name, side) for side in ("source", "target")
        }
        # side -> key index -> value -> the packed row of the one record read holding it, or the
        # rows of several: most values are one record's, and a million rows are kept for the step
        self._overlay: dict[str, list[dict[str, str | list[str]]]] = {
            side: [{} for _ in step.match] for side in ("source", "target")
        }
        self._keys: dict[str, dict[str, list[tuple[int, str]]]] = {"source": {}, "target": {}}  # side -> id -> keys
        self._invalid: dict[tuple[str, str], str] = {}  # (side, id) -> a key present but invalid

    def add(self, side: str, record: Record) -> list[tuple[int, str]]:
        """Index a record read in this run; its keys (none for a deletion)."""
        keys = [] if record.deleted else self.of(side, record)
        row = _packed(record)
        for index, value in keys:
            held = self._overlay[side][index]
            found = held.setdefault(value, row)
            if isinstance(found, list):
                found.append(row)
            elif found is not row:
                held[value] = [found, row]
        return keys

    def read_with(self, side: str, index: int, value: str) -> list[KeyRow]:
        """The rows of the records this run read holding a key value."""
        return [_row(packed) for packed in self._held(side, index, value)]

    def holders(self, side: str, index: int, value: str) -> int:
        """How many records this run read hold a key value."""
        return len(self._held(side, index, value))

    def partner_created(self, side: str, record: Record) -> None:
        """Note that a record this run read gets a partner created (see Matcher.shares_key)."""
        row = _packed(record)
        for index, value in self.of(side, record):
            held = self._overlay[side][index]
            found = held.get(value)
            if found == row:  # its key is this record's alone
                held[value] = PARTNERED + row
            elif isinstance(found, list):
                held[value] = [PARTNERED + packed if packed == row else packed for packed in found]

    def partnered(self, side: str, index: int, value: str) -> set[str]:
        """The ids of the records holding a key value that get a partner created in this run."""
        return {_row(packed)[1] for packed in self._held(side, index, value) if packed[0] == PARTNERED}

    def _held(self, side: str, index: int, value: str) -> list[str]:
        found = self._overlay[side][index].get(value)
        return [] if found is None else found if isinstance(found, list) else [found]

    def of(self, side: str, record: Record) -> list[tuple[int, str]]:
        """A record's normalized match keys, as (key index, value)."""
        cached = self._keys[side].get(record.id)
        if cached is not None:
            return cached
        found = []
        for index, value, normalized in match_key_values(self.step.match, side, record.values, self.region):
            if normalized is not None:
                found.append((index, normalized))
            elif value not in (None, ""):
                how = self.step.match[index].normalize
                self._invalid.setdefault((side, record.id), f"`{value}`, no valid {how}")
        self._keys[side][record.id] = found
        return found

    def has_keys(self, side: str, record_id: str) -> bool:
        return bool(self._keys[side].get(record_id))

    def invalid(self, side: str, record_id: str) -> str | None:
        """The first key a record holds that normalizes to nothing (`"12"`, no valid phone)."""
        return self._invalid.get((side, record_id))

    def forget(self, side: str) -> None:
        """A batch is indexed or decided: the keys of the side's records need not be kept (the
        overlay keeps their rows); asked again, they are worked out again."""
        self._keys[side].clear()

    def candidates(self, side: str, index: int, value: str) -> list[KeyRow]:
        """The records of ``side`` holding a key value: stored rows of the records this run did
        not read, then this run's."""
        overlay = self.read_with(side, index, value)
        if not self.stored[side]:  # a first run: most values are held by no record at all
            return list(dict.fromkeys(overlay)) if overlay else []
        stored = [
            row
            for row in self.context.state.find_keys(self.context.job, self.step.name, side, index, value)
            if row[1] not in self.read[side]
        ]
        return list(dict.fromkeys(stored + overlay))


def _packed(record: Record) -> str:
    """A record's row as one string: a million rows kept as tuples of three strings would take
    twice the memory. The lengths of its type and id lead; `+` marks a modification time."""
    modified = "" if record.modified is None else "+" + record.modified
    return f"{len(record.type)}:{len(record.id)}:{record.type}{record.id}{modified}"


def _row(packed: str) -> KeyRow:
    type_length, _, rest = packed.lstrip(PARTNERED).partition(":")
    id_length, _, rest = rest.partition(":")
    id_end = int(type_length) + int(id_length)
    modified = rest[id_end:]
    return rest[: int(type_length)], rest[int(type_length) : id_end], modified[1:] if modified else None

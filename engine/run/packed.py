"""The target records a step holds whole, each packed as MessagePack bytes and unpacked when
asked for. A record read is a dict of strings, each a Python object: a million of them held as
objects take four times the memory of their packed bytes. A record MessagePack cannot hold (an
integer past 64 bits, a deletion, one read in part) is kept as it is."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from engine.connectors import Record

_Packed = tuple[str, str | None, dict[str, Any]]  # type, modified, values
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Packed).decode


class PackedRecords(Mapping[str, Record]):
    """Records by id, packed (see the module docstring)."""

    def __init__(self) -> None:
        self._held: dict[str, bytes | Record] = {}

    def add(self, record: Record) -> None:
        held: bytes | Record = record
        if not (record.deleted or record.unreadable):
            with contextlib.suppress(OverflowError, TypeError, msgspec.EncodeError):
                held = _encode((record.type, record.modified, record.values))
        self._held[record.id] = held

    def __getitem__(self, record_id: str) -> Record:
        held = self._held[record_id]
        if isinstance(held, Record):
            return held
        record_type, modified, values = _decode(held)
        return Record(record_type, record_id, values, modified)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._held

    def __iter__(self) -> Iterator[str]:
        return iter(self._held)

    def __len__(self) -> int:
        return len(self._held)

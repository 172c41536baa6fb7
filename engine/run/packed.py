"""The target records a step holds whole, packed as MessagePack in a temporary file and read
back by id when asked for. A record read is a dict of strings, each a Python object: a million of
them held as objects take a gigabyte; on file, what stays in memory is their ids and where each
one lies. A record MessagePack cannot hold (an integer past 64 bits, a deletion, one read in
part) is kept in memory as it is."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import IO, Any

import msgspec

from engine.connectors import Record

_Packed = tuple[str, str | None, dict[str, Any]]  # type, modified, values
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Packed).decode
_LENGTH_BITS = 32  # where a record lies, as one number: its offset, then its length


class PackedRecords(Mapping[str, Record]):
    """Records by id, packed on file (see the module docstring)."""

    def __init__(self) -> None:
        self._held: dict[str, int | Record] = {}
        self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as this)
        self._end = 0  # where the next record goes
        self._written = True  # every record added is on file, not in the writer's buffer

    def add(self, record: Record) -> None:
        held: int | Record = record
        if not (record.deleted or record.unreadable):
            with contextlib.suppress(OverflowError, TypeError, msgspec.EncodeError):
                data = _encode((record.type, record.modified, record.values))
                self._file.write(data)
                held = self._end << _LENGTH_BITS | len(data)
                self._end += len(data)
                self._written = False
        self._held[record.id] = held

    def __getitem__(self, record_id: str) -> Record:
        held = self._held[record_id]
        if isinstance(held, Record):
            return held
        if not self._written:
            self._file.flush()
            self._written = True
        offset, length = held >> _LENGTH_BITS, held & ((1 << _LENGTH_BITS) - 1)
        record_type, modified, values = _decode(os.pread(self._file.fileno(), length, offset))
        return Record(record_type, record_id, values, modified)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._held

    def __iter__(self) -> Iterator[str]:
        return iter(self._held)

    def __len__(self) -> int:
        return len(self._held)

"""Spool: an append-only sequence that keeps only its newest items in memory.

A run over a million records makes a million decisions; holding them all as objects would take
gigabytes. A Spool keeps up to ``chunk`` items in memory and writes each full chunk to an
anonymous temporary file (deleted when the Spool is) as MessagePack, typed by what the Spool holds
(msgspec reads a chunk back five times as fast as pickle), so memory stays flat however many items
it holds. It can be iterated any number of times, in the order items were appended. What it holds
is JSON-like data, as record values are, and Structs of it.
"""

from __future__ import annotations

import gc
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, Generic, TypeVar

import msgspec

T = TypeVar("T")
CHUNK = 2000


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while millions of short-lived objects are made. Decisions
    and records form no reference cycles, but the collector would rescan a run's growing indexes
    again and again: a third of a large dry run's time. It resumes (and catches up) afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Spool(Generic[T]):
    def __init__(self, kind: Any = Any, items: Iterable[T] = (), chunk: int = CHUNK):
        self.chunk = chunk
        self._encoder, self._decoder = msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(list[kind])
        self._buffer: list[T] = []
        self._file: IO[bytes] | None = None
        self._offsets: list[int] = []  # where each spilled chunk starts in the file
        self._spilled = 0
        self.extend(items)

    def append(self, item: T) -> None:
        self._buffer.append(item)
        if len(self._buffer) >= self.chunk:
            self._spill()

    def extend(self, items: Iterable[T]) -> None:
        for item in items:
            self.append(item)

    def _spill(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the Spool)
        self._offsets.append(self._file.seek(0, 2))
        data = self._encoder.encode(self._buffer)
        self._file.write(len(data).to_bytes(8, "little") + data)
        self._spilled += len(self._buffer)
        self._buffer = []

    def __iter__(self) -> Iterator[T]:
        index = 0
        while index < len(self._offsets):  # chunks spilled meanwhile are read too
            assert self._file is not None
            self._file.seek(self._offsets[index])
            size = int.from_bytes(self._file.read(8), "little")
            with collector_paused():
                chunk = self._decoder.decode(self._file.read(size))
            index += 1
            yield from chunk
        yield from list(self._buffer)

    def __len__(self) -> int:
        return self._spilled + len(self._buffer)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __repr__(self) -> str:
        return f"Spool({len(self)} items)"

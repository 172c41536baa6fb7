"""Spool: an append-only sequence that keeps only its newest items in memory.

A run over a million records makes a million decisions; holding them all as objects would take
gigabytes. A Spool keeps up to ``chunk`` items in memory and pickles each full chunk to an
anonymous temporary file (deleted when the Spool is), so memory stays flat however many items it
holds. It can be iterated any number of times, in the order items were appended.
"""

from __future__ import annotations

import dataclasses
import gc
import operator
import pickle
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Generic, TypeVar

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


def spooled(cls: type[T]) -> type[T]:
    """A dataclass pickled as its constructor's arguments: a frozen dataclass with slots is
    otherwise pickled through its field list, item by item, which made up a third of a large dry
    run's time. Put it above `@dataclass`."""
    arguments = operator.attrgetter(*(field.name for field in dataclasses.fields(cls)))  # type: ignore[arg-type]

    def __reduce__(self: T) -> tuple:
        return cls, arguments(self)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]
    return cls


class Spool(Generic[T]):
    def __init__(self, items: Iterable[T] = (), chunk: int = CHUNK):
        self.chunk = chunk
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
        pickle.dump(self._buffer, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._spilled += len(self._buffer)
        self._buffer = []

    def __iter__(self) -> Iterator[T]:
        index = 0
        while index < len(self._offsets):  # chunks spilled meanwhile are read too
            assert self._file is not None
            self._file.seek(self._offsets[index])
            with collector_paused():
                chunk = pickle.load(self._file)
            index += 1
            yield from chunk
        yield from list(self._buffer)

    def __len__(self) -> int:
        return self._spilled + len(self._buffer)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __repr__(self) -> str:
        return f"Spool({len(self)} items)"

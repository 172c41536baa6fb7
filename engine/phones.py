"""Phone numbers parsed ahead: while one batch of records is decided, a helper process parses the
phone numbers of the next one.

Parsing and validating a number by libphonenumber's rules is the costliest single thing a run
does when it matches on phones, and it needs nothing but the text, so it runs well on a second
core. The results go into the cache `phone_e164` reads, which the match keys and the field
transforms then find. A run of one batch never starts the helper; if the helper fails, numbers
are parsed where they are needed, as without it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from engine.connectors import Record
from engine.expressions import known_phone, parse_phones, remember_phones


class PhonesAhead:
    def __init__(self, fields: list[Callable[[Any], Any]], region: str):
        self.fields = fields  # where a record keeps the numbers to parse (its phone match keys)
        self.region = region
        self.pool: ProcessPoolExecutor | None = None

    def batches(self, batches: Iterable[list[Record]]) -> Iterator[list[Record]]:
        """The same batches, each once its numbers are parsed; the next one's are parsed meanwhile."""
        pending: tuple[list[Record], Future | None, list[str]] | None = None
        try:
            for index, batch in enumerate(batches):
                submitted = self.submit(batch) if index > 0 else (None, [])
                if pending is not None:
                    yield self.collected(*pending)
                pending = (batch, *submitted)
            if pending is not None:
                yield self.collected(*pending)
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)

    def submit(self, batch: list[Record]) -> tuple[Future | None, list[str]]:
        if not self.fields or (os.cpu_count() or 1) < 2:
            return None, []
        texts = list(
            dict.fromkeys(
                text
                for record in batch
                for field in self.fields
                if (value := field(record.values)) not in (None, "")
                and not known_phone(text := str(value), self.region)
            )
        )
        if not texts:
            return None, []
        try:
            if self.pool is None:
                self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            return self.pool.submit(parse_phones, texts, self.region), texts
        except (BrokenProcessPool, OSError, RuntimeError):
            return None, []

    def collected(self, batch: list[Record], future: Future | None, texts: list[str]) -> list[Record]:
        if future is not None:
            try:
                parsed = future.result()
            except (BrokenProcessPool, OSError):
                return batch  # parsed where needed instead
            remember_phones({(text, self.region): e164 for text, e164 in zip(texts, parsed, strict=True)})
        return batch

"""Phone numbers: each distinct number parsed once per run, common forms without the parser, and
the numbers of the next batch parsed ahead on a second core.

Parsing and validating a number by libphonenumber's rules is the costliest single thing a run
does when it matches on phones. Two things keep it cheap. A North American number written one of
the usual ways (`(415) 555-0100`, `415.555.0100`, `+1 415 555 0100`) is read by a pattern and
checked by the library's own validity rules without its parser, which gives the same answer in a
third of the time (a property test holds the two equal over many regions). And while one batch
of records is decided, a helper process parses the other numbers of the next one; its results go
into the cache `phone_e164` reads, which the match keys and the field transforms then find. A run
of one batch never starts the helper; if the helper fails, numbers are parsed where they are
needed, as without it.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

import phonenumbers

if TYPE_CHECKING:
    from engine.connectors import Record

SENT_REMEMBERED = 20_000  # numbers the helper parsed lately, not sent to it again
# numbers remembered, the least recently used going first: the helper parses every pass's numbers
# ahead, so the cache serves those asked again soon (a key and its field, a shared company line)
PHONE_CACHE_SIZE = 50_000
_ahead: dict[tuple[str, str], str | None] = {}  # parsed by the helper, not asked for yet
# a North American number as people write it: +1 or 1 first or not, the area code in parentheses or not
_NANP_FORM = re.compile(
    r"\s*(\+1|1)?[\s.-]?(?:\(([2-9]\d\d)\)|([2-9]\d\d))[\s.-]?(\d{3})[\s.-]?(\d{4})\s*", re.ASCII
)
_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])  # the regions dialling +1
_NANP_MAIN = phonenumbers.region_code_for_country_code(1)


@functools.lru_cache(maxsize=PHONE_CACHE_SIZE)
def phone_e164(value: str, region: str) -> str | None:
    """E.164 form of a phone number, or None when it cannot be a valid number. Remembered: a
    run asks for the same number as a match key, then as a field value."""
    found = _ahead.pop((value, region), _ahead)
    return _parse_phone(value, region) if found is _ahead else found


def parse_phones(values: list[str], region: str) -> list[str | None]:
    """Many numbers at once (what a helper process runs for a batch of records)."""
    return [_parse_phone(value, region) for value in values]


def _parse_phone(value: str, region: str) -> str | None:
    form = _NANP_FORM.fullmatch(value)
    if form is not None and (form[1] == "+1" or region in _NANP_REGIONS):
        national = (form[2] or form[3]) + form[4] + form[5]
        number = phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
        return "+1" + national if _valid(number, _NANP_MAIN) else None
    return parse_phone_fully(value, region)


def parse_phone_fully(value: str, region: str) -> str | None:
    """A number read by libphonenumber's parser: any form, any region."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not _valid(number, phonenumbers.region_code_for_country_code(number.country_code)):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _valid(number: phonenumbers.PhoneNumber, main_region: str) -> bool:
    # valid for the country code's main region, the first the library tries, is valid: a fast path
    return phonenumbers.is_valid_number_for_region(number, main_region) or phonenumbers.is_valid_number(
        number
    )


class PhonesAhead:
    """The helper of one step run: it parses the numbers of each pass's next batch (the target
    side's read, the source side's, the target records left), and stops with the step."""

    def __init__(self, region: str):
        self.region = region
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> PhonesAhead:
        return self

    def __exit__(self, *_: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def batches(self, batches: Iterable[list[Record]], fields: list[Callable[[Any], Any]]) -> Iterator[list[Record]]:
        """The same batches, each once the numbers in its `fields` (where a record keeps the
        numbers to parse) are parsed; the next one's are parsed meanwhile."""
        sent: set[str] = set()  # numbers given to the helper lately: not sent again
        pending: tuple[list[Record], Future | None, list[str]] | None = None
        try:
            for index, batch in enumerate(batches):
                submitted = self.submit(batch, fields, sent) if index > 0 else (None, [])
                if pending is not None:
                    yield self.collected(*pending)
                pending = (batch, *submitted)
            if pending is not None:
                yield self.collected(*pending)
        finally:
            _ahead.clear()  # numbers parsed for records that never asked

    def submit(
        self, batch: list[Record], fields: list[Callable[[Any], Any]], sent: set[str]
    ) -> tuple[Future | None, list[str]]:
        if not fields or (os.cpu_count() or 1) < 2:
            return None, []
        texts = list(
            dict.fromkeys(
                text
                for record in batch
                for field in fields
                if (value := field(record.values)) not in (None, "") and (text := str(value)) not in sent
            )
        )
        if len(sent) > SENT_REMEMBERED:
            sent.clear()  # a run over a million numbers keeps no set of them all
        sent.update(texts)
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
            _ahead.clear()  # the last batch's leftovers: numbers its records found in the cache
            _ahead.update({(text, self.region): e164 for text, e164 in zip(texts, parsed, strict=True)})
        return batch

"""Phone numbers read without libphonenumber's parser (the common North American forms) give
exactly what the parser gives, over many regions and forms; the cache forgets the least used
numbers first, never all at once."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import phones
from engine.phones import _parse_phone, parse_phone_fully, phone_e164

REGIONS = ["US", "CA", "PR", "JM", "BS", "GB", "DE", "FR", "IN", "BR", "AU", "JP", "MX", "ZA", "IT", "CH"]
SEPARATORS = st.sampled_from(["", " ", "-", "."])


@st.composite
def written_numbers(draw) -> str:
    """A ten-digit number written as people write North American numbers, any digits at all."""
    area, exchange, line = draw(st.from_regex(r"\d{3}", fullmatch=True)), draw(
        st.from_regex(r"\d{3}", fullmatch=True)
    ), draw(st.from_regex(r"\d{4}", fullmatch=True))
    if draw(st.booleans()):
        area = f"({area})"
    prefix = draw(st.sampled_from(["", "1", "+1", "+"]))
    text = prefix + draw(SEPARATORS) + area + draw(SEPARATORS) + exchange + draw(SEPARATORS) + line
    return draw(st.sampled_from(["", " "])) + text + draw(st.sampled_from(["", " "]))


@settings(max_examples=3000, deadline=None)
@given(text=written_numbers(), region=st.sampled_from(REGIONS))
def test_a_common_form_gives_what_the_parser_gives_in_any_region(text, region):
    assert _parse_phone(text, region) == parse_phone_fully(text, region)


def test_every_regions_example_numbers_in_every_format_give_what_the_parser_gives():
    formats = (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
               phonenumbers.PhoneNumberFormat.NATIONAL)  # fmt: skip
    compared = 0
    for home in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number(home)
        if example is None:
            continue
        for written in (phonenumbers.format_number(example, form) for form in formats):
            for region in (home, "US", "GB"):
                assert _parse_phone(written, region) == parse_phone_fully(written, region), (written, region)
                compared += 1
    assert compared > 1500


def test_the_cache_forgets_the_least_used_numbers_first_never_all_at_once():
    phone_e164.cache_clear()
    numbers = [f"+1 415 {200 + n // 10_000:03d} {n % 10_000:04d}" for n in range(phones.PHONE_CACHE_SIZE + 1)]
    for text in numbers[:-1]:
        phone_e164(text, "US")
    phone_e164(numbers[0], "US")  # used again: now the most recent
    phone_e164(numbers[-1], "US")  # one too many: the least recently used goes
    before = phone_e164.cache_info()
    phone_e164(numbers[0], "US")
    phone_e164(numbers[2], "US")
    after = phone_e164.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (2, 0)
    phone_e164(numbers[1], "US")
    assert phone_e164.cache_info().misses == after.misses + 1

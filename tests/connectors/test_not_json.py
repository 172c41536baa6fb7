"""A record whose values JSON cannot hold fails alone, before any request: `not_json` says so
exactly when writing the values out as UTF-8 JSON would fail, however it checks them."""

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from engine.connectors import not_json

TEXT = st.text(alphabet=st.characters(codec=None, blacklist_categories=()), max_size=6)  # lone surrogates too
VALUES = st.none() | st.booleans() | st.integers() | st.floats() | TEXT | st.lists(TEXT, max_size=2)
KEYS = TEXT | st.integers()


def writes_out(values: dict) -> bool:
    try:
        json.dumps(values, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (ValueError, TypeError):
        return False
    return True


@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_not_json_says_why_exactly_when_the_values_cannot_be_written(values):
    assert (not_json(values) is None) == writes_out(values)


def test_a_lone_surrogate_in_a_key_or_a_value_and_a_nan_are_named():
    for values in ({"name": "Ana\udc80"}, {"na\ud800me": "Ana"}, {"score": math.nan}):
        reason = not_json(values)
        assert reason is not None and reason.startswith("its values cannot be sent as JSON")

"""Journal batches and agreed values are stored as the json module would write them, however
they are written: a value read back is the same, keys in the same order, and a time or a NaN
keeps its spelling (a stored value compared with one written by an older syncmap agrees)."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from engine.state.records import stored_json

TEXT = st.text(alphabet=st.characters(codec=None, blacklist_categories=()), max_size=6)  # lone surrogates too
PLAIN = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
OTHER = st.datetimes(timezones=st.just(UTC)) | st.dates() | st.decimals(allow_nan=False) | st.lists(PLAIN, max_size=2)
VALUES = st.recursive(
    PLAIN | OTHER,
    lambda inner: st.dictionaries(TEXT, inner, max_size=3) | st.lists(inner, max_size=3) | st.tuples(inner, inner),
    max_leaves=8,
)


def read_back(text: str) -> list:
    return json.loads(text, object_pairs_hook=list)


@given(
    st.dictionaries(TEXT, VALUES, max_size=5) | st.dictionaries(TEXT, PLAIN, max_size=5) | st.lists(VALUES, max_size=4),
    st.booleans(),
)
def test_stored_json_reads_back_as_the_json_module_writes_it(data, sort_keys):
    expected = read_back(json.dumps(data, sort_keys=sort_keys, default=str))
    assert repr(read_back(stored_json(data, sort_keys))) == repr(expected)  # repr: NaN equals NaN


def test_times_and_not_a_number_keep_the_json_modules_spelling():
    data = {"at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "on": date(2026, 1, 2)}
    assert stored_json(data) == '{"at": "2026-01-02 03:04:00+00:00", "on": "2026-01-02"}'
    assert stored_json({"name": "Ana", "n": float("nan")}) == '{"name": "Ana", "n": NaN}'
    assert stored_json({"b": {"z": 1, "a": Decimal("1.5")}, "a": "x"}, sort_keys=True) == (
        '{"a": "x", "b": {"a": "1.5", "z": 1}}'
    )

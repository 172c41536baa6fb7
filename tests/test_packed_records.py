"""The target records a step holds whole are packed: each reads back as the record read,
whatever its values hold, and one MessagePack cannot hold is kept as it is."""

import math

from hypothesis import given
from hypothesis import strategies as st

from engine.connectors import Record
from engine.run.packed import PackedRecords

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(values=st.dictionaries(st.text(max_size=8), VALUES, max_size=6), modified=st.none() | st.text(max_size=30))
def test_a_record_reads_back_as_it_was_read(values, modified):
    held = PackedRecords()
    record = Record("Lead", "L1", values, modified)
    held.add(record)
    assert held["L1"] == record and list(held) == ["L1"] and len(held) == 1 and "L1" in held


def test_what_msgpack_cannot_hold_is_kept_as_it_is():
    held = PackedRecords()
    records = [
        Record("Lead", "big", {"n": 2**70}),  # an integer past 64 bits
        Record("Lead", "gone", {}, deleted=True),
        Record("Lead", "part", {"a": 1}, unreadable="`b` is past year 9999"),
        Record("Lead", "nan", {"x": math.inf}),
    ]
    for record in records:
        held.add(record)
    assert [held[record.id] for record in records] == records
    assert held.get("missing") is None


def test_records_added_between_reads_read_back_each_as_it_was():
    held = PackedRecords()
    for n in range(300):
        held.add(Record("Lead", f"L{n}", {"n": n, "name": "x" * n}, f"2026-12-0{n % 9 + 1}"))
        assert held[f"L{n // 2}"].values == {"n": n // 2, "name": "x" * (n // 2)}
    assert [held[f"L{n}"].modified for n in range(3)] == ["2026-12-01", "2026-12-02", "2026-12-03"]

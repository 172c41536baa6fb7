"""Runs larger than one batch: decisions spill to disk, and matching is the same across batches."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st

from engine.changeset import Streamed, _json_line, write_json
from engine.run import BATCH
from engine.spool import Spool


def test_a_spool_spills_to_disk_and_reads_back_in_order_any_number_of_times():
    spool = Spool(chunk=3)
    spool.extend({"n": n} for n in range(8))
    assert len(spool) == 8 and spool._spilled == 6, "two full chunks went to disk"
    first = list(spool)
    assert first == [{"n": n} for n in range(8)] and list(spool) == first
    seen = []
    for item in spool:  # appending while reading: the reader keeps its place
        seen.append(item["n"])
        if item["n"] == 1:
            spool.extend({"n": n} for n in range(8, 12))
    assert seen == list(range(12)), "items appended while reading are read too, none lost"
    assert [item["n"] for item in spool] == list(range(12))


def test_matching_and_conflicts_are_the_same_across_batches(stores, open_job):
    platform, crm = stores
    count = 2 * BATCH + 100  # three batches of source records
    platform.seed(
        "contacts",
        [{"id": f"p{i}", "first_name": f"P{i}", "phone": f"+1415{200 + i // 10000:03d}{i % 10000:04d}"}
         for i in range(count)],
    )  # fmt: skip
    last = count - 1
    crm.seed(
        "Lead",
        [
            {"id": "L1", "FirstName": "P0", "MobilePhone": "+14152000000"},  # matches p0, in batch 1
            {"id": "L2", "FirstName": "Late", "MobilePhone": f"+1415200{last:04d}"},  # p<last>, batch 3
        ],
    )
    platform.seed("contacts", [{"id": "dup", "first_name": "Dup", "phone": "(415) 200-0000"}])  # read last
    changeset = open_job().plan_changes()
    changes = list(changeset.steps[0].changes)
    links = sorted((c.record_id, c.origin) for c in changes if c.action == "link")
    assert links == [("L1", "contacts p0"), ("L2", f"contacts p{last}")]
    conflicts = [c for c in changes if c.action == "conflict"]
    assert [(c.record_id, "already linked to another record in this run" in c.reason) for c in conflicts] == [
        ("dup", True)
    ]
    creates = [c for c in changes if c.action == "create"]
    assert len(creates) == count - 2, "every other contact is created once"
    assert {c.values["MobilePhone"] for c in creates} >= {"+14152000001", f"+1415200{last - 1:04d}"}, (
        "phones parsed ahead in the helper process are the same as parsed in place"
    )
    assert changeset.counts()["create"] == count - 2


def test_target_records_of_many_batches_match_by_numbers_parsed_ahead(stores, open_job):
    """The target side's read and the pass over the target records left parse the numbers of
    their next batch in the helper process too: what they find is what parsing in place finds."""
    platform, crm = stores
    count = 2 * BATCH + 100  # three batches of target records, each pass
    crm.seed(
        "Lead",
        [{"id": f"L{i}", "FirstName": f"L{i}", ("MobilePhone" if i % 2 else "Phone"): f"(415) {300 + i // 10000}-{i % 10000:04d}"}
         for i in range(count)] + [{"id": "bad", "FirstName": "Bad", "MobilePhone": "(415) 100-0000"}],
    )  # fmt: skip
    last = count - 1
    platform.seed("contacts", [{"id": "p", "first_name": "P", "phone": f"+1415300{last:04d}"}])
    changes = list(open_job().plan_changes().steps[0].changes)
    assert [(c.record_id, c.origin) for c in changes if c.action == "link"] == [(f"L{last}", "contacts p")]
    created = {c.origin for c in changes if c.action == "create" and c.side == "source"}
    assert created == {f"Lead L{i}" for i in range(count - 1)}, "every other Lead makes one contact"
    assert [(c.record_id, c.code) for c in changes if c.action == "skip"] == [("bad", "filtered")]


def test_json_is_written_one_change_per_line_and_reads_back_whole():
    def changes():
        return ({"n": n, "name": "Ana María"} for n in range(3))

    data = {"job": "j", "empty": [], "nested": {"a": [1, {"b": None}]}, "changes": Streamed(changes, 3),
            "none": Streamed(lambda: iter(()), 0)}  # fmt: skip
    out = io.StringIO()
    write_json(data, out)
    expected = {**data, "changes": list(changes()), "none": []}
    assert json.loads(out.getvalue()) == expected
    assert '\n    {"n": 1, "name": "Ana Mar\\u00eda"},\n' in out.getvalue(), "one change per line"
    assert json.loads(json.dumps(data)) == expected, "json.dumps copies a Streamed list whole"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_a_change_line_holds_what_the_json_module_would_write(value):
    """A plan's JSON lines are written by msgspec, not the json module: the same data, as ASCII,
    and the same text but for how a float's exponent is spelled (`1e16`, not `1e+16`). (A value no
    other system can hold, NaN or an infinity, makes its record unreadable: no change carries it.)"""
    line = _json_line({"values": value})
    assert line.isascii() and "\n" not in line
    assert json.loads(line) == json.loads(json.dumps({"values": value}))
    if not _exponent_in(value):
        assert line == json.dumps({"values": value})


def _exponent_in(value) -> bool:
    if isinstance(value, float):
        return "e" in repr(value)
    if isinstance(value, dict):
        return any(_exponent_in(item) for item in value.values())
    return isinstance(value, list) and any(_exponent_in(item) for item in value)

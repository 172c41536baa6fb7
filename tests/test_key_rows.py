"""The match-key overlay keeps each record's row packed in one string: whatever an id or a type
holds (separators, digits, the partnered mark), the row read back is the row put in."""

from hypothesis import given
from hypothesis import strategies as st

from engine.connectors import Record
from engine.run.keys import PARTNERED, _packed, _row

texts = st.text(alphabet=st.sampled_from(["a", "1", ":", "+", "*", "\x00", " ", "é", "0"]), max_size=12)


@given(record_type=texts, record_id=texts, modified=st.none() | texts, partnered=st.booleans())
def test_a_packed_row_reads_back_as_it_was(record_type, record_id, modified, partnered):
    packed = _packed(Record(record_type, record_id, {}, modified=modified))
    assert _row(PARTNERED + packed if partnered else packed) == (record_type, record_id, modified)

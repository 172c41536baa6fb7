"""The memory connector's own promises: private and named stores (the rest is in test_store_semantics)."""

from __future__ import annotations

import pytest

from engine.connectors import Registry, Write
from engine.connectors.memory import STORES, MemoryConnector
from engine.errors import ConnectorError


def test_a_store_name_shares_records_between_connectors(tmp_path):
    seeded = MemoryConnector({"store": "crm"}).seed("contacts", [{"id": "1", "name": "Ada"}])
    runner_side = Registry().open("memory", {"store": "crm"}, tmp_path)
    assert runner_side.get("contacts", ["1"])["1"].values["name"] == "Ada"
    runner_side.write("contacts", [Write("r", "create", "contacts", values={"id": "2"})])
    assert [r.id for r in seeded.read("contacts")] == ["1", "2"]
    assert STORES["crm"] is seeded.store is runner_side.store


def test_connectors_without_a_store_name_keep_to_themselves():
    first = MemoryConnector().seed("contacts", [{"id": "1"}])
    assert MemoryConnector().get("contacts", ["1"]) == {}
    assert MemoryConnector({"store": "other"}).get("contacts", ["1"]) == {}
    assert list(first.get("contacts", ["1"])) == ["1"]


def test_stamps_strictly_increase_across_connectors_on_one_store():
    first, second = MemoryConnector({"store": "s"}), MemoryConnector({"store": "s"})
    for i in range(200):
        connector = first if i % 2 else second
        connector.write("contacts", [Write(str(i), "create", "contacts", values={"id": str(i)})])
    stamps = [r.modified for r in first.read("contacts")]
    assert [r.id for r in first.read("contacts")] == [str(i) for i in range(200)]
    assert stamps == sorted(set(stamps))


def test_seed_keeps_ids_and_times_and_marks_tombstones():
    connector = MemoryConnector().seed(
        "contacts",
        [{"id": 7, "updated_at": "2026-01-01T00:00:00Z"}, {"name": "no id"}, {"id": "x", "_deleted": True}],
    )
    records = connector.records("contacts")
    assert records[0].id == "7" and records[0].modified == "2026-01-01T00:00:00.000000+00:00"
    assert records[0].values == {"id": "7", "updated_at": "2026-01-01T00:00:00.000000+00:00"}
    assert len(records[1].id) == 32 and records[1].values["name"] == "no id"
    assert records[2].deleted and "_deleted" not in records[2].values


def test_unknown_settings_are_reported():
    with pytest.raises(ConnectorError) as error:
        MemoryConnector({"stor": "crm"})
    assert (error.value.message, error.value.hint) == (
        "unknown memory setting `stor`",
        "did you mean `store`?",
    )


def test_repr_reads_back_as_what_built_it():
    assert repr(MemoryConnector({"store": "crm"})) == "MemoryConnector({'store': 'crm'})"
    assert repr(MemoryConnector()) == "MemoryConnector()"

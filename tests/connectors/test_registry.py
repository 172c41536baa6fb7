"""Finding connectors: the built-in entry points, unknown names, and factories given by tests."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from engine.connectors import ENTRY_POINT_GROUP, ObjectInfo, Registry
from engine.connectors.jsonl import JsonlConnector
from engine.connectors.memory import MemoryConnector
from engine.connectors.sqlite import SqliteConnector
from engine.errors import ConnectorError


def test_the_built_in_connectors_are_installed_entry_points():
    points = {point.name: point.load() for point in entry_points(group=ENTRY_POINT_GROUP)}
    assert {name: points.get(name) for name in ("sqlite", "jsonl", "memory")} == {
        "sqlite": SqliteConnector,
        "jsonl": JsonlConnector,
        "memory": MemoryConnector,
    }
    assert {"sqlite", "jsonl", "memory"} <= set(Registry().names())


def test_the_registry_opens_each_built_in_connector(tmp_path):
    (tmp_path / "fixtures").mkdir()
    registry = Registry()
    sqlite = registry.open("sqlite", {"path": "platform.db"}, tmp_path)
    assert isinstance(sqlite, SqliteConnector) and sqlite.path == tmp_path / "platform.db"
    assert isinstance(registry.open("jsonl", {"path": "fixtures"}, tmp_path), JsonlConnector)
    assert isinstance(registry.open("memory", {}, tmp_path), MemoryConnector)
    sqlite.close()


def test_an_unknown_name_suggests_the_closest_connector():
    with pytest.raises(ConnectorError) as error:
        Registry().factory("sqlit")
    assert (error.value.message, error.value.hint) == ("unknown connector `sqlit`", "did you mean `sqlite`?")
    assert error.value.exit_code == 3


def test_an_unknown_name_with_nothing_close_lists_the_installed_connectors():
    with pytest.raises(ConnectorError) as error:
        Registry(factories={"fake": FakeConnector}, discover=False).open("zzzzzz", {}, Path())
    assert error.value.hint == "installed connectors: fake"


class FakeConnector:
    """A third-party connector as a plugin package would ship it."""

    def __init__(self, settings: dict, base_dir: Path):
        self.settings, self.base_dir = settings, base_dir

    def describe(self, object_type: str) -> ObjectInfo:
        return ObjectInfo(object_type, {})


def test_a_factory_given_directly_needs_no_entry_point(tmp_path):
    registry = Registry(factories={"hubspot": FakeConnector}, discover=False)
    connector = registry.open("hubspot", {"token": "t"}, tmp_path)
    assert isinstance(connector, FakeConnector)
    assert (connector.settings, connector.base_dir) == ({"token": "t"}, tmp_path)
    assert registry.names() == ["hubspot"]


def test_a_given_factory_wins_over_an_entry_point_of_the_same_name(tmp_path):
    registry = Registry(factories={"sqlite": FakeConnector})
    assert isinstance(registry.open("sqlite", {}, tmp_path), FakeConnector)
    assert {"sqlite", "jsonl", "memory"} <= set(registry.names())

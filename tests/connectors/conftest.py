"""The two writable connectors promise the same semantics, so their shared tests run on both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.connectors.memory import MemoryConnector, drop_stores
from engine.connectors.sqlite import SqliteConnector


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteConnector | MemoryConnector]:
    """A fresh, empty writable connector: a SQLite file in tmp_path, or a private memory store."""
    connector = (
        SqliteConnector({"path": "store.db"}, tmp_path) if request.param == "sqlite" else MemoryConnector()
    )
    yield connector
    connector.close()


@pytest.fixture(autouse=True)
def _forget_named_stores() -> Iterator[None]:
    yield
    drop_stores()

"""Sandboxes for the sandbox tests: one shared org with custom objects, one seeded org with a
fixed clock for SOQL cases. Every test talks to them through the real simple-salesforce client."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from simple_salesforce import Salesforce

from engine.sandbox import Sandbox

DATA = Path(__file__).parent / "data"
SOQL_TODAY = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    with Sandbox(describe_file=DATA / "describe.json", page_size=50) as running:
        yield running


@pytest.fixture(scope="session")
def sf(sandbox: Sandbox) -> Salesforce:
    return sandbox.client()


@pytest.fixture(scope="session")
def soql_sandbox() -> Sandbox:
    with Sandbox(
        seed=[DATA / "soql_seed.json"],
        describe_file=DATA / "describe.json",
        page_size=2,
        clock=lambda: SOQL_TODAY,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def soql_sf(soql_sandbox: Sandbox) -> Salesforce:
    return soql_sandbox.client()


@pytest.fixture
def fresh_sandbox() -> Sandbox:
    """A sandbox of its own, for tests that change faults or count calls."""
    with Sandbox(page_size=10) as running:
        yield running

"""The format of a mapping test file (`*.test.yaml`): records on each side, links already made,
and the changes a run must plan. `syncmap test` runs them; the published schema comes from here."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpectedChange(Strict):
    """A change the case expects; only what it names is compared."""

    side: Literal["source", "target"] | None = Field(None, description="Where the change happens.")
    type: str | None = Field(None, description="The record type, e.g. `Lead`.")
    id: str | None = Field(
        None, description="The record's id (for a create: the id of the record it comes from)."
    )
    values: dict[str, Any] | None = Field(None, description="Values written, field by field.")
    reason: str | None = Field(None, description="Why (a skip's or a conflict's reason).")


class ExistingLink(Strict):
    """A pair linked before the case runs, as an earlier run would have left it."""

    source: str = Field(description="The source record's id.")
    target: str = Field(description="The target record's id.")
    source_type: str | None = Field(None, description="The source record's type (default: the object's).")
    target_type: str | None = Field(None, description="The target record's type (default: the object's).")
    synced: dict[str, Any] | None = Field(None, description="The values both sides last agreed on.")


class Case(Strict):
    """One test: records on each side, links already made, and the changes a run must plan."""

    name: str = Field(description="What the case shows, as the report names it.")
    given: dict[str, dict[str, list[dict[str, Any]]]] = Field(
        description="The records of each connection, by record type."
    )
    links: dict[str, list[ExistingLink]] = Field({}, description="Links already made, by object.")
    expect: dict[
        str, dict[Literal["create", "update", "delete", "link", "skip", "conflict"], list[ExpectedChange]]
    ] = Field(description="The changes the run must plan, by object and kind.")


class TestFile(Strict):
    """A file of mapping tests (`*.test.yaml`), run by `syncmap test`."""

    syncmap_test: Literal[1] = Field(description="The version of the test file format: 1.")
    mapping: str = Field(description="The mapping document under test, relative to this file.")
    tests: list[Case] = Field(description="The cases, each run on its own.")

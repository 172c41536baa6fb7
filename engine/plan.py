"""The Plan: what a set of mapping documents means, compiled once, frozen, and hashed.

A Plan holds no YAML and no parsing work: every expression is already compiled, steps are in
dependency order, and defaults are filled in. Its ``hash`` covers meaning only (not comments,
key order or file locations), so a saved preview can tell whether the mapping changed under it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from engine.diagnostics import Diagnostic, Location
from engine.errors import DocumentError, SettingError
from engine.expressions import CompiledExpression

Scalar = str | int | float | bool | None
FLOWS = {
    "both": ("to_target", "to_source"),
    "to_target": ("to_target",),
    "to_source": ("to_source",),
    "none": (),
}


@dataclass(frozen=True)
class Connection:
    name: str
    connector: str
    settings: tuple[tuple[str, Any], ...] = ()
    location: Location | None = field(default=None, compare=False)  # of its `settings`
    # where each nested setting is written (`objects.contacts.list.path`), for located errors
    setting_locations: tuple[tuple[str, Location], ...] = field(default=(), compare=False)

    def locate(self, setting: str) -> Location | None:
        """Where a setting (a dotted path) is written: it, or its nearest written parent."""
        found = dict(self.setting_locations)
        parts = setting.split(".")
        while parts:
            if ".".join(parts) in found:
                return found[".".join(parts)]
            parts.pop()
        return self.location

    def located(self, error: SettingError) -> DocumentError:
        """A setting naming what does not exist, as an error where the document writes it."""
        path = ("connections", self.name, "settings", *error.setting.split("."))
        return DocumentError(
            [Diagnostic("connection-setting", error.message, self.locate(error.setting), path, error.hint)]
        )


@dataclass(frozen=True)
class Side:
    connection: str
    types: tuple[str, ...]
    priority: str | None = None
    create_as: str | None = None
    id_field: str | None = None
    modified_field: str | None = None
    where: str | None = None
    modified_within_seconds: int | None = None
    find_hard_deletes: bool = False  # linked records the read did not bring are looked up by id
    deleted_field: str | None = None
    query: str | None = None
    where_location: Location | None = field(default=None, compare=False)
    object_location: Location | None = field(default=None, compare=False)
    query_location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Directions:
    create: str
    update: str

    def allows(self, flow: str) -> bool:
        return flow in FLOWS[self.create] or flow in FLOWS[self.update]

    def only(self, flow: str) -> Directions:
        """These directions kept to one flow (`to_target` or `to_source`)."""
        return Directions(*(flow if flow in FLOWS[way] else "none" for way in (self.create, self.update)))


@dataclass(frozen=True)
class MatchKey:
    source: CompiledExpression
    target_fields: tuple[str, ...]
    normalize: str


@dataclass(frozen=True)
class Filter:
    side: str
    require: CompiledExpression
    reason: str
    rule: str | None = None
    unlink: bool = False  # a linked record failing it loses its link


@dataclass(frozen=True)
class Lookup:
    object: str
    by: str


@dataclass(frozen=True)
class FieldRule:
    """One target field: where its value comes from, and when and which way it flows."""

    target: str
    directions: Directions
    source: CompiledExpression | None = None
    value: Scalar = None
    compute: CompiledExpression | None = None
    template: CompiledExpression | None = None
    transform: CompiledExpression | None = None
    value_map: tuple[tuple[str, Scalar], ...] | None = None
    default: Scalar = None
    create_only: bool = False
    optional: bool = False
    types: tuple[str, ...] | None = None
    conflict: str | None = None
    link: str | None = None
    lookup: Lookup | None = None
    location: Location | None = field(default=None, compare=False)
    # the value map as a look-up each way, made once (not part of what the plan says or hashes)
    mapped: dict[str, Scalar] | None = field(default=None, init=False, compare=False, repr=False)
    unmapped: dict[str, str] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.value_map is not None:
            object.__setattr__(self, "mapped", dict(self.value_map))
            object.__setattr__(self, "unmapped", {str(target): source for source, target in self.value_map})


@dataclass(frozen=True)
class Conflicts:
    first_match: str
    ambiguous: str
    concurrent_edit: str
    duplicates: str = "hold"
    invalid_key: str = "skip"


@dataclass(frozen=True)
class Deletes:
    to_target: str
    to_source: str


@dataclass(frozen=True)
class Parent:
    object: str
    when_missing: str


@dataclass(frozen=True)
class Limits:
    """The most writes of each kind a run may make to one side of an object: a number, or a
    percentage (`"20%"`) of the records that side holds."""

    creates: int | str | None = None
    updates: int | str | None = None
    deletes: int | str | None = None


@dataclass(frozen=True)
class Step:
    """One synced object, run as one step of the plan."""

    name: str
    source: Side
    target: Side
    directions: Directions
    match: tuple[MatchKey, ...]
    filters: tuple[Filter, ...]
    fields: tuple[FieldRule, ...]
    conflicts: Conflicts
    deletes: Deletes
    parent: Parent | None
    mode: str
    depends_on: tuple[str, ...]
    description: str | None = None
    limits: Limits | None = None

    def only(self, flow: str) -> Step:
        """This step with every direction (object, fields, deletes) kept to one flow: a push
        (`to_target`) or a pull (`to_source`)."""
        return dataclasses.replace(
            self,
            directions=self.directions.only(flow),
            fields=tuple(
                dataclasses.replace(rule, directions=rule.directions.only(flow)) for rule in self.fields
            ),
            deletes=Deletes(
                self.deletes.to_target if flow == "to_target" else "ignore",
                self.deletes.to_source if flow == "to_source" else "ignore",
            ),
        )


@dataclass(frozen=True)
class Defaults:
    phone_region: str
    timezone: str


@dataclass(frozen=True)
class Plan:
    """The compiled, immutable form of one mapping document and everything it extends or uses."""

    name: str
    version: int
    defaults: Defaults
    connections: tuple[Connection, ...]
    steps: tuple[Step, ...]
    value_maps: tuple[tuple[str, tuple[tuple[str, Scalar], ...]], ...] = ()
    schedule: str | None = None
    description: str | None = None
    files: tuple[str, ...] = field(default=(), compare=False)
    hash: str = field(default="", compare=False)

    def connection(self, name: str) -> Connection:
        return next(connection for connection in self.connections if connection.name == name)

    @contextmanager
    def settings_located(self, connection: str) -> Iterator[None]:
        """A request that a setting of ``connection`` makes wrong (a path the API does not have)
        becomes an error where the document writes that setting."""
        try:
            yield
        except SettingError as e:
            raise self.connection(connection).located(e) from None

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)

    def translates_through(self, name: str) -> bool:
        """Whether any step translates ids through the links of step ``name`` (`link:` fields,
        or `parent:`), and so needs the links that step plans before they are saved."""
        return any(
            (step.parent is not None and step.parent.object == name)
            or any(rule.link == name for rule in step.fields)
            for step in self.steps
        )


def plan_data(value: Any) -> Any:
    """Plain data for a Plan (or any part of it): what `syncmap compile` prints and the hash covers."""
    if isinstance(value, CompiledExpression):
        return value.text
    if dataclasses.is_dataclass(value):
        return {
            f.name: plan_data(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.compare and getattr(value, f.name) is not None and not _is_empty_default(value, f)
        }
    if (
        isinstance(value, tuple)
        and value
        and all(isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) for item in value)
    ):
        return {key: plan_data(item) for key, item in value}
    if isinstance(value, tuple):
        return [plan_data(item) for item in value]
    return value


def _is_empty_default(obj: Any, f: dataclasses.Field) -> bool:
    """Leave out optional parts that are unset, so the printed plan stays readable."""
    current = getattr(obj, f.name)
    return f.default is not dataclasses.MISSING and current == f.default and current in (None, False, ())


def content_hash(plan: Plan) -> str:
    canonical = json.dumps(plan_data(plan), sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

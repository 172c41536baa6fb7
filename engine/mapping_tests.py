"""Mapping tests: `syncmap test` runs the test files written next to a mapping.

A test file (`*.test.yaml`) names its mapping and lists cases. Each case gives the records on
each connection, optionally the links that already exist, and the changes expected per object:

    syncmap_test: 1
    mapping: contacts.yaml
    tests:
      - name: a new platform contact becomes a Lead
        given:
          platform: {contacts: [{id: p1, first_name: Ana, phone: "(415) 555-0100"}]}
          salesforce: {Lead: [], Contact: []}
        expect:
          contacts:
            create: [{side: target, type: Lead, values: {FirstName: Ana, MobilePhone: "+14155550100"}}]

Every connection is replaced by an in-memory store holding exactly the given records, so a test
needs no database, org or secret. An expected change matches an actual one when every key it
states is equal (`values` may list only some fields; `reason` matches a part of the reason).
The actions a case lists must match exactly, one actual change per expected one; an action it
does not list (`create`, `update`, `delete`, `skip`, `conflict`) must not happen; `link` is only
checked when listed. A side's `where` query is not run: give only the records it would return.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.changeset import Change
from engine.compile import compile_plan
from engine.connectors import Registry, factory_capabilities
from engine.connectors.memory import MemoryConnector
from engine.errors import ConnectorError, UsageError
from engine.job import Job
from engine.plan import Connection, Plan
from engine.state import Link, StateStore
from engine.testfile import Case, ExpectedChange, TestFile

CHECKED = ("create", "update", "delete", "skip", "conflict")
_ABSENT = object()  # a field the change does not write
store_names = itertools.count()


@dataclass
class Outcome:
    file: Path
    case: str
    problems: list[str] = field(default_factory=list)  # empty when the case passed

    @property
    def passed(self) -> bool:
        return not self.problems


def find_test_files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths or [Path(".")]:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.test.yaml") if ".syncmap" not in p.parts)
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{path} does not exist", hint="give test files or folders holding *.test.yaml")
    return found


def run_file(path: Path) -> list[Outcome]:
    spec = _read(path)
    plan = _in_memory(compile_plan((path.parent / spec.mapping).resolve()))
    return [run_case(plan, path, case) for case in spec.tests]


def _in_memory(plan: Plan) -> Plan:
    """The plan without its `where` queries: the in-memory stores hold only the given records,
    which are the ones the query would return."""
    steps = tuple(
        dataclasses.replace(
            step,
            source=dataclasses.replace(step.source, where=None),
            target=dataclasses.replace(step.target, where=None),
        )
        for step in plan.steps
    )
    return dataclasses.replace(plan, steps=steps)


def run_case(plan: Plan, path: Path, case: Case) -> Outcome:
    outcome = Outcome(path, case.name)
    unknown = [name for name in case.given if name not in {c.name for c in plan.connections}]
    steps = {step.name: step for step in plan.steps}
    unknown += [name for name in [*case.expect, *case.links] if name not in steps]
    if unknown:
        outcome.problems.append(f"unknown connection or object: {', '.join(unknown)}")
        return outcome
    connectors = {
        connection.name: _memory(connection, case.given.get(connection.name, {}))
        for connection in plan.connections
    }
    with tempfile.TemporaryDirectory() as folder:
        state = StateStore(Path(folder) / "state.db")
        for object_name, links in case.links.items():
            step = steps[object_name]
            for link in links:
                state.save_link(plan.name, object_name, Link(
                    link.source_type or step.source.types[0], link.source, link.target_type or step.target.types[0],
                    link.target, "test",
                ))  # fmt: skip
                if link.synced is not None:
                    state.save_snapshot(plan.name, object_name, link.source, link.synced)
        job = Job(plan, connectors, state)
        try:
            changeset = job.plan_changes()
        finally:
            job.close()
    actual = {step.step: list(step.changes) for step in changeset.steps}
    for object_name in steps:
        expected = case.expect.get(object_name, {})
        for action in dict.fromkeys([*CHECKED, *expected]):
            wanted = expected.get(action, [])
            got = [
                c
                for c in actual.get(object_name, [])
                if c.action == action and (c.counted or action != "skip")
            ]
            outcome.problems += _compare(object_name, action, wanted, got)
    return outcome


def _memory(connection: Connection, records: dict[str, list[dict[str, Any]]]) -> MemoryConnector:
    settings = dict(connection.settings)
    id_field, modified_field = _system_fields(connection.connector)
    fields = {
        "id_field": settings.get("id_field", id_field),
        "modified_field": settings.get("modified_field", modified_field),
    }
    connector = MemoryConnector(
        {
            "store": f"syncmap-test-{next(store_names)}",
            **{name: value for name, value in fields.items() if value},
        }
    )
    for record_type, rows in records.items():
        connector.seed(record_type, rows)
    return connector


@functools.cache
def _system_fields(connector: str) -> tuple[str, str | None]:
    """The id and modified fields a connector declares, so given records look as they would there
    (looked up once: finding a connector reads the installed packages' entry points)."""
    try:
        factory = Registry().factory(connector)
    except ConnectorError:
        return "id", "updated_at"
    declared = factory_capabilities(factory)
    return declared.default_id_field, declared.default_modified_field


def _compare(object_name: str, action: str, wanted: list[ExpectedChange], got: list[Change]) -> list[str]:
    unmatched = list(got)
    missing = []
    for expected in wanted:
        match = next((change for change in unmatched if _matches(expected, change)), None)
        if match is None:
            missing.append(expected)
        else:
            unmatched.remove(match)
    problems = [f"{object_name}: expected {action} {_expected_text(item)}, not found" for item in missing]
    problems += [f"{object_name}: unexpected {_actual_text(change)}" for change in unmatched]
    return problems


def _matches(expected: ExpectedChange, change: Change) -> bool:
    if expected.side and expected.side != change.side:
        return False
    if expected.type and expected.type != change.record_type:
        return False
    if expected.id and expected.id != change.record_id:
        return False
    if expected.reason and expected.reason not in (change.reason or ""):
        return False
    written = {f.field: f.new for f in change.field_changes()}
    return all(written.get(name, _ABSENT) == value for name, value in (expected.values or {}).items())


def _expected_text(expected: ExpectedChange) -> str:
    return _inline(expected.model_dump(exclude_none=True))


def _actual_text(change: Change) -> str:
    text = f"{change.action} {change.side} {change.record_type} {change.record_id or '(new)'}"
    if fields := change.field_changes():
        text += " " + _inline({f.field: f.new for f in fields})
    if change.reason:
        text += f" ({change.reason})"
    return text


def _inline(data: dict[str, Any]) -> str:
    """YAML on one line, as a test file would write it."""
    return yaml.safe_dump(data, default_flow_style=True, sort_keys=False, width=1_000_000).strip()


def _read(path: Path) -> TestFile:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"{path}: not a readable YAML test file: {e}") from e
    try:
        return TestFile.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UsageError(
            f"{path}: {where}: {first['msg']}",
            hint="a test file has `syncmap_test: 1`, `mapping:` and `tests:` (see `syncmap test --help`)",
        ) from e

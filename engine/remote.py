"""Check a Plan against the systems it connects, before anything is read or written.

Every `plan` and `apply` starts here (and `syncmap compile --check-remote` asks for it): each
target connector describes the record types the plan names, and where its describe is
authoritative (Salesforce's, a database catalogue) the plan is refused, at the place in the
document, for an object or field that does not exist (with did-you-mean), a value that cannot be
set in the direction it flows, a reference given a raw value instead of an id translated through
`link` or `lookup`, or a field a new record needs that nothing gives a value. A system that
cannot answer is a connector failure, not a document error.
"""

from __future__ import annotations

from engine.connectors import Connector, ObjectInfo, capabilities
from engine.diagnostics import Diagnostic, did_you_mean, sort_diagnostics
from engine.errors import ConnectorError, QueryError, UnknownObjectError
from engine.expressions import CompiledExpression, field_path
from engine.plan import FLOWS, FieldRule, Plan, Step


def check_remote(
    plan: Plan, connectors: dict[str, Connector], steps: list[Step] | None = None
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for step in plan.steps if steps is None else steps:
        with plan.settings_located(step.source.connection):
            found.extend(_check_source_types(step, connectors[step.source.connection]))
        with plan.settings_located(step.target.connection):
            found.extend(_check_target_types(step, connectors[step.target.connection]))
    return sort_diagnostics(found)


def _check_target_types(step: Step, connector: Connector) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for record_type in step.target.types:
        info = _described(step, "target", record_type, connector, found)
        if info is None:
            continue
        for rule in step.fields:
            if not rule.types or record_type in rule.types:
                found.extend(_check_field(step, rule, info))
        if record_type == step.target.create_as and "to_target" in FLOWS[step.directions.create]:
            found.extend(_check_required(step, info))
        if record_type.endswith("__c") and any(key.normalize == "phone" for key in step.match):
            found.extend(_check_custom_object(step, info, connector))
        found.extend(_check_where(step, record_type, connector))
    return found


def _check_source_types(step: Step, connector: Connector) -> list[Diagnostic]:
    found = []
    for record_type in step.source.types:
        info = _described(step, "source", record_type, connector, found)
        if info is not None and info.authoritative:
            found.extend(_check_source_fields(step, info))
            if record_type == step.source.create_as and "to_source" in FLOWS[step.directions.create]:
                found.extend(_check_required_on_source(step, info))
    return found


def _described(
    step: Step, side_name: str, record_type: str, connector: Connector, found: list[Diagnostic]
) -> ObjectInfo | None:
    """The record type's describe, or None with the reason added to ``found``: an unknown object
    at the side's `object`, a query the database refuses at its `query`."""
    side = getattr(step, side_name)
    try:
        return connector.describe(record_type)
    except (UnknownObjectError, QueryError) as e:
        at, code = ("query", "bad-query") if isinstance(e, QueryError) else ("object", "unknown-object")
        location = side.query_location if at == "query" else side.object_location
        path = ("objects", step.name, side_name, at)
        found.append(Diagnostic(code, e.message, location, path, e.hint))
        return None


def _source_fields(step: Step) -> list[tuple[str, CompiledExpression, tuple]]:
    """The source field each plain field path of the step names (a JSON column's member names
    the column), with the expression and its place in the document."""
    named = [(key.source, ("objects", step.name, "match")) for key in step.match]
    named += [(r.source, ("objects", step.name, "fields", r.target)) for r in step.fields if r.source]
    return [(path[0], expression, at) for expression, at in named if (path := field_path(expression.text))]


def _check_source_fields(step: Step, info: ObjectInfo) -> list[Diagnostic]:
    """Source fields the step reads or writes that the authoritative describe (a table's
    columns) does not have."""
    return [
        Diagnostic(
            "unknown-field",
            f"{info.name} has no field `{name}`",
            expression.location,
            at,
            did_you_mean(name, info.fields) or f"the fields of {info.name}: {', '.join(sorted(info.fields))}",
        )
        for name, expression, at in _source_fields(step)
        if name not in info.fields
    ]


def _check_required_on_source(step: Step, info: ObjectInfo) -> list[Diagnostic]:
    """The fields a new source record must be given (a NOT NULL column without a default) that no
    field of the step fills when it creates one."""
    given = {
        path[0]
        for rule in step.fields
        if rule.source
        and "to_source" in FLOWS[rule.directions.create]
        and (path := field_path(rule.source.text))
    }
    missing = [
        name for name, field in info.fields.items()
        if field.required and name != info.id_field and name not in given
    ]  # fmt: skip
    return [
        Diagnostic(
            "required-field",
            f"new {info.name} records need `{name}`, and no field of `{step.name}` gives it a value",
            step.source.object_location,
            ("objects", step.name, "source", "object"),
            f"map a field to `{name}` (or give the column a default), or set `direction: {{create: to_target}}`",
        )
        for name in missing
    ]


def _check_required(step: Step, info: ObjectInfo) -> list[Diagnostic]:
    """The fields a new record of this type must be sent, that no field of the step gives it."""
    if not info.authoritative:
        return []
    given = {
        rule.target.split(".")[0]
        for rule in step.fields
        if (not rule.types or info.name in rule.types) and "to_target" in FLOWS[rule.directions.create]
    }
    if "LastName" in given:  # a Person Account: Salesforce derives its Name from the person's name
        given.add("Name")
    missing = [
        name for name, field in info.fields.items()
        if field.required and name != info.id_field and name not in given
    ]  # fmt: skip
    path = ("objects", step.name, "target", "object")
    return [
        Diagnostic(
            "required-field",
            f"new {info.name} records need `{name}`, and no field of `{step.name}` gives it a value",
            step.target.object_location,
            path,
            f"add `{name}: {{value: ..., create_only: true}}` under fields, or a `default:` to a field that maps it",
        )
        for name in missing
    ]


def _check_where(step: Step, record_type: str, connector: Connector) -> list[Diagnostic]:
    """A consultant's query filter (a SOQL condition) is tried once against the org, if the
    connector can (`check_where`), so a misspelled field is a compile error, not a failed run."""
    if not step.target.where:
        return []
    try:
        capabilities(connector).check_where(record_type, step.target.where)
    except ConnectorError as e:
        path = ("objects", step.name, "target", "where")
        return [Diagnostic("remote-where", e.message, step.target.where_location, path, e.hint)]
    return []


def _check_custom_object(step: Step, info: ObjectInfo, connector: Connector) -> list[Diagnostic]:
    """The rules a custom object must meet to take contacts and activities in place of Leads and
    Contacts (seed 000): a phone field to match on, searchable, activities and feed tracking."""
    where = step.match[0].source.location
    path = ("objects", step.name, "target", "object")
    problems = []
    if not any(f.type == "phone" for f in info.fields.values()):
        problems.append(("has no Phone-type field to match contacts on", "add a Phone field to the object"))
    if not info.flags.get("searchable", True):
        problems.append(
            ("is not searchable", "Setup > Object Manager > Edit: under Search Status, click Allow Search")
        )
    try:
        task = connector.describe("Task")
    except ConnectorError:
        task = None
    what = task.fields.get("WhatId") if task else None
    if what is not None and info.name not in what.reference_to:
        problems.append(
            (
                "does not allow activities",
                "Setup > Object Manager > Edit: under Optional Features, click Allow Activities",
            )
        )
    if not info.flags.get("feedEnabled", True):
        problems.append(
            (
                "has no feed tracking",
                "Feature Settings > Feed Tracking: find the object, click Enable Feed Tracking",
            )
        )
    return [
        Diagnostic("custom-object", f"{info.name} {message}", where, path, hint) for message, hint in problems
    ]


def _check_field(step: Step, rule: FieldRule, info: ObjectInfo) -> list[Diagnostic]:
    def problem(code: str, message: str, hint: str | None = None) -> Diagnostic:
        return Diagnostic(code, message, rule.location, ("objects", step.name, "fields", rule.target), hint)

    name = rule.target.split(".")[0]
    described = info.fields.get(name)
    if described is None:
        if rule.optional or "." in rule.target or not info.authoritative:
            return []
        hint = did_you_mean(name, info.fields) or "add `optional: true` if only some orgs have this field"
        return [problem("unknown-field", f"{info.name} has no field `{name}`", hint)]
    found = []
    creates = "to_target" in FLOWS[rule.directions.create]
    updates = "to_target" in FLOWS[rule.directions.update]
    if creates and not described.createable:
        found.append(
            problem(
                "not-createable",
                f"{info.name}.{name} cannot be set on new records",
                "set `direction: to_source`",
            )
        )
    if updates and not described.updateable:
        hint = "add `create_only: true`" if described.createable else "set `direction: to_source`"
        found.append(problem("not-updateable", f"{info.name}.{name} cannot be changed once set", hint))
    if (creates or updates) and described.type == "reference" and not (rule.link or rule.lookup):
        targets = ", ".join(described.reference_to) or "another record"
        found.append(
            problem(
                "raw-reference",
                f"{info.name}.{name} refers to {targets}; a raw value cannot be written to it",
                "translate ids with `link: <object>` (a synced object) or `lookup: {object: User, by: Email}`",
            )
        )
    return found

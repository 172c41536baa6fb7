"""Opening a plan's connections: each connector opened with its settings (`${ENV}` replaced),
told which parent-record fields the plan maps on it and what each side says of its record types.
A setting or a declaration the connector refuses is an error at its place in the document."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from engine.connectors import Connector, Declared, Registry, capabilities
from engine.diagnostics import Diagnostic
from engine.errors import ConnectorError, DocumentError, SettingError
from engine.plan import Plan
from engine.secrets import resolve_settings


def open_connectors(
    plan: Plan, registry: Registry, base_dir: Path, environ: Mapping[str, str], read_only: bool = False
) -> dict[str, Connector]:
    """Open every connection of the plan (``read_only`` for a dry run), replacing `${ENV}`
    references from the environment, and tell each connector that asks which parent-record
    fields the plan maps on it. A setting naming what does not exist is a document error."""
    opened = {}
    for connection in plan.connections:
        settings = resolve_settings(connection.name, dict(connection.settings), environ)
        try:
            connector = registry.open(connection.connector, settings, base_dir, read_only)
        except SettingError as e:
            for other in opened.values():
                other.close()
            raise connection.located(e) from None
        opened[connection.name] = connector
        capabilities(connector).expect_fields(related_fields(plan, connection.name))
        try:
            declare_sides(plan, connection.name, connector)
        except DocumentError:
            for other in opened.values():
                other.close()
            raise
    return opened


def declare_sides(plan: Plan, connection: str, connector: Connector) -> None:
    """Tell a connector what each side on it says of its record type (``declare``); a side that
    needs a declaration the connector cannot take (`deleted:`, `query:`) is a document error."""
    for step in plan.steps:
        for name, side in (("source", step.source), ("target", step.target)):
            if side.connection != connection:
                continue
            declared = Declared(side.id_field, side.modified_field, side.deleted_field, side.query)
            key = "query" if side.query else "deleted" if side.deleted_field else "object"
            path = ("objects", step.name, name, key)
            location = side.query_location if side.query else side.object_location
            if not capabilities(connector).takes_declarations:
                if side.query or side.deleted_field:
                    message = f"the `{connection}` connection's connector does not take `{key}:`"
                    hint = "`query:` and `deleted:` are for database tables (`connector: sql`)"
                    raise DocumentError([Diagnostic("connection-declaration", message, location, path, hint)])
                continue
            for record_type in side.types:
                try:
                    connector.declare(record_type, declared)
                except ConnectorError as e:
                    raise DocumentError(
                        [Diagnostic("connection-declaration", e.message, location, path, e.hint)]
                    ) from None


def related_fields(plan: Plan, connection: str) -> dict[str, list[str]]:
    """The parent-record fields (`Account.Name`) the plan maps on a connection, by record type."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for step in plan.steps:
        if step.target.connection != connection:
            continue
        for rule in step.fields:
            if "." in rule.target:
                for record_type in rule.types or step.target.types:
                    wanted[record_type].append(rule.target)
    return {record_type: list(dict.fromkeys(paths)) for record_type, paths in wanted.items()}

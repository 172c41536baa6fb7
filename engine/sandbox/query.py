"""Running SOQL against the org: bind a parsed query to the schema, then filter, sort and shape.

Binding happens once per query and turns every field path into schema fields (unknown ones are
INVALID_FIELD with the query position, an unknown object INVALID_TYPE, a value of the wrong
type for its field INVALID_FIELD), and every condition into a predicate. Running then only
reads records. Results come out nested as REST returns them or flat as Bulk API CSV columns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from engine.sandbox import ids, soql
from engine.sandbox.errors import ApiError, invalid_type
from engine.sandbox.org import Org
from engine.sandbox.schema import ID_TYPES, NUMBER_TYPES, STRING_TYPES, Field, Schema, SObject
from engine.sandbox.values import format_datetime, parse_datetime

MAX_OFFSET = 2000
Predicate = Callable[[dict[str, Any], "_Context"], bool]
Lookup = tuple[str, tuple[Any, ...], bool]  # field, the values it may hold, compared without case
Since = tuple[str, str]  # a datetime field, and the earliest time it may hold


@dataclass(frozen=True)
class BoundPath:
    """A field path resolved against the schema: the references to follow, then the field."""

    steps: tuple[Field, ...]
    field: Field
    names: tuple[str, ...]

    @property
    def column(self) -> str:
        return ".".join(self.names)


@dataclass(frozen=True)
class CompiledQuery:
    sobject: SObject
    select: tuple[BoundPath, ...]
    count: bool
    where: Predicate | None
    order: tuple[tuple[BoundPath, bool, bool], ...]
    limit: int | None
    offset: int | None
    lookup: Lookup | None = None  # the candidates, when the condition names them by one field
    since: Since | None = None  # or when it bounds a datetime field from below (an incremental read)

    @property
    def columns(self) -> list[str]:
        return [path.column for path in self.select]


class _Context:
    """What a running query needs besides the record: parent records (cached) and today."""

    def __init__(self, org: Org):
        self.org = org
        self.today = org.clock().date()
        self._parents: dict[str, tuple[SObject, dict[str, Any]] | None] = {}

    def parent(self, record_id: str | None) -> tuple[SObject, dict[str, Any]] | None:
        if record_id is None:
            return None
        if record_id not in self._parents:
            self._parents[record_id] = self.org.lookup(record_id)
        return self._parents[record_id]

    def value(self, path: BoundPath, record: dict[str, Any] | None) -> Any:
        for step in path.steps:
            parent = self.parent(record.get(step.name)) if record else None
            record = parent[1] if parent else None
        return record.get(path.field.name) if record else None


def compile_query(text: str, schema: Schema) -> CompiledQuery:
    """The query bound to the schema, ready to run many times."""
    tree = soql.parse(text)
    sobject = schema.get(tree.sobject)
    if sobject is None:
        error = invalid_type(tree.sobject)
        raise soql.located_error("INVALID_TYPE", text, tree.sobject_pos, error.message)
    binder = _Binder(schema, sobject, text)
    select = tuple(binder.path(path) for path in tree.fields)
    seen: set[str] = set()
    for path, source in zip(select, tree.fields, strict=True):
        if path.column.lower() in seen:
            raise binder.error(source.pos, f"duplicate field selected: {source}", "MALFORMED_QUERY")
        seen.add(path.column.lower())
    if tree.offset is not None and tree.offset > MAX_OFFSET:
        raise ApiError(
            400,
            "NUMBER_OUTSIDE_VALID_RANGE",
            f"Maximum SOQL offset allowed is {MAX_OFFSET}",
        )
    return CompiledQuery(
        sobject=sobject,
        select=select,
        count=tree.count,
        where=binder.condition(tree.where) if tree.where else None,
        lookup=binder.lookup(tree.where) if tree.where else None,
        since=binder.since(tree.where) if tree.where else None,
        order=tuple((binder.path(k.field), k.descending, k.nulls_last) for k in tree.order),
        limit=tree.limit,
        offset=tree.offset,
    )


class QueryRun:
    """The records a query matched, in order, and their shapes for REST and Bulk API."""

    def __init__(self, query: CompiledQuery, org: Org, include_deleted: bool = False):
        self.query = query
        self.org = org
        self._context = _Context(org)
        if query.lookup is None and query.since is not None:
            records = org.store.find_since(query.sobject.name, *query.since, include_deleted)
        elif query.lookup is None:
            records = org.store.scan(query.sobject.name, include_deleted)
        else:
            field, values, ignore_case = query.lookup
            records = org.store.find_any(query.sobject.name, field, values, ignore_case, include_deleted)
        if query.where:
            records = [r for r in records if query.where(r, self._context)]
        if query.order:
            records.sort(key=functools.cmp_to_key(self._compare))
        start = query.offset or 0
        end = None if query.limit is None else start + query.limit
        self.records = records[start:end]

    @property
    def total_size(self) -> int:
        return len(self.records)

    def json_records(self) -> list[dict[str, Any]]:
        """Records as REST returns them, parent fields nested under their relationship."""
        if self.query.count:
            return []
        return [self._nest(record) for record in self.records]

    def flat_records(self) -> list[list[Any]]:
        """One row of values per record, in the order of ``query.columns``."""
        return [[self._context.value(path, record) for path in self.query.select] for record in self.records]

    def _nest(self, record: dict[str, Any]) -> dict[str, Any]:
        sobject = self.query.sobject
        out: dict[str, Any] = {
            "attributes": {"type": sobject.name, "url": self.org.url(sobject, record["Id"])}
        }
        for path in self.query.select:
            self._place(out, path, record)
        return out

    def _place(self, out: dict[str, Any], path: BoundPath, record: dict[str, Any]) -> None:
        for step in path.steps:
            parent = self._context.parent(record.get(step.name))
            if parent is None:
                out.setdefault(step.relationship_name, None)
                return
            sobject, record = parent
            if out.get(step.relationship_name) is None:
                url = self.org.url(sobject, record["Id"])
                out[step.relationship_name] = {"attributes": {"type": sobject.name, "url": url}}
            out = out[step.relationship_name]
        out[path.field.name] = record.get(path.field.name)

    def _compare(self, left: dict[str, Any], right: dict[str, Any]) -> int:
        for path, descending, nulls_last in self.query.order:
            a = _comparable(path.field, self._context.value(path, left))
            b = _comparable(path.field, self._context.value(path, right))
            if a == b:
                continue
            if a is None or b is None:
                return (1 if a is None else -1) * (1 if nulls_last else -1)
            result = 1 if a > b else -1
            return -result if descending else result
        return 0


class _Binder:
    def __init__(self, schema: Schema, sobject: SObject, text: str):
        self.schema = schema
        self.sobject = sobject
        self.text = text

    def error(self, pos: int, detail: str, code: str = "INVALID_FIELD") -> ApiError:
        return soql.located_error(code, self.text, pos, detail)

    def path(self, path: soql.FieldPath) -> BoundPath:
        targets = [self.sobject]
        steps: list[Field] = []
        for name in path.names[:-1]:
            step = next((s.relationship(name) for s in targets if s.relationship(name)), None)
            if step is None:
                raise self.error(
                    path.pos,
                    f"Didn't understand relationship '{name}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after "
                    "the custom relationship name. Please reference your WSDL or the describe "
                    "call for the appropriate names.",
                )
            steps.append(step)
            targets = [t for t in map(self.schema.get, step.reference_to) if t]
        field = next((s.field(path.names[-1]) for s in targets if s.field(path.names[-1])), None)
        if field is None:
            raise self.error(
                path.pos,
                f"No such column '{path.names[-1]}' on entity '{targets[0].name}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after the custom "
                "field name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
            )
        names = (*(s.relationship_name for s in steps), field.name)
        return BoundPath(tuple(steps), field, names)

    def condition(self, condition: soql.Condition) -> Predicate:
        if isinstance(condition, soql.Negation):
            inner = self.condition(condition.operand)
            return lambda record, context: not inner(record, context)
        if isinstance(condition, soql.Logical):
            parts = [self.condition(c) for c in condition.operands]
            combine = all if condition.op == "AND" else any
            return lambda record, context: combine(p(record, context) for p in parts)
        return self.comparison(condition)

    def lookup(self, condition: soql.Condition) -> Lookup | None:
        """The field and values a condition requires (`Ext__c IN ('a', 'b')`, alone or ANDed
        with others), for the store to find the candidates by index; None when it names none.
        The whole condition is still applied to them."""
        if isinstance(condition, soql.Logical) and condition.op == "AND":
            return next(filter(None, (self.lookup(operand) for operand in condition.operands)), None)
        if not isinstance(condition, soql.Comparison) or condition.op not in ("=", "IN"):
            return None
        path = self.path(condition.field)
        literals = condition.value if isinstance(condition.value, tuple) else (condition.value,)
        if path.steps or any(literal.kind != "string" for literal in literals):
            return None
        field = path.field
        if field.type in STRING_TYPES:
            return field.name, tuple(str(literal.value) for literal in literals), True
        if field.type in ID_TYPES:
            return (
                field.name,
                tuple(self.operand(field, literal, condition.op) for literal in literals),
                False,
            )
        return None

    def since(self, condition: soql.Condition) -> Since | None:
        """The datetime field and earliest time a condition requires (`SystemModstamp >= ...`,
        alone or ANDed with others), for the store to find the candidates by index as an org
        does an incremental read; the whole condition is still applied to them."""
        if isinstance(condition, soql.Logical) and condition.op == "AND":
            return next(filter(None, (self.since(operand) for operand in condition.operands)), None)
        if not isinstance(condition, soql.Comparison) or condition.op not in (">=", ">"):
            return None
        path = self.path(condition.field)
        if path.steps or path.field.type != "datetime" or condition.value.kind != "datetime":
            return None
        return path.field.name, self.operand(path.field, condition.value, condition.op)

    def comparison(self, comparison: soql.Comparison) -> Predicate:
        path = self.path(comparison.field)
        field, op = path.field, comparison.op
        if op in ("IN", "NOT IN"):
            wanted = op == "IN"
            operands = {self.operand(field, literal, op) for literal in comparison.value}
            return lambda r, c: (_comparable(field, c.value(path, r)) in operands) == wanted
        literal = comparison.value
        if op == "LIKE":
            if field.type not in STRING_TYPES or literal.kind != "string":
                raise self.error(literal.pos, f"invalid operator on field: {field.name}")
            pattern = literal.like
            return lambda r, c: _like(pattern, c.value(path, r))
        if literal.kind == "relative":
            self.check_type(field, literal, op)
            return lambda r, c: _in_range(op, c.value(path, r), _range(literal, field, c.today))
        operand = self.operand(field, literal, op)
        return lambda r, c: _compare(op, _comparable(field, c.value(path, r)), operand)

    def operand(self, field: Field, literal: soql.Literal, op: str) -> Any:
        """The literal in the form record values are compared in."""
        self.check_type(field, literal, op)
        if literal.kind == "null":
            return None
        if field.type in ID_TYPES:
            record_id = ids.normalize(literal.value)
            if record_id is None:
                raise self.error(
                    literal.pos,
                    f"invalid ID field: {literal.value}",
                    "INVALID_QUERY_FILTER_OPERATOR",
                )
            return record_id
        if literal.kind == "datetime":
            return format_datetime(parse_datetime(literal.value))
        return _comparable(field, literal.value)

    def check_type(self, field: Field, literal: soql.Literal, op: str) -> None:
        if literal.kind == "null":
            if op not in ("=", "!=", "IN", "NOT IN"):
                raise self.error(literal.pos, "invalid operator for null value", "MALFORMED_QUERY")
            return
        expected = _literal_kinds(field)
        if literal.kind not in expected:
            quoted = "should" if "string" in expected else "should not"
            raise self.error(
                literal.pos,
                f"value of filter criterion for field '{field.name}' must be of type "
                f"{field.type} and {quoted} be enclosed in quotes",
            )


def _literal_kinds(field: Field) -> tuple[str, ...]:
    if field.type in STRING_TYPES or field.type in ID_TYPES:
        return ("string",)
    if field.type in NUMBER_TYPES:
        return ("number",)
    if field.type in ("date", "datetime"):
        return (field.type, "relative")
    return ("boolean",)


def _comparable(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.type in STRING_TYPES:
        return str(value).lower()
    if field.type in NUMBER_TYPES:
        return float(value)
    return value


def _like(pattern: Any, value: Any) -> bool:
    return value is not None and pattern.fullmatch(str(value)) is not None


def _compare(op: str, value: Any, operand: Any) -> bool:
    if operand is None or value is None:
        return (value == operand) == (op == "=") if op in ("=", "!=") else False
    return {
        "=": value == operand,
        "!=": value != operand,
        "<": value < operand,
        "<=": value <= operand,
        ">": value > operand,
        ">=": value >= operand,
    }[op]


def _range(literal: soql.Literal, field: Field, today: date) -> tuple[str, str]:
    """The [start, end) a relative date literal covers, in the field's stored format."""
    name, n = literal.value
    days = {
        "TODAY": (0, 1),
        "YESTERDAY": (-1, 0),
        "TOMORROW": (1, 2),
        "LAST_N_DAYS": (-n, 1),
        "NEXT_N_DAYS": (1, n + 1),
        "N_DAYS_AGO": (-n, -n + 1),
    }[name]
    start, end = (today + timedelta(days=offset) for offset in days)
    if field.type == "date":
        return start.isoformat(), end.isoformat()
    return f"{start.isoformat()}T00:00:00.000+0000", f"{end.isoformat()}T00:00:00.000+0000"


def _in_range(op: str, value: Any, bounds: tuple[str, str]) -> bool:
    if value is None:
        return op == "!="
    start, end = bounds
    inside = start <= value < end
    return {
        "=": inside,
        "!=": not inside,
        "<": value < start,
        "<=": value < end,
        ">": value >= end,
        ">=": value >= start,
    }[op]

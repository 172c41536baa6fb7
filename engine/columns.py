"""Expressions as columns: a batch of records as a polars frame, and the expressions that map onto
its columns compiled to polars expressions, so a batch is evaluated without Python per record.

Only what keeps the interpreter's exact answers is compiled: field names, literals, `lower`,
`upper`, `trim`, `email`, `phone_e164`, `replace`, `value_map`, `coalesce`, `||`, `&&`, `!`, `==`,
`!=`, and templates of these, over columns whose values are all text, all booleans or all whole
numbers. Anything else (a nested path, a list, a column of mixed kinds, an argument JMESPath would
refuse) has no column form: `column_form` returns None and the expression runs per record as
before, where its errors are reported. A property test holds the two forms equal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jmespath
import polars as pl
from jmespath.exceptions import JMESPathError
from jmespath.visitor import TreeInterpreter

from engine.expressions import TEMPLATE_HOLE, CompiledExpression, DomainFunctions
from engine.phones import phone_e164

TEXT, BOOL, WHOLE, NULL = pl.String, pl.Boolean, pl.Int64, pl.Null
KINDS = {str: TEXT, bool: BOOL, int: WHOLE}
INT64 = range(-(2**63), 2**63)
# what str.strip takes away: every character Python counts as space (Rust's list lacks \x1c-\x1f)
WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
Typed = tuple[pl.Expr, Any]  # an expression and the one kind its values have


def frame_of(values: list[Mapping[str, Any]]) -> tuple[pl.DataFrame, set[str]]:
    """A batch of records' values as a frame with a column per top-level field whose values are
    all of one kind, and the fields left out because they are not (their expressions run per
    record). A field no record has is null, as JMESPath reads it."""
    names = dict.fromkeys(name for row in values for name in row)
    columns, mixed = {}, set()
    for name in names:
        column = [row.get(name) for row in values]
        kinds = {type(value) for value in column if value is not None}
        kind = KINDS.get(kinds.pop()) if len(kinds) == 1 else (NULL if not kinds else None)
        if kind is WHOLE and not all(value is None or value in INT64 for value in column):
            kind = None
        try:
            columns[name] = pl.Series(name, column, dtype=kind, strict=True) if kind else None
        except (pl.exceptions.PolarsError, UnicodeEncodeError):  # text polars cannot hold
            columns[name] = None
        if columns[name] is None:
            del columns[name]
            mixed.add(name)
    frame = pl.DataFrame(list(columns.values())) if columns else pl.DataFrame({"": [None] * len(values)})
    return frame, mixed


def column_form(expression: CompiledExpression, schema: Mapping[str, Any], mixed: set[str],
                funcs: DomainFunctions) -> pl.Expr | None:  # fmt: skip
    """The polars expression computing `expression` over a frame of this schema, or None. (A
    literal is one value: `with_columns` spreads it over the batch, `select` would not.)"""
    if expression.kind == "template":
        return _template(expression.text, schema, mixed, funcs)
    typed = _Columns(schema, mixed, funcs).node(_parsed(expression.text))
    return typed[0] if typed else None


@functools.lru_cache(maxsize=1024)
def _parsed(text: str) -> dict:
    return jmespath.compile(text).parsed


def _template(
    text: str, schema: Mapping[str, Any], mixed: set[str], funcs: DomainFunctions
) -> pl.Expr | None:
    columns, parts, position = _Columns(schema, mixed, funcs), [], 0
    for hole in TEMPLATE_HOLE.finditer(text):
        parts.append(pl.lit(text[position : hole.start()], TEXT))
        typed = columns.node(_parsed(hole.group(1)))
        if typed is None:
            return None
        parts.append(_as_text(*typed))
        position = hole.end()
    parts.append(pl.lit(text[position:], TEXT))
    return pl.concat_str(parts)


def _as_text(expr: pl.Expr, kind: Any) -> pl.Expr:
    """A template hole's text, as `expressions._as_text` writes it: null is empty."""
    if kind == BOOL:
        return (
            pl.when(expr.is_null())
            .then(pl.lit(""))
            .when(expr)
            .then(pl.lit("true"))
            .otherwise(pl.lit("false"))
        )
    return expr.cast(TEXT).fill_null("")


def _falsy(expr: pl.Expr, kind: Any) -> pl.Expr:
    """JMESPath's false: null, false and empty text (never 0)."""
    if kind == TEXT:
        return expr.is_null() | (expr == "")
    if kind == BOOL:
        return expr.is_null() | ~expr
    return expr.is_null()


def _same_kind(*kinds: Any) -> Any:
    """The one kind values of these kinds share (null joins any), or None."""
    known = {kind for kind in kinds if kind != NULL}
    return known.pop() if len(known) == 1 else (NULL if not known else None)


class _Columns:
    """Compiles parsed expression nodes over one frame schema; None where a node has no column form."""

    def __init__(self, schema: Mapping[str, Any], mixed: set[str], funcs: DomainFunctions):
        self.schema, self.mixed, self.funcs = schema, mixed, funcs
        self.options = jmespath.Options(custom_functions=funcs)

    def node(self, node: dict) -> Typed | None:
        kind = node["type"]
        if kind != "literal" and not self.reads_batch(node):  # a constant: the interpreter folds it
            try:
                return _literal(TreeInterpreter(self.options).visit(node, {}))
            except JMESPathError:
                return None
        if kind == "field":
            return self.field(node["value"])
        if kind == "literal":
            return _literal(node["value"])
        children = [self.node(child) for child in node.get("children", [])]
        if None in children:
            return None
        if kind == "function_expression":
            return self.call(node["value"], children, node["children"])
        return _OPERATORS.get(kind if kind != "comparator" else node["value"], lambda *_: None)(*children)

    def reads_batch(self, node: dict) -> bool:
        """Whether a node reads the records (a field no record has is null: a constant)."""
        if node["type"] == "field":
            return node["value"] in self.schema or node["value"] in self.mixed
        return node["type"] == "current" or any(self.reads_batch(child) for child in node.get("children", []))

    def field(self, name: str) -> Typed | None:
        if name in self.mixed:
            return None
        return pl.col(name), self.schema[name]

    def call(self, name: str, args: list[Typed], nodes: list[dict]) -> Typed | None:
        value, kind = args[0]
        if name == "coalesce":
            return _coalesce(args)
        if name == "phone_e164" and kind in (TEXT, WHOLE):
            region = nodes[1]["value"] if len(nodes) > 1 and nodes[1]["type"] == "literal" else None
            if len(nodes) > 1 and not isinstance(region, str):
                return None
            return _phones(value.cast(TEXT), region or self.funcs.phone_region), TEXT
        if name == "value_map" and kind in (TEXT, WHOLE, NULL):
            mapping = {
                key: to
                for key, to in self.funcs.value_maps[nodes[1]["value"]].items()
                if isinstance(key, str)
            }
            if {type(to) for to in mapping.values()} != {str}:
                return None  # only text keys are ever found (`str(value)` is looked up)
            return value.cast(TEXT).replace_strict(mapping, default=None, return_dtype=TEXT), TEXT
        if kind not in (TEXT, NULL) or name not in _TEXT_FUNCTIONS:
            return None  # JMESPath refuses these arguments: the per-record form reports it
        if name == "replace":
            if any(node["type"] != "literal" or not isinstance(node["value"], str) for node in nodes[1:]):
                return None
            old, new = (node["value"] for node in nodes[1:])
            if not old:
                return None
            return value.cast(TEXT).str.replace_all(old, new, literal=True), TEXT
        return _TEXT_FUNCTIONS[name](value.cast(TEXT)), TEXT


def _reads_record(node: dict) -> bool:
    return node["type"] in ("field", "current") or any(
        _reads_record(child) for child in node.get("children", [])
    )


def _literal(value: Any) -> Typed | None:
    kind = NULL if value is None else KINDS.get(type(value))
    if kind is None or (kind == WHOLE and value not in INT64):
        return None  # a number with a fraction, a list, an object
    return pl.lit(value, kind), kind


def _phones(expr: pl.Expr, region: str) -> pl.Expr:
    """Each distinct number of the batch parsed once, through the run's phone cache."""

    def parse(numbers: pl.Series) -> pl.Series:
        distinct = numbers.drop_nulls().unique()
        found = [phone_e164(number, region) for number in distinct]
        return numbers.replace_strict(distinct, pl.Series(found, dtype=TEXT), default=None, return_dtype=TEXT)

    return expr.map_batches(parse, return_dtype=TEXT)


def _coalesce(args: list[Typed]) -> Typed | None:
    kind = _same_kind(*(k for _, k in args))
    if kind is None:
        return None
    result: pl.Expr = pl.lit(None, kind)
    for expr, arg_kind in reversed(args):
        empty = expr.is_null() | (expr == "") if arg_kind == TEXT else expr.is_null()
        result = pl.when(empty).then(result).otherwise(expr)
    return result, kind


def _either(left: Typed, right: Typed, keep_left_when_falsy: bool) -> Typed | None:
    kind = _same_kind(left[1], right[1])
    if kind is None:
        return None
    falsy = _falsy(*left)
    chosen = pl.when(falsy).then(left[0] if keep_left_when_falsy else right[0])
    return chosen.otherwise(right[0] if keep_left_when_falsy else left[0]), kind


def _equal(left: Typed, right: Typed) -> pl.Expr:
    """JMESPath's `==`: null equals null; values of two kinds never equal (1 is not true)."""
    if left[1] == right[1] or NULL in (left[1], right[1]):
        return left[0].eq_missing(right[0]) if NULL not in (left[1], right[1]) else (
            left[0].is_null() & right[0].is_null()
        )  # fmt: skip
    return left[0].is_null() & right[0].is_null()


_OPERATORS: dict[str, Callable[..., Typed | None]] = {
    "or_expression": lambda left, right: _either(left, right, keep_left_when_falsy=False),
    "and_expression": lambda left, right: _either(left, right, keep_left_when_falsy=True),
    "not_expression": lambda inner: (_falsy(*inner), BOOL),
    "eq": lambda left, right: (_equal(left, right), BOOL),
    "ne": lambda left, right: (~_equal(left, right), BOOL),
}
_TEXT_FUNCTIONS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "lower": lambda expr: expr.str.to_lowercase(),
    "upper": lambda expr: expr.str.to_uppercase(),
    "trim": lambda expr: expr.str.strip_chars(WHITESPACE),
    "email": lambda expr: (
        pl.when(expr.str.contains("@", literal=True))
        .then(expr.str.strip_chars(WHITESPACE).str.to_lowercase())
        .otherwise(pl.lit(None, TEXT))
    ),
    "replace": lambda expr: expr,  # its arguments are checked in `call`
}

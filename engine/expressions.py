"""Expressions: JMESPath plus named domain functions, and `{{ expr }}` templates.

Every expression in a document is compiled here exactly once, at compile time, into a
``CompiledExpression`` that the runner calls per record; the runner never parses. Unknown
functions, wrong argument counts and unknown value maps are compile errors with the column in the
expression, because JMESPath itself would only notice them when a record arrives. Nothing here
can run Python code supplied by a document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jmespath
from jmespath import exceptions as jmespath_errors
from jmespath import functions

from engine.diagnostics import Location, did_you_mean
from engine.errors import RecordError
from engine.phones import phone_e164
from engine.times import parse_datetime

TEMPLATE_HOLE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class ExpressionError(Exception):
    """A compile-time problem in one expression, at a character offset within its text."""

    def __init__(self, message: str, offset: int = 0, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint


class DomainFunctions(functions.Functions):
    """The named functions a document may call, bound to that document's defaults and value maps."""

    def __init__(self, phone_region: str = "US", value_maps: Mapping[str, Mapping] | None = None):
        super().__init__()
        self.phone_region = phone_region
        self.value_maps = dict(value_maps or {})

    @functions.signature({"types": ["string", "number", "null"], "variadic": True})
    def _func_phone_e164(self, value, *region):
        """Phone number in E.164 (`+14155550100`), null when invalid; region defaults to the document's."""
        if value is None:
            return None
        return phone_e164(str(value), region[0] if region else self.phone_region)

    @functions.signature({"types": ["string", "number", "null"], "variadic": True})
    def _func_phone_valid(self, value, *region):
        """True when the value is a valid phone number."""
        return self._func_phone_e164(value, *region) is not None

    @functions.signature({"types": ["string", "null"]})
    def _func_lower(self, value):
        """Lower-cased text."""
        return value.lower() if value is not None else None

    @functions.signature({"types": ["string", "null"]})
    def _func_upper(self, value):
        """Upper-cased text."""
        return value.upper() if value is not None else None

    @functions.signature({"types": ["string", "null"]})
    def _func_trim(self, value):
        """Text without surrounding whitespace."""
        return value.strip() if value is not None else None

    @functions.signature({"types": ["string", "null"]})
    def _func_email(self, value):
        """An email address trimmed and lower-cased, null when it has no `@`."""
        if value is None or "@" not in value:
            return None
        return value.strip().lower()

    @functions.signature({"types": ["string", "null"], "variadic": True})
    def _func_date(self, value, *fmt):
        """A date or datetime reformatted (default `%Y-%m-%d`), null when unreadable."""
        parsed = parse_datetime(value) if value else None
        return parsed.strftime(fmt[0] if fmt else "%Y-%m-%d") if parsed else None

    @functions.signature({"types": ["string", "null"]})
    def _func_datetime(self, value):
        """A date or datetime as ISO 8601 in UTC, null when unreadable."""
        parsed = parse_datetime(value) if value else None
        return parsed.astimezone(UTC).isoformat() if parsed else None

    @functions.signature({"types": ["string", "null"]})
    def _func_days_since(self, value):
        """Whole days between the value and now (null when unreadable)."""
        parsed = parse_datetime(value) if value else None
        if parsed is None:
            return None
        return (datetime.now(UTC) - parsed).days

    @functions.signature({"types": []}, {"types": ["string"]})
    def _func_value_map(self, value, name):
        """Translate a value through a named map under `value_maps`; null when not in the map."""
        return self.value_maps[name].get(str(value)) if value is not None else None

    @functions.signature({"types": [], "variadic": True})
    def _func_coalesce(self, *values):
        """The first value that is not null or empty text."""
        return next((v for v in values if v not in (None, "")), None)

    @functions.signature({"types": ["string", "null"]}, {"types": ["string"]}, {"types": ["string"]})
    def _func_replace(self, value, old, new):
        """Text with every `old` replaced by `new`."""
        return value.replace(old, new) if value is not None else None


# Functions whose last parameter is optional: JMESPath's variadic marker plus an upper bound.
OPTIONAL_LAST_ARGUMENT = {"phone_e164": 2, "phone_valid": 2, "date": 2}


@dataclass(frozen=True)
class CompiledExpression:
    """An expression or template compiled once: its text, and the callable that evaluates it."""

    text: str
    kind: str = "expression"
    evaluate: Callable[[Any], Any] = field(compare=False, repr=False, default=lambda record: None)
    location: Location | None = field(compare=False, repr=False, default=None)

    def __call__(self, record: Any) -> Any:
        return self.evaluate(record)


def compile_expression(text: str, funcs: DomainFunctions) -> CompiledExpression:
    """Compile a JMESPath expression, checking function names, arity and value map names."""
    parsed = _parse(text)
    _check_functions(parsed.parsed, text, funcs)
    return CompiledExpression(text, "expression", _evaluator(parsed, funcs))


def compile_template(text: str, funcs: DomainFunctions) -> CompiledExpression:
    """Compile `literal {{ expr }} literal` into one callable that renders text."""
    parts: list[str | Callable[[Any], Any]] = []
    position = 0
    for hole in TEMPLATE_HOLE.finditer(text):
        parts.append(text[position : hole.start()])
        inner = hole.group(1)
        if not inner.strip():
            raise ExpressionError("empty `{{ }}` in template", hole.start(), "put an expression inside")
        try:
            parts.append(compile_expression(inner, funcs).evaluate)
        except ExpressionError as e:
            raise ExpressionError(e.message, hole.start(1) + e.offset, e.hint) from e
        position = hole.end()
    tail = text[position:]
    if "{{" in tail or "}}" in tail:
        offset = position + max(tail.find("{{"), tail.find("}}"))
        raise ExpressionError("unbalanced `{{` / `}}` in template", offset, "close every `{{` with `}}`")
    parts.append(tail)
    literal_parts = [p for p in parts if p != ""]

    def render(record: Any) -> str:
        return "".join(p if isinstance(p, str) else _as_text(p(record)) for p in literal_parts)

    return CompiledExpression(text, "template", render)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse(text: str) -> jmespath.parser.ParsedResult:
    try:
        return jmespath.compile(text)
    except jmespath_errors.LexerError as e:
        raise ExpressionError(f"invalid expression: {e.message}", e.lex_position or 0) from e
    except jmespath_errors.ParseError as e:
        what = "unexpected end of expression" if e.token_value is None else f"unexpected `{e.token_value}`"
        raise ExpressionError(f"invalid expression: {what}", e.lex_position or 0, _parse_hint(text)) from e


def _parse_hint(text: str) -> str | None:
    if '"' in text:
        return "JMESPath quotes text with single quotes ('text'); double quotes name a field"
    return None


def _check_functions(ast: dict, text: str, funcs: DomainFunctions) -> None:
    for node in _walk(ast):
        if node["type"] != "function_expression":
            continue
        name = node["value"]
        offset = max(text.find(name + "("), 0)
        table = funcs.FUNCTION_TABLE
        if name not in table:
            hint = did_you_mean(name, table) or f"available functions: {', '.join(sorted(table))}"
            raise ExpressionError(f"unknown function `{name}()`", offset, hint)
        low, high = _arity(name, table[name]["signature"])
        count = len(node["children"])
        if not low <= count <= high:
            takes = f"{low} argument(s)" if low == high else f"{low} to {high} arguments"
            if high == float("inf"):
                takes = f"at least {low} argument(s)"
            raise ExpressionError(
                f"`{name}()` takes {takes}, got {count}", offset, table[name]["function"].__doc__
            )
        if name == "value_map":
            _check_value_map_name(node, text, funcs)


def _check_value_map_name(node: dict, text: str, funcs: DomainFunctions) -> None:
    map_node = node["children"][1]
    if map_node["type"] != "literal" or not isinstance(map_node["value"], str):
        raise ExpressionError(
            "`value_map()` takes the map's name as a quoted literal", text.find("value_map(")
        )
    name = map_node["value"]
    if name not in funcs.value_maps:
        hint = did_you_mean(name, funcs.value_maps) or (
            f"known value maps: {', '.join(sorted(funcs.value_maps))}"
            if funcs.value_maps
            else "declare it under `value_maps`"
        )
        raise ExpressionError(f"unknown value map `{name}`", max(text.find(name), 0), hint)


def _arity(name: str, signature: list[dict]) -> tuple[int, float]:
    """Fewest and most arguments a function accepts (JMESPath's variadic needs at least one)."""
    if not (signature and signature[-1].get("variadic")):
        return len(signature), len(signature)
    return len(signature), OPTIONAL_LAST_ARGUMENT.get(name, float("inf"))


def _walk(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for child in node.get("children", []):
            yield from _walk(child)


def _evaluator(parsed: jmespath.parser.ParsedResult, funcs: DomainFunctions) -> Callable[[Any], Any]:
    """Closures for the shapes documents use most (field paths, literals, function calls, `||`,
    `&&`, `!`, `==`, `!=`), built once from the parsed tree; JMESPath's interpreter for the rest.
    Both give the same results: the closures follow the interpreter's rules node by node."""
    closure = _closure(parsed.parsed, funcs)
    if closure is not None and _plain_path(parsed.parsed) is not None:
        return closure  # a field path cannot fail
    options = jmespath.Options(custom_functions=funcs)
    evaluate = closure or (lambda record: parsed.search(record, options=options))

    def search(record: Any) -> Any:
        try:
            return evaluate(record)
        except jmespath_errors.JMESPathError as e:
            raise RecordError(f"`{parsed.expression}` failed on this record: {e}") from e

    return search


def _closure(node: dict, funcs: DomainFunctions) -> Callable[[Any], Any] | None:
    """A closure evaluating one node of a parsed expression, or None when any node below is of a
    kind left to the interpreter."""
    kind = node["type"]
    if kind == "literal":
        value = node["value"]
        return lambda record: value
    if kind == "current":
        return lambda record: record
    path = _plain_path(node)
    if path is not None:
        if len(path) == 1:
            key = path[0]
            return lambda record: record.get(key) if isinstance(record, dict) else None

        def walk(record: Any) -> Any:
            for key in path:
                if not isinstance(record, dict):
                    return None
                record = record.get(key)
            return record

        return walk
    children = [_closure(child, funcs) for child in node["children"]]
    if any(child is None for child in children):
        return None
    if kind == "function_expression":
        return _function_call(node["value"], children, funcs)
    if kind == "or_expression":
        left, right = children
        return lambda record: value if not _is_false(value := left(record)) else right(record)
    if kind == "and_expression":
        left, right = children
        return lambda record: right(record) if not _is_false(value := left(record)) else value
    if kind == "not_expression":
        (inner,) = children
        return lambda record: _is_false(inner(record))
    if kind == "comparator" and node["value"] in ("eq", "ne"):
        left, right = children
        if node["value"] == "eq":
            return lambda record: _equals(left(record), right(record))
        return lambda record: not _equals(left(record), right(record))
    return None


def _function_call(name: str, children: list[Callable], funcs: DomainFunctions) -> Callable[[Any], Any]:
    """A call of a named function. Arguments of the declared types go straight to the function;
    any other goes through JMESPath's own checked call, which raises its type error."""
    spec = funcs.FUNCTION_TABLE[name]
    function, signature = spec["function"], spec["signature"]
    checked = funcs.call_function
    if any("-" in kind for parameter in signature for kind in parameter["types"]):  # typed arrays
        return lambda record: checked(name, [child(record) for child in children])
    allowed = [
        {python for kind in parameter["types"] for python in functions.REVERSE_TYPES_MAP[kind]}
        for parameter in signature
    ]
    last = len(allowed) - 1  # a variadic function's last parameter takes the remaining arguments
    if len(children) == 1:  # most calls take one argument: `phone_e164(@)`, `trim(name)`
        (child,), types = children, allowed[0]

        def call_one(record: Any) -> Any:
            arg = child(record)
            if types and type(arg).__name__ not in types:
                return checked(name, [arg])
            return function(funcs, arg)

        return call_one

    def call(record: Any) -> Any:
        args = [child(record) for child in children]
        for position, arg in enumerate(args):
            types = allowed[min(position, last)]
            if types and type(arg).__name__ not in types:
                return checked(name, args)
        return function(funcs, *args)

    return call


def _equals(left: Any, right: Any) -> bool:
    """JMESPath's `==`: Python's, except that a number never equals true or false."""
    numbers = (int, float)
    if (
        isinstance(left, bool) != isinstance(right, bool)
        and isinstance(left, numbers)
        and isinstance(right, numbers)
    ):
        return False
    return left == right


def _is_false(value: Any) -> bool:
    """JMESPath's falsiness: null, false, and empty text, lists and objects (not 0)."""
    return value is None or value is False or value in ("", [], {})


def field_path(text: str) -> tuple[str, ...] | None:
    """The keys of a plain field path such as `company.name`, or None for any other expression."""
    try:
        return _plain_path(jmespath.compile(text).parsed)
    except jmespath_errors.JMESPathError:
        return None


def _plain_path(ast: dict) -> tuple[str, ...] | None:
    if ast["type"] == "field":
        return (ast["value"],)
    if ast["type"] == "subexpression":
        parts = [_plain_path(child) for child in ast["children"]]
        if all(parts):
            return tuple(key for part in parts for key in part)
    return None

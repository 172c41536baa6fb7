"""SOQL text to a query tree: a hand-written tokenizer and recursive-descent parser.

Covers the subset integrations send: field lists with parent relationships, COUNT(), WHERE with
comparisons, LIKE, IN, NULL, booleans, numbers, quoted strings with escapes, date, datetime and
relative date literals, AND/OR/NOT with parentheses, ORDER BY, LIMIT and OFFSET. Keywords and names
are case-insensitive. Bad input raises MALFORMED_QUERY with row, column and a caret, as
Salesforce does. This module only parses; ``query.py`` binds the tree to the schema and runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.sandbox.errors import ApiError

KEYWORDS = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
        "NULL",
        "TRUE",
        "FALSE",
        "GROUP",
        "HAVING",
    }
)
RELATIVE_DATES = frozenset({"TODAY", "YESTERDAY", "TOMORROW"})
RELATIVE_N_DATES = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO"})
OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),.:])
  | (?P<string>')
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int
    value: Any = None

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "name" and self.text.upper() in words


@dataclass(frozen=True)
class FieldPath:
    """A field as written: ``Email`` or ``Account.Owner.Email``."""

    names: tuple[str, ...]
    pos: int

    def __str__(self) -> str:
        return ".".join(self.names)


@dataclass(frozen=True)
class Literal:
    """A value in a condition. ``kind`` is string, number, boolean, null, date, datetime or
    relative (``value`` is then the name and its N, e.g. ``("LAST_N_DAYS", 30)``)."""

    kind: str
    value: Any
    pos: int
    like: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Comparison:
    field: FieldPath
    op: str
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class Logical:
    op: str
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Negation:
    operand: Condition


Condition = Comparison | Logical | Negation


@dataclass(frozen=True)
class OrderKey:
    field: FieldPath
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    """A parsed SELECT. ``fields`` is empty for ``SELECT COUNT()``."""

    text: str
    fields: tuple[FieldPath, ...]
    count: bool
    sobject: str
    sobject_pos: int
    where: Condition | None
    order: tuple[OrderKey, ...]
    limit: int | None
    offset: int | None


def located_error(code: str, text: str, pos: int, detail: str) -> ApiError:
    """An error pointing at a position of the query: the line, a caret, row and column."""
    row = text.count("\n", 0, pos) + 1
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    column = pos - line_start + 1
    caret = " " * (column - 1) + "^"
    return ApiError(400, code, f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{detail}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise located_error("MALFORMED_QUERY", text, pos, f"unexpected token: '{text[pos]}'")
        kind = match.lastgroup
        if kind == "string":
            token, pos = _read_string(text, pos)
            tokens.append(token)
            continue
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "<EOF>", len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[Token, int]:
    """A quoted string from its opening quote: the value with escapes resolved, and the LIKE
    pattern in which only unescaped ``%`` and ``_`` are wildcards."""
    chars: list[str] = []
    pattern: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "'":
            like = re.compile("".join(pattern), re.IGNORECASE | re.DOTALL)
            return Token("string", text[start : pos + 1], start, ("".join(chars), like)), pos + 1
        if char == "\\":
            escaped = text[pos + 1 : pos + 2]
            if escaped in ("%", "_"):
                chars.append(escaped)
                pattern.append(re.escape(escaped))
            elif escaped in _ESCAPES:
                chars.append(_ESCAPES[escaped])
                pattern.append(re.escape(_ESCAPES[escaped]))
            else:
                raise located_error(
                    "MALFORMED_QUERY",
                    text,
                    pos,
                    f"Invalid string literal '{text[start : pos + 2]}'. Illegal character sequence "
                    f"'\\{escaped}' in string literal.",
                )
            pos += 2
            continue
        chars.append(char)
        pattern.append({"%": ".*", "_": "."}.get(char) or re.escape(char))
        pos += 1
    raise located_error("MALFORMED_QUERY", text, start, "unterminated string literal")


def parse(text: str) -> Query:
    """The query tree of a SOQL SELECT, or a MALFORMED_QUERY error."""
    return _Parser(text).query()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def fail(self, token: Token | None = None) -> ApiError:
        token = token or self.token
        return located_error("MALFORMED_QUERY", self.text, token.pos, f"unexpected token: '{token.text}'")

    def expect_keyword(self, word: str) -> Token:
        if not self.token.is_keyword(word):
            raise self.fail()
        return self.advance()

    def expect(self, text: str) -> Token:
        if self.token.text != text:
            raise self.fail()
        return self.advance()

    def accept_keyword(self, *words: str) -> Token | None:
        return self.advance() if self.token.is_keyword(*words) else None

    def query(self) -> Query:
        self.expect_keyword("SELECT")
        count = self.count_call()
        fields = () if count else self.field_list()
        self.expect_keyword("FROM")
        sobject = self.name()
        where = self.condition() if self.accept_keyword("WHERE") else None
        order = self.order_by() if self.accept_keyword("ORDER") else ()
        limit = self.integer() if self.accept_keyword("LIMIT") else None
        offset = self.integer() if self.accept_keyword("OFFSET") else None
        if self.token.kind != "eof":
            raise self.fail()
        return Query(self.text, fields, count, sobject.text, sobject.pos, where, order, limit, offset)

    def count_call(self) -> bool:
        if not (self.token.is_keyword("COUNT") and self.tokens[self.index + 1].text == "("):
            return False
        self.index += 2
        self.expect(")")
        return True

    def name(self) -> Token:
        if self.token.kind != "name" or self.token.text.upper() in KEYWORDS:
            raise self.fail()
        return self.advance()

    def field_list(self) -> tuple[FieldPath, ...]:
        fields = [self.field_path()]
        while self.token.text == ",":
            self.advance()
            fields.append(self.field_path())
        return tuple(fields)

    def field_path(self) -> FieldPath:
        first = self.name()
        names = [first.text]
        while self.token.text == ".":
            self.advance()
            names.append(self.name().text)
        if self.token.text == "(":
            raise located_error(
                "MALFORMED_QUERY",
                self.text,
                first.pos,
                f"the sandbox does not support the function {first.text}()",
            )
        return FieldPath(tuple(names), first.pos)

    def condition(self) -> Condition:
        operands = [self.conjunction()]
        while self.accept_keyword("OR"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Logical("OR", tuple(operands))

    def conjunction(self) -> Condition:
        operands = [self.negation()]
        while self.accept_keyword("AND"):
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else Logical("AND", tuple(operands))

    def negation(self) -> Condition:
        if self.accept_keyword("NOT"):
            return Negation(self.negation())
        if self.token.text == "(":
            self.advance()
            inner = self.condition()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        field = self.field_path()
        if self.accept_keyword("NOT"):
            self.expect_keyword("IN")
            return Comparison(field, "NOT IN", self.value_list())
        if self.accept_keyword("IN"):
            return Comparison(field, "IN", self.value_list())
        if self.accept_keyword("LIKE"):
            return Comparison(field, "LIKE", self.literal())
        if self.token.kind != "op":
            raise self.fail()
        op = self.advance().text
        return Comparison(field, "!=" if op == "<>" else op, self.literal())

    def value_list(self) -> tuple[Literal, ...]:
        self.expect("(")
        values = [self.literal()]
        while self.token.text == ",":
            self.advance()
            values.append(self.literal())
        self.expect(")")
        return tuple(values)

    def literal(self) -> Literal:
        token = self.advance()
        if token.kind == "string":
            text, like = token.value
            return Literal("string", text, token.pos, like)
        if token.kind == "number":
            number = float(token.text)
            return Literal("number", int(number) if number.is_integer() else number, token.pos)
        if token.kind in ("date", "datetime"):
            return Literal(token.kind, token.text, token.pos)
        word = token.text.upper() if token.kind == "name" else ""
        if word in ("TRUE", "FALSE"):
            return Literal("boolean", word == "TRUE", token.pos)
        if word == "NULL":
            return Literal("null", None, token.pos)
        if word in RELATIVE_DATES:
            return Literal("relative", (word, 0), token.pos)
        if word in RELATIVE_N_DATES:
            self.expect(":")
            return Literal("relative", (word, self.integer()), token.pos)
        raise self.fail(token)

    def integer(self) -> int:
        token = self.advance()
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail(token)
        return int(token.text)

    def order_by(self) -> tuple[OrderKey, ...]:
        self.expect_keyword("BY")
        keys = [self.order_key()]
        while self.token.text == ",":
            self.advance()
            keys.append(self.order_key())
        return tuple(keys)

    def order_key(self) -> OrderKey:
        field = self.field_path()
        direction = self.accept_keyword("ASC", "DESC")
        descending = direction is not None and direction.text.upper() == "DESC"
        nulls_last = False
        if self.accept_keyword("NULLS"):
            position = self.accept_keyword("FIRST", "LAST")
            if position is None:
                raise self.fail()
            nulls_last = position.text.upper() == "LAST"
        return OrderKey(field, descending, nulls_last)

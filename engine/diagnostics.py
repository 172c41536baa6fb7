"""Diagnostics are data: what went wrong, where in which document, and how to fix it.

Every stage before ``run`` reports problems as ``Diagnostic`` objects instead of raising on the
first one, so a user sees all the errors of a file in one go, in file order. Building a message is
kept apart from printing it: ``render_text`` and ``render_json`` are the only renderers.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

DocPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Location:
    """A point in a source file; lines and columns count from 1 as editors show them."""

    file: str
    line: int
    column: int


@dataclass(frozen=True)
class Diagnostic:
    """One located problem in a mapping document."""

    code: str
    message: str
    location: Location | None = None
    path: DocPath = ()
    hint: str | None = None
    severity: str = "error"
    source_line: str | None = field(default=None, compare=False)

    def sort_key(self) -> tuple:
        loc = self.location or Location("", 0, 0)
        return (loc.file, loc.line, loc.column, self.message)


def format_path(path: DocPath) -> str:
    """Render a document path as ``objects.contacts.fields[2].source``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text or "(document root)"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A ``did you mean `x`?`` hint for a misspelled name, or None when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else None


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """File order, without repeating the same message at the same place."""
    unique = {(d.sort_key(), d.path): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def render_text(diagnostics: Sequence[Diagnostic]) -> str:
    """ruff-like text: ``file:line:col: error: message at path``, the line, a caret, a hint."""
    blocks = []
    for diag in diagnostics:
        where = "syncmap"
        if diag.location:
            loc = diag.location
            where = f"{loc.file}:{loc.line}:{loc.column}"
        at = f" at {format_path(diag.path)}" if diag.path else ""
        lines = [f"{where}: {diag.severity}: {diag.message}{at}"]
        if diag.source_line is not None and diag.location:
            gutter = f"{diag.location.line} | "
            lines.append(f"  {gutter}{diag.source_line}")
            lines.append("  " + " " * (len(gutter) + diag.location.column - 1) + "^")
        if diag.hint:
            lines.append(f"  hint: {diag.hint}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def diagnostic_to_dict(diag: Diagnostic) -> dict:
    loc = asdict(diag.location) if diag.location else {"file": None, "line": None, "column": None}
    return {
        **loc,
        "severity": diag.severity,
        "code": diag.code,
        "path": format_path(diag.path) if diag.path else "",
        "message": diag.message,
        "hint": diag.hint,
    }


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([diagnostic_to_dict(d) for d in diagnostics], indent=2)

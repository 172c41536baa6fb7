"""Validate many documents at once: find them, run every stage up to the Plan, collect diagnostics.

Directories are searched recursively for `*.yaml`/`*.yml` files that look like syncmap documents
(they have a top-level `syncmap`, `objects` or `rules` key), so other YAML in a repository, such as
CI configuration, is left alone; a file named explicitly is always checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.compile import compile_plan, load_rule_set
from engine.diagnostics import Diagnostic, sort_diagnostics
from engine.errors import DocumentError, UsageError
from engine.load import display_name, one_load_per_document
from engine.plan import Plan

DOCUMENT_KEYS = ("syncmap:", "objects:", "rules:")


@dataclass
class ValidationReport:
    documents: list[str] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.diagnostics


def find_documents(paths: Iterable[Path]) -> list[Path]:
    """Files named explicitly, plus syncmap documents found under directories, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            found.extend(p for p in candidates if not _hidden(p, path) and _looks_like_document(p))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(
                f"no such file or directory: {path}", hint="pass mapping files or folders holding them"
            )
    return list(dict.fromkeys(found))


def validate(paths: Iterable[Path]) -> ValidationReport:
    """Every document found, each file parsed once however many documents use it."""
    report = ValidationReport()
    with one_load_per_document():
        for path in find_documents(paths):
            report.documents.append(display_name(path))
            try:
                if is_rule_set(path):
                    load_rule_set(path)
                else:
                    report.plans.append(compile_plan(path))
            except DocumentError as e:
                report.diagnostics.extend(e.diagnostics)
    report.diagnostics = sort_diagnostics(report.diagnostics)
    return report


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _top_level_keys(path: Path) -> set[str]:
    """The top-level keys of a file, read cheaply line by line (the file may not even parse)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return {line.split(":", 1)[0] + ":" for line in handle if line[:1].isalpha() and ":" in line}
    except OSError:
        return set()


def _looks_like_document(path: Path) -> bool:
    return bool(_top_level_keys(path) & set(DOCUMENT_KEYS))


def is_rule_set(path: Path) -> bool:
    keys = _top_level_keys(path)
    return "rules:" in keys and "objects:" not in keys

"""Resolve `extends`: merge a document over the template it starts from, keeping locations.

A customer document names a template (`extends: ../../mappings/avochato.yaml`, or a shipped one:
`extends: syncmap:avochato`) and overrides what
differs: mappings merge key by key, lists and plain values replace, and `null` removes a key. A
connection that names another connector is replaced whole: the template's settings were written for
its connector (a `path` of `sqlite` means nothing to `sql`). The merged source map still points every value at the file and line that supplied it, so an error in
an inherited value is reported in the template. Paths inside documents (`rule_sets`) are made
absolute here, relative to the file that wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import shipped
from engine.diagnostics import DocPath, did_you_mean
from engine.errors import DocumentError
from engine.load import LoadedDocument, display_name, load
from engine.schema import check_version
from engine.source_map import SourceMap
from engine.state import project_state
from engine.versions import migrate

PROJECT_MARKERS = (".git", "syncmap.toml")


@dataclass(frozen=True)
class ResolvedDocument:
    """A document with its templates merged in, and every file that contributed to it."""

    path: Path
    data: Any
    source: SourceMap
    files: tuple[Path, ...]


def find_project_root(path: Path) -> Path:
    """The nearest enclosing directory holding `.git` or `syncmap.toml`; else the file's folder."""
    start = path.resolve().parent
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return start


def store_of(given: Path | str | None, inside: Path | None = None) -> Path | str:
    """The state store a command or a watch uses: the one `--state` gives, else that of the
    project around ``inside`` (a mapping document; by default, the working folder)."""
    return given or project_state(find_project_root(inside or Path.cwd() / "syncmap.yaml"))


def resolve(path: Path, project_root: Path | None = None) -> ResolvedDocument:
    root = project_root or find_project_root(path)
    return _resolve(path.resolve(), root, ())


def _resolve(path: Path, root: Path, chain: tuple[Path, ...]) -> ResolvedDocument:
    document = load(path)
    problems = check_version(document.data, document.source)
    if problems:
        raise DocumentError(problems)
    migrate(document.data, document.source)  # an older version is read as the newest
    data = _absolute_paths(document)
    extends = data.pop("extends", None)
    if extends is None:
        return ResolvedDocument(path, data, document.source, (path,))
    parent_path = _extends_target(extends, document, root, chain)
    parent_root = shipped.root() if parent_path.is_relative_to(shipped.root()) else root
    parent = _resolve(parent_path, parent_root, (*chain, path))
    if parent.data.get("syncmap") != data.get("syncmap"):
        raise DocumentError(
            [
                document.source.diagnostic(
                    "extends-version",
                    f"this document is version {data.get('syncmap')} but `{extends}` is version {parent.data.get('syncmap')}",
                    ("syncmap",),
                    hint="a document and the template it extends use the same version",
                )
            ]
        )
    merged_data, merged_source = merge(parent.data, parent.source, data, document.source)
    return ResolvedDocument(path, merged_data, merged_source, (*parent.files, path))


def _extends_target(extends: Any, document: LoadedDocument, root: Path, chain: tuple[Path, ...]) -> Path:
    def fail(code: str, message: str, hint: str | None = None) -> DocumentError:
        return DocumentError([document.source.diagnostic(code, message, ("extends",), hint=hint)])

    if not isinstance(extends, str) or not extends.strip():
        raise fail(
            "wrong-type",
            "`extends` must be the path of a template",
            "e.g. `extends: ../mappings/avochato.yaml`",
        )
    if extends.startswith(shipped.PREFIX):
        target = shipped.path("mappings", extends)
        if not target.is_file():
            known = shipped.names("mappings")
            hint = did_you_mean(extends.removeprefix(shipped.PREFIX), known) or f"shipped: {', '.join(known)}"
            raise fail("extends-not-found", f"syncmap ships no template `{extends}`", hint)
        return target
    try:
        target = (document.path.parent / extends).resolve()
        exists = target.is_file()
    except OSError as e:
        raise fail(
            "extends-not-found", f"template `{extends[:80]}` cannot be read: {e.strerror or e}"
        ) from None
    if not target.is_relative_to(root):
        raise fail(
            "extends-outside-project",
            f"`{extends}` points outside the project",
            "templates must live inside the project (next to a `.git` folder or `syncmap.toml`)",
        )
    if not exists:
        siblings = [p.name for p in target.parent.glob("*.y*ml")] if target.parent.is_dir() else []
        hint = did_you_mean(target.name, siblings)
        raise fail("extends-not-found", f"template `{extends}` does not exist", hint)
    if target in (*chain, document.path.resolve()):
        cycle = " -> ".join(display_name(p) for p in (*chain, document.path, target))
        raise fail("extends-cycle", f"documents extend each other in a cycle: {cycle}")
    return target


def _absolute_paths(document: LoadedDocument) -> dict:
    """Copy of the data with `rule_sets` entries resolved against the document's folder."""
    data = dict(document.data)
    rule_sets = data.get("rule_sets")
    if isinstance(rule_sets, list):
        data["rule_sets"] = [
            (
                str(
                    shipped.path("rules", entry)
                    if entry.startswith(shipped.PREFIX)
                    else (document.path.parent / entry).resolve()
                )
                if isinstance(entry, str)
                else entry
            )
            for entry in rule_sets
        ]
    return data


def merge(base: Any, base_source: SourceMap, over: Any, over_source: SourceMap) -> tuple[Any, SourceMap]:
    """Deep-merge ``over`` onto ``base``; the source map follows whichever side supplied a value."""
    replaced: list[DocPath] = []
    data = _merge_values(base, over, (), replaced)
    nodes = {
        path: info
        for path, info in base_source.nodes.items()
        if not any(path[: len(cut)] == cut for cut in replaced) and _exists(data, path)
    }
    nodes.update(over_source.nodes)
    return data, SourceMap(nodes=nodes, lines={**base_source.lines, **over_source.lines})


def _merge_values(base: Any, over: Any, path: DocPath, replaced: list[DocPath]) -> Any:
    if not (isinstance(base, dict) and isinstance(over, dict)) or _changes_connector(base, over, path):
        replaced.append(path)
        return over
    result = dict(base)
    for key, value in over.items():
        if value is None:
            result.pop(key, None)
            replaced.append((*path, key))
        elif key in base:
            result[key] = _merge_values(base[key], value, (*path, key), replaced)
        else:
            result[key] = value
    return result


def _changes_connector(base: dict, over: dict, path: DocPath) -> bool:
    return (
        len(path) == 2
        and path[0] == "connections"
        and over.get("connector", base.get("connector")) != base.get("connector")
    )


def _exists(data: Any, path: DocPath) -> bool:
    for part in path:
        if (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and part < len(data)
        ):
            data = data[part]
        else:
            return False
    return True

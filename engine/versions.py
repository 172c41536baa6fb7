"""Document versions: what each version of the language changed, and how older documents follow.

A document states its version (`syncmap: 1`). Each version's JSON Schema is published in
`schemas/` and kept unchanged once published. The engine speaks the newest version: an older
document is migrated as it is read, in memory, its source locations moved with it, so errors
still point into the file as written. `syncmap upgrade` rewrites the file itself, editing only
the keys that changed and the version number, so comments and layout stay as they were.

Version 2 renamed `conflicts.duplicate_key` to `conflicts.first_match`: the policy decides which
values win when a first match finds both records holding different values, not what happens to
duplicate keys (that is `conflicts.ambiguous`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.diagnostics import DocPath
from engine.errors import UsageError
from engine.load import load
from engine.source_map import SourceMap


@dataclass(frozen=True)
class RenamedKey:
    parent: tuple[str, ...]  # where the key sits; "*" matches any key (an object's name)
    old: str
    new: str


LATEST = 2
CHANGES: dict[int, tuple[RenamedKey, ...]] = {  # what each version changed from the one before
    2: (RenamedKey(("objects", "*", "conflicts"), "duplicate_key", "first_match"),),
}
SUPPORTED = (1, 2)


def renamed_keys() -> dict[str, tuple[str, int]]:
    """Old key -> (new key, the version that renamed it), for a hint when a document uses one."""
    return {change.old: (change.new, version) for version, changes in CHANGES.items() for change in changes}


def migrate(data: Any, source: SourceMap) -> tuple[Any, SourceMap]:
    """A document's data (and its locations) in the newest version; the newest is unchanged."""
    version = data.get("syncmap") if isinstance(data, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version >= LATEST:
        return data, source
    for step in range(version + 1, LATEST + 1):
        for change in CHANGES.get(step, ()):
            for path in _renames(data, change):
                _rename(data, source, path, change.new)
    data["syncmap"] = LATEST
    return data, source


def upgrade(path: Path, write: bool = True) -> tuple[int, list[str]]:
    """Rewrite a document in the newest version, in place (unless not ``write``). Returns its
    old version and what changed, as `objects.contacts.conflicts.duplicate_key -> first_match`."""
    document = load(path)
    data, nodes = document.data, document.source.nodes
    version = data.get("syncmap") if isinstance(data, dict) else None
    if version not in SUPPORTED:
        raise UsageError(f"{path}: not a syncmap document of a known version", hint=f"supported: {SUPPORTED}")
    if version == LATEST:
        return version, []
    lines = path.read_text().split("\n")
    done = []
    for step in range(version + 1, LATEST + 1):
        for change in CHANGES.get(step, ()):
            for key_path in _renames(data, change):
                _replace(lines, nodes[key_path].key, change.old, change.new, path)
                done.append(f"{'.'.join(map(str, key_path))} -> {change.new}")
    _replace(lines, nodes[("syncmap",)].value, str(version), str(LATEST), path)
    if write:
        path.write_text("\n".join(lines))
    return version, done


def _renames(data: Any, change: RenamedKey) -> list[DocPath]:
    """The paths of every key this change renames in ``data``."""
    found: list[DocPath] = []

    def walk(node: Any, pattern: tuple[str, ...], at: DocPath) -> None:
        if not isinstance(node, dict):
            return
        if not pattern:
            if change.old in node:
                found.append((*at, change.old))
            return
        head, rest = pattern[0], pattern[1:]
        keys = list(node) if head == "*" else [head] if head in node else []
        for key in keys:
            walk(node[key], rest, (*at, key))

    walk(data, change.parent, ())
    return found


def _rename(data: dict, source: SourceMap, path: DocPath, new: str) -> None:
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[new] = parent.pop(path[-1])
    new_path = (*path[:-1], new)
    for old_path in [p for p in source.nodes if p[: len(path)] == path]:
        source.nodes[new_path + old_path[len(path) :]] = source.nodes.pop(old_path)
    source.renamed[new_path] = source.renamed.pop(path, path)


def _replace(lines: list[str], where, old: str, new: str, path: Path) -> None:
    """Replace ``old`` at a location (a key or a scalar, possibly quoted) on its line."""
    line, column = where.line - 1, where.column - 1
    text = lines[line]
    start = column + (1 if text[column : column + 1] in ("'", '"') else 0)
    if text[start : start + len(old)] != old:
        raise UsageError(
            f"{path}:{where.line}:{where.column}: cannot find `{old}` to rewrite", hint="edit it by hand"
        )
    lines[line] = text[:start] + new + text[start + len(old) :]

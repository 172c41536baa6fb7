"""Where every value of a document came from: its file, line and column, by document path, and
each file's lines for showing a caret under an error. `load.py` builds it; every later stage
locates its diagnostics through it."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.diagnostics import Diagnostic, DocPath, Location


@dataclass(frozen=True)
class NodeInfo:
    """Where one value of a document sits: its key (for mapping members) and its value."""

    value: Location
    key: Location | None = None
    style: str | None = None
    single_line: bool = True
    raw: str | None = None


@dataclass
class SourceMap:
    """Document path -> location, plus each file's lines for showing a caret under an error."""

    nodes: dict[DocPath, NodeInfo] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict)
    renamed: dict[DocPath, DocPath] = field(default_factory=dict)  # a migrated key's path -> as written

    def as_written(self, path: DocPath) -> DocPath:
        """A path in the newest version as the document wrote it (an older version's key names)."""
        for new, old in self.renamed.items():
            if tuple(path[: len(new)]) == new:
                return (*old, *path[len(new) :])
        return tuple(path)

    def info(self, path: DocPath) -> NodeInfo | None:
        """The node at ``path`` or, when it does not exist (a missing key), its nearest parent."""
        for end in range(len(path), -1, -1):
            found = self.nodes.get(tuple(path[:end]))
            if found:
                return found
        return None

    def locate(self, path: DocPath, *, at_key: bool = False, offset: int | None = None) -> Location | None:
        info = self.info(path)
        if info is None:
            return None
        if at_key and info.key and tuple(path) in self.nodes:
            return info.key
        loc = info.value
        if offset is not None and info.single_line and info.style in (None, "'", '"'):
            quote = 0 if info.style is None else 1
            return Location(loc.file, loc.line, loc.column + quote + offset)
        return loc

    def diagnostic(
        self,
        code: str,
        message: str,
        path: DocPath,
        *,
        hint: str | None = None,
        at_key: bool = False,
        offset: int | None = None,
        secret: bool = False,
    ) -> Diagnostic:
        """A located diagnostic; ``secret`` hides the value in the quoted source line."""
        location = self.locate(path, at_key=at_key, offset=offset)
        line = self.source_line(location)
        if secret and line is not None and location is not None:
            line = line[: location.column - 1] + "********"
        return Diagnostic(code, message, location, self.as_written(path), hint, source_line=line)

    def source_line(self, location: Location | None) -> str | None:
        if location is None:
            return None
        lines = self.lines.get(location.file, [])
        return lines[location.line - 1] if 0 < location.line <= len(lines) else None

"""Load: YAML text into plain data plus a source map of where every value came from.

This is the only module that reads YAML. It refuses what PyYAML would silently accept or choke
on (duplicate keys, runaway aliases, huge files, non-UTF-8 bytes, custom tags) with located
diagnostics, and never lets a ``yaml.YAMLError`` escape. Later stages look values up in the
``SourceMap`` by document path; none of them sees YAML again.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.diagnostics import Diagnostic, DocPath, Location
from engine.errors import DocumentError
from engine.source_map import NodeInfo, SourceMap

MAX_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_VALUES = 100_000
MAX_DEPTH = 64  # values nested deeper than this are no mapping document, only a way to crash a parser
MAX_TEXT_CHARS = 64 * 1024
MAX_INTEGER = 2**63  # a larger integer is no count, id or size any system keeps
STANDARD_TAG_PREFIX = "tag:yaml.org,2002:"
ALLOWED_TAGS = {STANDARD_TAG_PREFIX + name for name in ("str", "int", "float", "bool", "null", "seq", "map")}


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark):
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps (dates stay strings, as JSON Schema expects) whose
    composer stops at ``MAX_DEPTH`` levels instead of recursing until Python gives up."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != STANDARD_TAG_PREFIX + "timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class LoadedDocument:
    """A parsed YAML document: the file it came from, its data, and where each value sits."""

    path: Path
    data: Any
    source: SourceMap


def display_name(path: Path) -> str:
    """A path as the user should see it: relative to the working directory when possible."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


# the documents one command has parsed, by (file, modification time, size); None outside a command
_parsed: ContextVar[dict[tuple[Path, int, int], LoadedDocument] | None] = ContextVar("parsed", default=None)


@contextmanager
def one_load_per_document() -> Iterator[None]:
    """Within it, each file is read and parsed once, however many documents extend it or rule
    sets share it; every load gets its own copy (resolving merges into what it loads). Nested, it
    starts afresh: `watch` reloads edited documents in a scope of their own."""
    token = _parsed.set({})
    try:
        yield
    finally:
        _parsed.reset(token)


def load(path: Path) -> LoadedDocument:
    """Read and parse one YAML file (once per command, see ``one_load_per_document``); raise
    ``DocumentError`` with located diagnostics on failure."""
    parsed = _parsed.get()
    try:
        status = path.stat()
    except OSError:
        parsed = None  # reading it reports why
    if parsed is None:
        return _read(path)
    key = (path.resolve(), status.st_mtime_ns, status.st_size)
    if key not in parsed:
        parsed[key] = _read(path)
    return copy.deepcopy(parsed[key])


def _read(path: Path) -> LoadedDocument:
    name = display_name(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DocumentError(
            [Diagnostic("read-error", f"cannot read file: {e.strerror or e}", Location(name, 1, 1))]
        ) from e
    return load_bytes(raw, name, path)


def load_bytes(raw: bytes, name: str, path: Path | None = None) -> LoadedDocument:
    if len(raw) > MAX_FILE_BYTES:
        raise DocumentError(
            [
                Diagnostic(
                    "file-too-large",
                    f"file is {len(raw):,} bytes, over the limit of {MAX_FILE_BYTES:,}",
                    Location(name, 1, 1),
                    hint="split the mapping into several documents or move data out of it",
                )
            ]
        )
    text = _decode(raw, name)
    source = SourceMap(lines={name: text.splitlines()})
    try:
        root = _compose(text)
    except _TooDeep as e:
        raise DocumentError([_too_deep(Location(name, e.mark.line + 1, e.mark.column + 1), source)]) from None
    except yaml.MarkedYAMLError as e:
        raise DocumentError([_yaml_error(e, name, source)]) from e
    except yaml.reader.ReaderError as e:
        raise DocumentError([_unprintable_character(e, text, name, source)]) from e
    except yaml.YAMLError as e:
        raise DocumentError([Diagnostic("yaml-syntax", str(e), Location(name, 1, 1))]) from e
    if root is None:
        raise DocumentError(
            [
                Diagnostic(
                    "empty-document",
                    "the document is empty",
                    Location(name, 1, 1),
                    hint="a mapping document starts with `syncmap: 1`",
                )
            ]
        )
    builder = _Builder(name, source)
    data = builder.build(root, ())
    if builder.diagnostics:
        raise DocumentError(builder.diagnostics)
    return LoadedDocument(path or Path(name), data, source)


def _compose(text: str) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise DocumentError(
            [
                Diagnostic(
                    "not-utf8",
                    f"byte 0x{raw[e.start]:02x} is not valid UTF-8",
                    Location(name, line, column),
                    hint="save the file as UTF-8",
                )
            ]
        ) from e


def _yaml_error(error: yaml.MarkedYAMLError, name: str, source: SourceMap) -> Diagnostic:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "invalid YAML"
    hint = None
    if "<stream end>" in problem:
        problem = problem.replace("but got '<stream end>'", "but the file ended")
        if error.context_mark:
            mark = error.context_mark
            hint = f"the value starting here ({error.context.removeprefix('while parsing ')}) is never closed"
    location = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)
    if "'\\t'" in problem or "\t" in problem:
        problem = "a tab character cannot indent YAML"
        hint = "indent with spaces; YAML forbids tabs for indentation"
    elif "expected a single document" in str(error):
        problem = "the file holds more than one YAML document"
        hint = "keep one mapping document per file (remove the `---` separator)"
    elif error.context and not hint:
        problem = f"{problem} ({error.context})"
    if not hint and "{{" in (source.source_line(location) or ""):
        hint = 'text with `{{ }}` holes must be quoted: template: "Call with {{ name }}"'

    return Diagnostic(
        "yaml-syntax",
        f"invalid YAML: {problem}",
        location,
        hint=hint,
        source_line=source.source_line(location),
    )


def _too_deep(location: Location, source: SourceMap, path: DocPath = ()) -> Diagnostic:
    return Diagnostic(
        "too-deep",
        f"values nest more than {MAX_DEPTH} levels deep",
        location,
        path,
        hint="a mapping document nests a few levels; this looks like generated or damaged text",
        source_line=source.source_line(location),
    )


def _unprintable_character(
    error: yaml.reader.ReaderError, text: str, name: str, source: SourceMap
) -> Diagnostic:
    before = text[: error.position]
    location = Location(name, before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1)
    return Diagnostic(
        "yaml-character",
        f"the control character U+{_code_point(error.character):04X} is not allowed in YAML",
        location,
        hint="remove it; it is often pasted in invisibly from another program",
        source_line=source.source_line(location),
    )


class _Builder:
    """Turns composed YAML nodes into plain data, recording each value's location."""

    def __init__(self, name: str, source: SourceMap):
        self.name = name
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.expanded = 0
        self.constructor = yaml.SafeLoader("")
        self.active: set[int] = set()

    def location(self, mark: yaml.Mark) -> Location:
        return Location(self.name, mark.line + 1, mark.column + 1)

    def fail(self, code: str, message: str, mark: yaml.Mark, path: DocPath, hint: str | None = None):
        location = self.location(mark)
        self.diagnostics.append(
            Diagnostic(code, message, location, path, hint, source_line=self.source.source_line(location))
        )

    def build(self, node: yaml.Node, path: DocPath, key_mark: yaml.Mark | None = None) -> Any:
        self.expanded += 1
        if self.expanded > MAX_EXPANDED_VALUES:
            if self.expanded == MAX_EXPANDED_VALUES + 1:
                top = self.source.nodes[path[:1]]
                self.diagnostics.append(
                    Diagnostic(
                        "alias-bomb",
                        f"anchors and aliases expand to more than {MAX_EXPANDED_VALUES:,} values",
                        top.key or top.value,
                        path[:1],
                        "use fewer nested aliases; `extends:` shares settings between documents",
                        source_line=self.source.source_line(top.key or top.value),
                    )
                )
            return None
        if id(node) in self.active:
            self.fail("alias-cycle", "an alias refers to the value that contains it", node.start_mark, path)
            return None
        if len(path) > MAX_DEPTH:  # aliases of aliases nest deeper than the text does
            if not any(d.code == "too-deep" for d in self.diagnostics):
                self.diagnostics.append(_too_deep(self.location(node.start_mark), self.source, path))
            return None
        self.source.nodes.setdefault(
            path,
            NodeInfo(
                value=self.location(node.start_mark),
                key=self.location(key_mark) if key_mark else None,
                style=getattr(node, "style", None),
                single_line=node.start_mark.line == node.end_mark.line,
                raw=node.value if isinstance(node, yaml.ScalarNode) else None,
            ),
        )
        if node.tag not in ALLOWED_TAGS:
            self.fail(
                "yaml-tag",
                f"the tag `{node.tag}` is not allowed",
                node.start_mark,
                path,
                hint="mapping documents hold plain values; remove the tag",
            )
            return None
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def scalar(self, node: yaml.ScalarNode, path: DocPath) -> Any:
        if len(node.value) > MAX_TEXT_CHARS:
            self.fail(
                "value-too-long", f"a value of {len(node.value):,} characters is over the limit of "
                f"{MAX_TEXT_CHARS:,}", node.start_mark, path, hint="move large text out of the mapping",
            )  # fmt: skip
            return None
        integer = node.tag == STANDARD_TAG_PREFIX + "int"
        if integer and len(node.value) > 40:  # Python would not even read it as a number
            return self.too_large(node, path)
        try:
            value = self.constructor.construct_object(node)
        except yaml.YAMLError as e:
            self.fail(
                "yaml-value", f"invalid value: {getattr(e, 'problem', None) or e}", node.start_mark, path
            )
            return None
        except (
            ValueError,
            TypeError,
            OverflowError,
            LookupError,
        ):  # a tag the value does not fit: `!!int abc`
            tag = node.tag.removeprefix(STANDARD_TAG_PREFIX)
            shown = node.value if len(node.value) <= 20 else node.value[:20] + "…"
            self.fail(
                "yaml-value", f"`{shown}` is not a valid {tag}", node.start_mark, path,
                hint=f"remove the `!!{tag}` tag, or give it a value of that type",
            )  # fmt: skip
            return None
        if integer and abs(value) >= MAX_INTEGER:
            return self.too_large(node, path)
        return value

    def too_large(self, node: yaml.ScalarNode, path: DocPath) -> None:
        shown = node.value if len(node.value) <= 20 else node.value[:20] + "…"
        self.fail(
            "number-too-large", f"the number {shown} is too large", node.start_mark, path,
            hint="numbers in a mapping are counts, sizes and times: quote it if it is text",
        )  # fmt: skip

    def mapping(self, node: yaml.MappingNode, path: DocPath) -> dict:
        result: dict[str, Any] = {}
        seen: dict[str, yaml.Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == STANDARD_TAG_PREFIX + "merge" or key_node.value == "<<":
                self.fail(
                    "yaml-merge-key",
                    "the merge key `<<` is not supported",
                    key_node.start_mark,
                    path,
                    hint="use `extends:` to start from another document",
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail("yaml-key", "a key must be a plain value", key_node.start_mark, path)
                continue
            key = str(self.scalar(key_node, path))
            if key in seen:
                first = seen[key]
                self.fail(
                    "duplicate-key",
                    f"duplicate key `{key}` (first defined at line {first.line + 1})",
                    key_node.start_mark,
                    (*path, key),
                    hint="YAML keeps only the last one; remove or rename one of them",
                )
                continue
            seen[key] = key_node.start_mark
            result[key] = self.build(value_node, (*path, key), key_node.start_mark)
        return result


def _code_point(character: int | str) -> int:
    return character if isinstance(character, int) else ord(character)

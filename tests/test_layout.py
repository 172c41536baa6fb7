"""The layout guard: no module, class or function of engine/ grows past its budget
(`tests/cases/layout.yaml`), no budget outlives the room's shrinking, and no new import circle
appears. Sizes are lines, from the first line of a definition to its last."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator

import yaml

from engine.connectors import BaseConnector, Registry
from tests.conftest import REPO

CASE = yaml.safe_load((REPO / "tests" / "cases" / "layout.yaml").read_text())
MODULES = {
    path.relative_to(REPO).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__"): path
    for path in sorted((REPO / "engine").rglob("*.py"))
}


def rooms() -> Iterator[tuple[str, str, int]]:
    """(kind, room, lines) of every module, class and function in engine/."""
    for path in MODULES.values():
        text = path.read_text()
        where = path.relative_to(REPO).as_posix()
        yield "module", where, len(text.splitlines())
        yield from _definitions(ast.parse(text), f"{where}::")


def _definitions(node: ast.AST, prefix: str) -> Iterator[tuple[str, str, int]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            kind = "class" if isinstance(child, ast.ClassDef) else "function"
            yield kind, prefix + child.name, child.end_lineno - child.lineno + 1
            yield from _definitions(child, f"{prefix}{child.name}.")
        else:
            yield from _definitions(child, prefix)


def test_no_room_grows_past_its_budget_and_no_budget_is_stale():
    limits, budgets, aside = CASE["limits"], CASE["oversize"], CASE["set_aside"]
    sizes = {room: (kind, lines) for kind, room, lines in rooms()}
    problems = []
    for room, (kind, lines) in sizes.items():
        budget = budgets.get(room, limits[kind])
        if lines > budget and room not in aside:
            problems.append(f"{room} is {lines} lines, past its budget of {budget}: split it")
    for room, budget in budgets.items():
        kind, lines = sizes.get(room, ("", 0))
        if lines < budget:
            fix = "delete its entry" if lines <= limits.get(kind, 0) else f"lower its budget to {lines}"
            problems.append(f"{room} shrank to {lines} lines from its budget of {budget}: {fix}")
    assert problems == []


def imports() -> dict[str, set[str]]:
    """Each engine module's imports of others: every import statement in it, those inside
    functions and for type checking included (they close a circle as much as any)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                parts = package.split(".")
                base = (
                    ".".join([*parts[: len(parts) - node.level + 1], *([node.module] if node.module else [])])
                    if node.level
                    else node.module or ""
                )
                found = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                    for alias in node.names
                ]
            else:
                continue
            graph[name].update(module for module in found if module in MODULES and module != name)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: the strongly connected groups of more than one module (Tarjan)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return sorted(found)


def test_no_new_import_circle():
    assert circles(imports()) == sorted(sorted(circle) for circle in CASE["circles"])


def test_the_guard_sees_a_circle_and_an_oversize_room(tmp_path):
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    long = "def f():\n" + "    x = 1\n" * 70
    assert [(kind, lines) for kind, _, lines in _definitions(ast.parse(long), "m::")] == [("function", 71)]


def test_plugins_are_no_library_for_each_other():
    """Connectors share helpers through engine/ (records, times) and `connectors.local`, never
    through another plugin's module."""
    plugins = {"engine.connectors.sqlite", "engine.connectors.sql", "engine.connectors.csvfiles",
               "engine.connectors.salesforce", "engine.connectors.memory", "engine.connectors.jsonl",
               "engine.connectors.rest"}  # fmt: skip
    borrowed = sorted(
        (module, imported)
        for module, imported_all in imports().items()
        for imported in imported_all & plugins
        if module.startswith("engine.connectors.") and not module.startswith(imported)
    )
    assert borrowed == []


def test_connectors_declare_what_they_can_do_and_nobody_probes_them():
    """The built-in connectors subclass `BaseConnector`; outside it, nothing in engine/ asks a
    connector or its factory whether it has an attribute."""
    built_in = Registry(discover=True)
    assert sorted(built_in.names()) == ["csv", "jsonl", "memory", "rest", "salesforce", "sql", "sqlite"]
    assert all(issubclass(built_in.factory(name), BaseConnector) for name in built_in.names())
    probing = re.compile(r"\b(hasattr|getattr)\((connector|factory|self\.connector)\b")
    probes = [
        f"{path.relative_to(REPO)}:{number}"
        for module, path in MODULES.items()
        if module != "engine.connectors"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if probing.search(line)
    ]
    assert probes == []


def test_the_decide_side_never_reaches_into_the_routing_stages():
    """`pair`, `create` and `delete` decide what a router hands them: whichever router it is, they
    stay the same. Only the step driver writes the step's output, and `_StepRun` is gone."""
    routing = {
        f"engine.run.{name}" for name in ("read", "keys", "partners", "match", "filter", "route", "router")
    }
    for name in ("pair", "create", "delete"):
        tree = ast.parse((REPO / "engine" / "run" / f"{name}.py").read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert imported & routing == set(), name
    step = (REPO / "engine" / "run" / "step.py").read_text()
    assert step.count("out.add(") == 1
    everything = "".join(path.read_text() for path in (REPO / "engine").rglob("*.py"))
    assert "_StepRun" not in everything

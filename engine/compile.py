"""Compile: turn a checked, typed document into an immutable Plan, or report every semantic error.

The compiler does all the thinking that does not depend on data: it resolves `extends` and rule
references, compiles every expression once, derives each field's effective directions, orders
objects by their dependencies, and hashes the result. It never writes anything and never talks to
a connector; errors carry the document location of the value at fault.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine import limits, model, plan
from engine.compile_rules import StepRules
from engine.diagnostics import Diagnostic, DocPath, Location, did_you_mean, sort_diagnostics
from engine.errors import DocumentError
from engine.expressions import (
    CompiledExpression,
    DomainFunctions,
    ExpressionError,
    compile_expression,
    compile_template,
)
from engine.load import display_name, load
from engine.resolve import resolve
from engine.schema import check
from engine.source_map import SourceMap

SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def compile_plan(path: Path, project_root: Path | None = None) -> plan.Plan:
    """Load, resolve, check, build and compile one mapping document into a Plan."""
    resolved = resolve(path, project_root)
    problems = check(resolved.data, resolved.source, "mapping")
    if problems:
        raise DocumentError(sort_diagnostics(problems))
    document = model.build("mapping", resolved.data, resolved.source)
    compiler = _Compiler(document, resolved.source, default_name=path.stem)
    result = compiler.compile()
    if compiler.diagnostics:
        raise DocumentError(sort_diagnostics(compiler.diagnostics))
    files = tuple(display_name(f) for f in resolved.files) + compiler.rule_files
    result = dataclasses.replace(result, files=files)
    return dataclasses.replace(result, hash=plan.content_hash(result))


def load_rule_set(path: Path) -> model.RuleSet:
    """Load and check one rule set file."""
    document = load(path)
    problems = check(document.data, document.source, "rules")
    if problems:
        raise DocumentError(sort_diagnostics(problems))
    return model.build("rules", document.data, document.source)


class _Compiler:
    def __init__(self, document: model.Document, source: SourceMap, default_name: str):
        self.document = document
        self.source = source
        self.default_name = default_name
        self.diagnostics: list[Diagnostic] = []
        self.rules: dict[str, model.Rule] = {}
        self.rule_files: tuple[str, ...] = ()
        self.value_maps: dict[str, dict[str, Any]] = dict(document.value_maps)
        self.functions = DomainFunctions(document.defaults.phone_region, self.value_maps)

    def error(self, code: str, message: str, path: DocPath, hint: str | None = None, **where: Any) -> None:
        self.diagnostics.append(self.source.diagnostic(code, message, path, hint=hint, **where))

    def compile(self) -> plan.Plan:
        self.load_rule_sets()
        steps = {name: self.step(name, spec) for name, spec in self.document.objects.items()}
        ordered = self.order(steps)
        document = self.document
        return plan.Plan(
            name=document.name or self.default_name,
            version=document.syncmap,
            description=document.description,
            schedule=document.schedule,
            defaults=plan.Defaults(document.defaults.phone_region, document.defaults.timezone),
            connections=tuple(
                plan.Connection(
                    name,
                    conn.connector,
                    tuple(sorted(conn.settings.items())),
                    self.source.locate(("connections", name, "settings")),
                    tuple(self.setting_locations(name, conn.settings)),
                )
                for name, conn in sorted(document.connections.items())
            ),
            value_maps=tuple(
                (name, tuple(sorted(values.items()))) for name, values in sorted(self.value_maps.items())
            ),
            steps=ordered,
        )

    def setting_locations(
        self, connection: str, settings: dict[str, Any], prefix: tuple[str, ...] = ()
    ) -> Iterator[tuple[str, Location]]:
        """Where each setting of a connection is written, nested ones too, by dotted path."""
        for key, value in settings.items():
            path = (*prefix, str(key))
            location = self.source.locate(("connections", connection, "settings", *path))
            if location is not None:
                yield ".".join(path), location
            if isinstance(value, dict):
                yield from self.setting_locations(connection, value, path)

    # -- rule sets -------------------------------------------------------------------------

    def load_rule_sets(self) -> None:
        files = []
        for index, entry in enumerate(self.document.rule_sets):
            path = Path(entry)
            if not path.is_file():
                self.error(
                    "rule-set-not-found",
                    f"rule set `{display_name(path)}` does not exist",
                    ("rule_sets", index),
                )
                continue
            try:
                rule_set = load_rule_set(path)
            except DocumentError as e:
                self.diagnostics.extend(e.diagnostics)
                continue
            files.append(display_name(path))
            for name, rule in rule_set.rules.items():
                if name in self.rules:
                    self.error(
                        "duplicate-rule", f"rule `{name}` is defined by two rule sets", ("rule_sets", index)
                    )
                self.rules[name] = rule
            for name, values in rule_set.value_maps.items():
                self.value_maps.setdefault(name, values)
        self.rule_files = tuple(files)

    # -- expressions ------------------------------------------------------------------------

    def expression(self, text: str, path: DocPath, kind: str = "expression") -> CompiledExpression | None:
        compiler = compile_template if kind == "template" else compile_expression
        try:
            compiled = compiler(text, self.functions)
        except ExpressionError as e:
            self.error("invalid-expression", e.message, path, e.hint, offset=e.offset)
            return None
        return dataclasses.replace(compiled, location=self.source.locate(path))

    # -- steps --------------------------------------------------------------------------------

    def step(self, name: str, spec: model.ObjectMapping) -> plan.Step:
        at = ("objects", name)
        directions = self.directions(spec.direction)
        target = self.side(spec.target, (*at, "target"), creates="to_target" in plan.FLOWS[directions.create])
        parent = self.parent(spec.parent, name, (*at, "parent"))
        rules = StepRules(self)
        fields = rules.fields(spec, directions, target, (*at, "fields"))
        depends = {rule.link for rule in fields if rule.link and rule.link != name}
        if parent and parent.object in self.document.objects and parent.object not in depends:
            self.error(
                "parent-not-linked",
                f"no field links records to their parent `{parent.object}`",
                (*at, "parent"),
                f"map the field holding the parent's id with `link: {parent.object}`, e.g. "
                f"`WhatId: {{source: account_id, link: {parent.object}}}`",
            )
        return plan.Step(
            name=name,
            description=spec.description,
            source=self.side(
                spec.source, (*at, "source"), creates="to_source" in plan.FLOWS[directions.create]
            ),
            target=target,
            directions=directions,
            match=tuple(self.match_key(key, (*at, "match", i)) for i, key in enumerate(spec.match)),
            filters=tuple(
                f
                for i, spec_filter in enumerate(spec.filters)
                if (f := rules.filter(spec_filter, (*at, "filters", i)))
            ),
            fields=fields,
            conflicts=plan.Conflicts(**spec.conflicts.model_dump()),
            deletes=self.deletes(spec.deletes),
            limits=limits.compiled(self.document.limits, spec.limits),
            parent=parent,
            mode=spec.mode,
            depends_on=tuple(sorted(depends)),
        )

    @staticmethod
    def directions(spec: str | model.Directions) -> plan.Directions:
        if isinstance(spec, str):
            return plan.Directions(spec, spec)
        return plan.Directions(spec.create, spec.update)

    @staticmethod
    def deletes(spec: str | model.Deletes) -> plan.Deletes:
        return plan.Deletes(spec, spec) if isinstance(spec, str) else plan.Deletes(spec.to_target, spec.to_source)

    def side(self, spec: model.Side, at: DocPath, creates: bool) -> plan.Side:
        if spec.connection not in self.document.connections:
            known = list(self.document.connections)
            hint = did_you_mean(spec.connection, known) or (
                f"declared connections: {', '.join(known)}" if known else "declare it under `connections`"
            )
            self.error(
                "unknown-connection", f"unknown connection `{spec.connection}`", (*at, "connection"), hint
            )
        types = (spec.object,) if isinstance(spec.object, str) else tuple(spec.object)
        for code, message, key, hint in _type_problems(spec, types, creates):
            self.error(code, message, (*at, key), hint)
        window = spec.modified_within
        return plan.Side(
            connection=spec.connection,
            types=types,
            priority=spec.priority,
            create_as=spec.create_as or (types[0] if len(types) == 1 else None),
            id_field=spec.id,
            modified_field=spec.modified,
            where=spec.where,
            deleted_field=spec.deleted,
            query=spec.query,
            where_location=self.source.locate((*at, "where")) if spec.where else None,
            object_location=self.source.locate((*at, "object")),
            query_location=self.source.locate((*at, "query")) if spec.query else None,
            modified_within_seconds=int(window[:-1]) * SECONDS[window[-1]] if window else None,
            find_hard_deletes=spec.find_hard_deletes,
        )

    def parent(self, spec: str | model.Parent | None, name: str, at: DocPath) -> plan.Parent | None:
        if spec is None:
            return None
        parent = (
            plan.Parent(spec, "skip")
            if isinstance(spec, str)
            else plan.Parent(spec.object, spec.when_missing)
        )
        where = at if isinstance(spec, str) else (*at, "object")
        self.require_object(parent.object, where)
        return parent

    def require_object(self, name: str, at: DocPath) -> bool:
        objects = list(self.document.objects)
        if name in objects:
            return True
        self.error(
            "unknown-object",
            f"unknown object `{name}`",
            at,
            did_you_mean(name, objects) or f"objects in this document: {', '.join(objects)}",
        )
        return False

    def match_key(self, spec: model.MatchKey, at: DocPath) -> plan.MatchKey:
        targets = (spec.target,) if isinstance(spec.target, str) else tuple(spec.target)
        return plan.MatchKey(self.expression(spec.source, (*at, "source")), targets, spec.normalize)

    # -- fields --------------------------------------------------------------------------------

    # -- ordering ----------------------------------------------------------------------------

    def order(self, steps: dict[str, plan.Step]) -> tuple[plan.Step, ...]:
        """Dependencies first (accounts before the tasks that point to them); ties by name."""
        ordered, stuck = _dependencies_first(steps)
        if stuck:
            self.report_cycle(_cycle(stuck))
        return ordered

    def report_cycle(self, cycle: list[str]) -> None:
        first = cycle[0]
        spec = self.document.objects[first]
        at: DocPath = ("objects", first, "parent")
        if not (
            spec.parent and (spec.parent if isinstance(spec.parent, str) else spec.parent.object) == cycle[1]
        ):
            link_field = next(
                name for name, f in spec.fields.items() if not isinstance(f, str) and f.link == cycle[1]
            )
            at = ("objects", first, "fields", link_field, "link")
        self.error(
            "dependency-cycle",
            f"objects depend on each other in a cycle: {' -> '.join(cycle)}",
            at,
            "one object must be synced first; remove one `parent` or `link` from the cycle",
        )


def _dependencies_first(steps: dict[str, plan.Step]) -> tuple[tuple[plan.Step, ...], dict[str, set[str]]]:
    """The steps in order, and what is left when the rest depend on each other (then by name)."""
    remaining = {name: {d for d in step.depends_on if d in steps} for name, step in steps.items()}
    ordered: list[plan.Step] = []
    while remaining:
        ready = sorted(name for name, deps in remaining.items() if not deps)
        if not ready:
            return tuple(ordered) + tuple(steps[name] for name in sorted(remaining)), remaining
        for name in ready:
            ordered.append(steps[name])
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return tuple(ordered), {}


def _cycle(remaining: dict[str, set[str]]) -> list[str]:
    """One cycle among steps that depend on each other, from the first by name."""
    path = [sorted(remaining)[0]]
    while (nxt := sorted(remaining[path[-1]])[0]) not in path:
        path.append(nxt)
    return [*path[path.index(nxt) :], nxt]


def _type_problems(spec: model.Side, types: tuple[str, ...], creates: bool) -> Iterator[tuple[str, str, str, str]]:
    """A side of several record types must say which wins a shared key and which to create:
    (code, message, key at fault, hint)."""
    for key in ("priority", "create_as"):
        chosen = getattr(spec, key)
        if chosen is not None and chosen not in types:
            yield "unknown-type", f"`{chosen}` is not one of this side's types", key, f"choose one of: {', '.join(types)}"
    if len(types) > 1 and spec.priority is None:
        yield (
            "missing-priority", f"records of {' and '.join(types)} can share a key, but no type has priority",
            "object", f"add `priority: {types[0]}`: that type wins and the others are ignored",
        )  # fmt: skip
    if len(types) > 1 and creates and spec.create_as is None:
        yield (
            "missing-create-as", "this side receives new records but does not say which type to create",
            "object", f"add `create_as: {spec.priority or types[0]}`",
        )  # fmt: skip

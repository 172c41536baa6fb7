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
from engine.diagnostics import Diagnostic, DocPath, Location, did_you_mean, sort_diagnostics
from engine.errors import DocumentError
from engine.expressions import (
    CompiledExpression,
    DomainFunctions,
    ExpressionError,
    compile_expression,
    compile_template,
    field_path,
)
from engine.load import SourceMap, display_name, load
from engine.resolve import resolve
from engine.schema import check

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


def _types_overlap(first: tuple[str, ...] | None, second: tuple[str, ...] | None) -> bool:
    """Fields limited to different record types never write the same record."""
    return first is None or second is None or bool(set(first) & set(second))


def intersect(first: str, second: str) -> str:
    flows = set(plan.FLOWS[first]) & set(plan.FLOWS[second])
    return next(name for name, named in plan.FLOWS.items() if set(named) == flows)


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
        fields = self.fields(spec, directions, target, (*at, "fields"))
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
                if (f := self.filter(spec_filter, (*at, "filters", i)))
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
        for key in ("priority", "create_as"):
            chosen = getattr(spec, key)
            if chosen is not None and chosen not in types:
                self.error(
                    "unknown-type",
                    f"`{chosen}` is not one of this side's types",
                    (*at, key),
                    f"choose one of: {', '.join(types)}",
                )
        if len(types) > 1 and spec.priority is None:
            self.error(
                "missing-priority",
                f"records of {' and '.join(types)} can share a key, but no type has priority",
                (*at, "object"),
                f"add `priority: {types[0]}`: that type wins and the others are ignored",
            )
        if len(types) > 1 and creates and spec.create_as is None:
            self.error(
                "missing-create-as",
                "this side receives new records but does not say which type to create",
                (*at, "object"),
                f"add `create_as: {spec.priority or types[0]}`",
            )
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

    def filter(self, spec: model.Filter, at: DocPath) -> plan.Filter | None:
        if (spec.rule is None) == (spec.require is None):
            self.error(
                "filter-shape",
                "a filter needs either `rule` or `require`",
                at,
                "e.g. `require: FirstName` with `reason: no first name`",
            )
            return None
        if spec.rule is not None:
            rule = self.rules.get(spec.rule)
            if rule is None:
                hint = did_you_mean(spec.rule, self.rules) or (
                    f"known rules: {', '.join(sorted(self.rules))}"
                    if self.rules
                    else "list a rule set under `rule_sets`"
                )
                self.error("unknown-rule", f"unknown rule `{spec.rule}`", (*at, "rule"), hint)
                return None
            require = self.expression(rule.require, (*at, "rule"))
            return (
                plan.Filter(spec.side, require, spec.reason or rule.reason, spec.rule, spec.unlink)
                if require
                else None
            )
        if spec.reason is None:
            self.error(
                "missing-reason",
                "a filter with `require` needs a `reason`",
                at,
                "it is shown for every skipped record",
            )
        require = self.expression(spec.require, (*at, "require"))
        return plan.Filter(spec.side, require, spec.reason or "", None, spec.unlink) if require else None

    # -- fields --------------------------------------------------------------------------------

    def fields(
        self, spec: model.ObjectMapping, directions: plan.Directions, target: plan.Side, at: DocPath
    ) -> tuple[plan.FieldRule, ...]:
        rules = []
        seen_targets: dict[str, str] = {}
        written_back: dict[tuple[str, ...], list[plan.FieldRule]] = {}
        for name, entry in spec.fields.items():
            where = (*at, name)
            mapping = model.FieldMapping(source=entry) if isinstance(entry, str) else entry
            if name.lower() in seen_targets:
                self.error(
                    "field-twice",
                    f"target field `{name}` is already mapped as `{seen_targets[name.lower()]}`",
                    where,
                    at_key=True,
                )
                continue
            seen_targets[name.lower()] = name
            rule = self.field(name, mapping, directions, target, where, isinstance(entry, str))
            if rule is None:
                continue
            if rule.source is not None and rule.directions.allows("to_source"):
                same_source = written_back.setdefault(field_path(rule.source.text), [])
                clash = next(
                    (other for other in same_source if _types_overlap(other.types, rule.types)), None
                )
                if clash:
                    self.error(
                        "field-twice",
                        f"source field `{rule.source.text}` would be written back from both `{clash.target}` and `{name}`",
                        (*where, "source") if not isinstance(entry, str) else where,
                        "set `direction: to_target` on one of them, or limit them to different `types`",
                    )
                same_source.append(rule)
            rules.append(rule)
        return tuple(sorted(rules, key=lambda r: r.target))

    def field(
        self,
        name: str,
        spec: model.FieldMapping,
        directions: plan.Directions,
        target: plan.Side,
        at: DocPath,
        shorthand: bool,
    ) -> plan.FieldRule | None:
        given = [
            key
            for key in ("source", "value", "compute", "template")
            if key in spec.model_fields_set and getattr(spec, key) is not None
        ]
        if len(given) != 1:
            message = (
                f"field `{name}` says where its value comes from twice: {' and '.join(f'`{g}`' for g in given)}"
                if given
                else f"field `{name}` does not say where its value comes from"
            )
            self.error(
                "field-shape",
                message,
                at,
                "give exactly one of `source`, `value`, `compute` or `template`",
                at_key=True,
            )
            return None
        producer = given[0]
        source_at = at if shorthand else (*at, "source")
        if producer == "source" and field_path(spec.source) is None:
            self.error(
                "not-a-path",
                f"`{spec.source}` is not a field path",
                source_at,
                "use `compute:` for expressions; `source:` names a field such as `company.name`",
            )
            return None
        field_dir = self.field_direction(name, spec, producer, directions, at)
        if field_dir is None:
            return None
        create = intersect(directions.create, field_dir)
        update = "none" if spec.create_only else intersect(directions.update, field_dir)
        flows_back = "to_source" in plan.FLOWS[create] + plan.FLOWS[update]
        for type_name in spec.types or ():
            if type_name not in target.types:
                self.error(
                    "unknown-type",
                    f"`{type_name}` is not a target type of this object",
                    (*at, "types"),
                    f"target types: {', '.join(target.types)}",
                )
        if spec.link is not None:
            self.require_object(spec.link, (*at, "link"))
        return plan.FieldRule(
            target=name,
            directions=plan.Directions(create, update),
            source=self.expression(spec.source, source_at) if producer == "source" else None,
            value=spec.value,
            compute=self.expression(spec.compute, (*at, "compute")) if producer == "compute" else None,
            template=self.expression(spec.template, (*at, "template"), "template")
            if producer == "template"
            else None,
            transform=self.expression(spec.transform, (*at, "transform")) if spec.transform else None,
            value_map=self.value_map(spec.value_map, (*at, "value_map"), flows_back),
            default=spec.default,
            create_only=spec.create_only,
            optional=spec.optional,
            types=tuple(spec.types) if spec.types else None,
            conflict=spec.conflict,
            link=spec.link,
            lookup=plan.Lookup(spec.lookup.object, spec.lookup.by) if spec.lookup else None,
            location=self.source.locate(at, at_key=True),
        )

    def field_direction(
        self, name: str, spec: model.FieldMapping, producer: str, directions: plan.Directions, at: DocPath
    ) -> str | None:
        """The field's own direction: as written, or implied by what it is."""
        computed = producer != "source"
        related = "." in name
        if spec.direction is None:
            return "to_target" if computed else "to_source" if related else "both"
        for flow in plan.FLOWS[spec.direction]:
            if computed and flow == "to_source":
                self.error(
                    "direction-conflict",
                    f"a `{producer}` field can only flow to the target",
                    (*at, "direction"),
                    "use `direction: to_target`, or map a `source` field to flow back",
                )
                return None
            if related and flow == "to_target":
                self.error(
                    "direction-conflict",
                    f"`{name}` is a field of a related record and can only be read",
                    (*at, "direction"),
                    "use `direction: to_source`",
                )
                return None
            if not directions.allows(flow) and self.written_together(
                (*at, "direction"), (*at[:-2], "direction")
            ):
                self.error(
                    "direction-conflict",
                    f"field direction `{spec.direction}` contradicts the object's direction "
                    f"(create: {directions.create}, update: {directions.update})",
                    (*at, "direction"),
                    "remove the field's direction or widen the object's `direction`",
                )
                return None
        return spec.direction

    def written_together(self, field_at: DocPath, object_at: DocPath) -> bool:
        """Whether a field's direction and its object's were written in one file: a contradiction
        there is a mistake, while a document narrowing its template's direction simply stops the
        template's one-way fields from flowing."""
        field_location, object_location = self.source.locate(field_at), self.source.locate(object_at)
        return bool(field_location and object_location and field_location.file == object_location.file)

    def value_map(self, spec: str | dict | None, at: DocPath, flows_back: bool) -> tuple | None:
        if spec is None:
            return None
        if isinstance(spec, str):
            if spec not in self.value_maps:
                hint = did_you_mean(spec, self.value_maps) or "declare it under `value_maps`"
                self.error("unknown-value-map", f"unknown value map `{spec}`", at, hint)
                return None
            spec = self.value_maps[spec]
        if flows_back:
            seen: dict[Any, str] = {}
            for key, value in spec.items():
                if value in seen:
                    self.error(
                        "value-map-not-invertible",
                        f"`{seen[value]}` and `{key}` both map to `{value}`, so values flowing back are ambiguous",
                        at,
                        "set `direction: to_target` on this field, or make the map one-to-one",
                    )
                    break
                seen[value] = key
        return tuple(sorted(spec.items()))

    # -- ordering ----------------------------------------------------------------------------

    def order(self, steps: dict[str, plan.Step]) -> tuple[plan.Step, ...]:
        """Dependencies first (accounts before the tasks that point to them); ties by name."""
        remaining = {name: {d for d in step.depends_on if d in steps} for name, step in steps.items()}
        ordered: list[plan.Step] = []
        while remaining:
            ready = sorted(name for name, deps in remaining.items() if not deps)
            if not ready:
                self.report_cycle(remaining)
                return tuple(ordered) + tuple(steps[name] for name in sorted(remaining))
            for name in ready:
                ordered.append(steps[name])
                del remaining[name]
            for deps in remaining.values():
                deps.difference_update(ready)
        return tuple(ordered)

    def report_cycle(self, remaining: dict[str, set[str]]) -> None:
        start = sorted(remaining)[0]
        path = [start]
        while True:
            nxt = sorted(remaining[path[-1]])[0]
            if nxt in path:
                cycle = [*path[path.index(nxt) :], nxt]
                break
            path.append(nxt)
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

"""Compile the rules a step's records meet: its filters (written out or named from a rule set) and
its fields (where each value comes from, which way it flows on create and on update, its value
map), with the mistakes a document can make in them (a field mapped twice, a source field written
back from two fields, a direction its object does not allow)."""

from __future__ import annotations

from typing import Any, Protocol

from engine import model, plan
from engine.diagnostics import DocPath, did_you_mean
from engine.expressions import CompiledExpression, field_path
from engine.source_map import SourceMap


class Compiling(Protocol):
    """What compiling a step's rules needs of the document's compiler."""

    source: SourceMap
    value_maps: dict[str, dict[str, Any]]
    rules: dict[str, model.Rule]

    def error(self, code: str, message: str, path: DocPath, hint: str | None = None, **where: Any) -> None: ...

    def expression(self, text: str, path: DocPath, kind: str = "expression") -> CompiledExpression | None: ...

    def require_object(self, name: str, at: DocPath) -> bool: ...


class StepRules:
    """The filters and fields of one step, their mistakes reported through the document's compiler."""

    def __init__(self, compiler: Compiling):
        self.source, self.value_maps, self.rules = compiler.source, compiler.value_maps, compiler.rules
        self.error, self.expression, self.require_object = compiler.error, compiler.expression, compiler.require_object

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
        producer = self.producer(name, spec, at)
        if producer is None:
            return None
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

    def producer(self, name: str, spec: model.FieldMapping, at: DocPath) -> str | None:
        """Where the field's value comes from: exactly one of source, value, compute or template."""
        given = [
            key
            for key in ("source", "value", "compute", "template")
            if key in spec.model_fields_set and getattr(spec, key) is not None
        ]
        if len(given) == 1:
            return given[0]
        message = (
            f"field `{name}` says where its value comes from twice: {' and '.join(f'`{g}`' for g in given)}"
            if given
            else f"field `{name}` does not say where its value comes from"
        )
        hint = "give exactly one of `source`, `value`, `compute` or `template`"
        self.error("field-shape", message, at, hint, at_key=True)
        return None

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


def _types_overlap(first: tuple[str, ...] | None, second: tuple[str, ...] | None) -> bool:
    """Fields limited to different record types never write the same record."""
    return first is None or second is None or bool(set(first) & set(second))


def intersect(first: str, second: str) -> str:
    flows = set(plan.FLOWS[first]) & set(plan.FLOWS[second])
    return next(name for name, named in plan.FLOWS.items() if set(named) == flows)

"""The values a step's fields take: a target field's from its source record (forward), a source
field's from its target record (backward), with links translated and look-ups asked once a run."""

from __future__ import annotations

from typing import Any

from engine.connectors import Record
from engine.expressions import field_path
from engine.plan import FieldRule, Step
from engine.records import get_path
from engine.run.context import RunContext


class Values:
    """Field values of one step run."""

    def __init__(self, step: Step, context: RunContext):
        self.step, self.context = step, context
        self.target = context.connector(step.target.connection)
        # the source field each rule writes back, as its keys (`"First Name"` is `First Name`)
        self.written_back = {
            id(rule): ".".join(field_path(rule.source.text) or (rule.source.text,))
            for rule in step.fields
            if rule.source is not None
        }

    def applies(self, rule: FieldRule, target_type: str) -> bool:
        """Whether a rule writes a field of this target type (an optional one only if it has it)."""
        if rule.types and target_type not in rule.types:
            return False
        fields = self.context.target_fields(self.step.target.connection, target_type) if rule.optional else ()
        return not rule.optional or rule.target in fields

    def forward(self, rule: FieldRule, source: Record) -> Any:
        """The target value a field takes from the source record."""
        values = source.values
        if rule.source is not None:
            value = rule.source.evaluate(values)
        elif rule.compute is not None:
            value = rule.compute.evaluate(values)
        elif rule.template is not None:
            value = rule.template.evaluate(values)
        else:
            value = rule.value
        if rule.transform is not None and value is not None:
            value = rule.transform.evaluate(value)
        if rule.mapped is not None and value is not None:
            value = rule.mapped.get(str(value))
        if value in (None, "") and rule.default is not None:
            value = rule.default
        if rule.link and value is not None:
            value = self.context.links_of(rule.link).get(str(value))
        if rule.lookup and value is not None:
            value = self._lookup_id(rule, value)
        return value

    def backward(self, rule: FieldRule, target: Record) -> Any:
        """The source value a field takes from the target record; a placeholder default written
        to the target never comes back as a value."""
        value = get_path(target.values, rule.target)
        if rule.default is not None and value == rule.default:
            return None
        if rule.link and value is not None:
            value = self.context.sources_by_target(rule.link).get(str(value))
        if rule.lookup and value is not None:
            value = self._lookup_value(rule, value)
        if rule.unmapped is not None and value is not None:
            value = rule.unmapped.get(str(value))
        if rule.transform is not None and value is not None:
            value = rule.transform.evaluate(value)
        return value

    @staticmethod
    def comparable(rule: FieldRule, value: Any) -> Any:
        """A value as the field's transform would write it: formatting alone is not a change."""
        return rule.transform(value) if rule.transform is not None and value is not None else value

    def _lookup_id(self, rule: FieldRule, value: Any) -> str | None:
        key = ("id", rule.lookup.object, rule.lookup.by, value)
        if key not in self.context.lookups:
            found = self.target.find(rule.lookup.object, rule.lookup.by, [value])
            self.context.lookups[key] = found[0].id if len(found) == 1 else None
        return self.context.lookups[key]

    def _lookup_value(self, rule: FieldRule, record_id: Any) -> Any:
        key = ("value", rule.lookup.object, rule.lookup.by, record_id)
        if key not in self.context.lookups:
            found = self.target.get(rule.lookup.object, [str(record_id)])
            record = found.get(str(record_id))
            self.context.lookups[key] = record.values.get(rule.lookup.by) if record else None
        return self.context.lookups[key]

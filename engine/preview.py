"""Preview: render a ChangeSet for people (Terraform-like text) or machines (JSON).

Rendering only: the ChangeSet is already decided. Long previews are summarised per step; skipped
records are grouped by reason; personal data (emails, phone numbers) can be masked for sharing a
preview in a pull request or a ticket.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from typing import Any, TextIO

import click

from engine.changeset import Change, ChangeSet, write_json
from engine.plan import Plan

EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+)")
PHONE = re.compile(r"(\+?\d)[\d\s().-]{5,}(\d{2})")
SYMBOLS = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red"), "link": ("=", "cyan")}


def mask(value: Any) -> Any:
    """Hide most of every email address and phone number in a value, keeping it recognisable."""
    if isinstance(value, str):
        return PHONE.sub(r"\1***\2", EMAIL.sub(r"\1***\2", value))
    if isinstance(value, dict):
        return {key: mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask(item) for item in value]
    return value


def write_changes_json(changeset: ChangeSet, out: TextIO, masked: bool = False) -> None:
    write_json(changeset.to_dict(mask if masked else lambda value: value), out)


def render_text(
    changeset: ChangeSet, plan: Plan, limit: int = 20, detailed: bool = False, masked: bool = False
) -> str:
    show = mask if masked else (lambda value: value)
    lines = [click.style(f"syncmap plan {plan.name}", bold=True) + f"  {plan.hash[:19]}", ""]
    for step_changes in changeset.steps:
        step = plan.step(step_changes.step)
        read = ", ".join(f"{count} {side}" for side, count in step_changes.read.items())
        lines.append(
            click.style(step.name, bold=True)
            + f"  {step.source.connection}.{'/'.join(step.source.types)} <-> "
            + f"{step.target.connection}.{'/'.join(step.target.types)}  (read {read})"
        )
        lines.extend(click.style("  warning: ", fg="yellow") + warning for warning in step_changes.warnings)
        # a large plan's changes are on disk: only the writes shown are read back
        writes = step_changes.writes if detailed else itertools.islice(step_changes.writes, limit)
        for change in writes:
            lines.extend(_change_lines(change, show))
        if len(step_changes.writes) > limit and not detailed:
            lines.append(f"  ... and {len(step_changes.writes) - limit} more (use --detailed, or --limit N)")
        skips, conflicts = SkipGroups(detailed, limit), 0
        for change in step_changes.notes:
            if change.action != "conflict":
                skips.add(change)
                continue
            conflicts += 1
            if detailed or conflicts <= limit:
                lines.append(
                    click.style("  ! conflict ", fg="magenta")
                    + f"{change.record_type} {change.record_id}: {show(change.reason)}"
                )
        if conflicts > limit and not detailed:
            lines.append(f"  ... and {conflicts - limit} more conflicts (use --detailed, or --limit N)")
        lines.extend(skips.lines())
        if not step_changes.writes and not step_changes.notes:
            lines.append("  no changes")
        lines.append("")
    lines.append(click.style(changeset.summary(), bold=True))
    if by_connection := _by_connection(changeset):
        lines.append(by_connection)
    for name, calls in changeset.api_estimate.items():
        lines.append(
            f"API calls an apply would make on {name}: about {calls['reads'] + calls['writes']:,} "
            f"({calls['reads']:,} to read, {calls['writes']:,} to write)"
        )
    return "\n".join(lines)


def _by_connection(changeset: ChangeSet) -> str:
    """What each system gains and loses: "salesforce: 236 to create, 95 to update; platform: ..."."""
    parts = []
    for connection, counts in changeset.by_connection().items():
        verbs = ", ".join(f"{count} to {action}" for action, count in counts.items() if count)
        if verbs:
            parts.append(f"{connection}: {verbs}")
    return "; ".join(parts)


def _change_lines(change: Change, show) -> list[str]:
    symbol, color = SYMBOLS[change.action]
    where = "" if change.side == "target" else " (source)"
    record = f"{change.record_type} {change.record_id}" if change.record_id else f"new {change.record_type}"
    head = f"  {click.style(symbol, fg=color)} {change.action} {record}{where}"
    if change.origin:
        head += f"  from {show(change.origin)}"
    if change.reason:
        head += f"  [{show(change.reason)}]"
    lines, fields = [head], change.field_changes()
    width = max((len(f.field) for f in fields), default=0)
    for f in fields:
        value = (
            _value(show(f.new))
            if change.action == "create"
            else f"{_value(show(f.old))} -> {_value(show(f.new))}"
        )
        lines.append(f"      {f.field.ljust(width)}  {value}")
    return lines


# records waiting (uncounted), grouped by why: each one's reason names the record it waits for
WAITING = {
    "parent_not_linked": "waiting for a parent to be linked",
    "waiting_for_partner": "waiting for the partner being created",
}


class SkipGroups:
    """Skips grouped by reason, with a count and the first few records (all with --detailed)."""

    def __init__(self, detailed: bool, limit: int):
        self.detailed = detailed
        self.sample_size = min(limit, 5)
        self.counts: dict[tuple[bool, str], int] = defaultdict(int)
        self.samples: dict[tuple[bool, str], list[str]] = defaultdict(list)

    def add(self, change: Change) -> None:
        waiting = WAITING.get(change.code or "") if not change.counted else None
        group = (change.counted, waiting or change.reason or "skipped")
        self.counts[group] += 1
        if self.detailed or len(self.samples[group]) < self.sample_size:
            why = f" ({change.reason})" if waiting and change.reason else ""  # which parent, say
            self.samples[group].append(f"{change.record_type} {change.record_id}{why}")

    def lines(self) -> list[str]:
        lines = []
        for title, counted, listed in (("skipped", True, True), ("not counted", False, self.detailed)):
            groups = [(n, reason) for (c, reason), n in self.counts.items() if c == counted]
            if groups:
                lines.append(f"  {title}:")
            for count, reason in sorted(groups, key=lambda group: -group[0]):
                names = self.samples[(counted, reason)]
                more = f", ... {count - len(names)} more" if count > len(names) else ""
                lines.append(
                    f"    {reason}: {count}"
                    + (f"  ({', '.join(names)}{more})" if listed else "  (--detailed lists them)")
                )
        return lines


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def render_report(report, plan: Plan) -> str:
    """The closing lines of an apply: what was written, what failed, API calls made."""
    counts = report.applied()
    lines = [
        f"Applied {plan.name}: {counts['create']} created, {counts['update']} updated, {counts['delete']} deleted, "
        f"{counts['skip']} skipped, {counts['conflict']} conflicts, {report.failed} failed."
    ]
    for step_changes in report.changeset.steps:
        lines.extend(f"  warning: {step_changes.step}: {warning}" for warning in step_changes.warnings)
    for step in report.steps:
        for change, error in step.failed:
            record = " ".join(filter(None, (change.record_type, change.record_id)))
            lines.append(f"  failed {change.action} {record} from {change.origin}: {error}")
    if report.recovered:
        lines.append(f"  {report.recovered} records created by an interrupted run were found and linked.")
    if report.api_calls:
        lines.append(
            "  calls: " + ", ".join(f"{name} {count}" for name, count in sorted(report.api_calls.items()))
        )
    return "\n".join(lines)

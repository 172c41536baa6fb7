"""Diff: what a mapping change means, for the person reviewing it.

Two documents are compiled (each with everything it extends) and their Plans compared object by
object: sides, directions, match keys, filters, fields, conflict policies, deletes. Formatting,
comments and key order never show. Changes that can write where nothing was written before, or
break existing links, carry a `risk` saying why a reviewer should look twice.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import click

from engine.compile import compile_plan
from engine.diagnostics import Diagnostic
from engine.errors import DocumentError, UsageError
from engine.job import Job, Selection
from engine.plan import FLOWS, Plan, Step, plan_data

ACTIONS = ("create", "update", "delete", "link", "skip", "conflict")


@dataclass(frozen=True)
class Difference:
    object: str  # the synced object (step), or "" for the document itself
    what: str  # "field Email", "direction.update", "match key 1", "filter", ...
    old: Any  # None when added
    new: Any  # None when removed
    risk: str | None = None

    @property
    def kind(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"


def diff_plans(old: Plan, new: Plan) -> list[Difference]:
    found: list[Difference] = []
    old_doc, new_doc = plan_data(old), plan_data(new)
    for part in ("defaults", "connections", "value_maps", "schedule"):
        found += _compare("", part, old_doc.get(part), new_doc.get(part))
    old_steps, new_steps = {s.name: s for s in old.steps}, {s.name: s for s in new.steps}
    for name in old_steps.keys() - new_steps.keys():
        found.append(Difference(name, "object", _side_names(old_steps[name]), None))
    for name in new_steps.keys() - old_steps.keys():
        step = new_steps[name]
        writes = step.directions.allows("to_target")
        risk = f"a new object synced into {step.target.connection}" if writes else None
        found.append(Difference(name, "object", None, _side_names(step), risk))
    for name in [s.name for s in new.steps if s.name in old_steps]:
        found += _step_differences(old_steps[name], new_steps[name])
    return found


def _step_differences(old: Step, new: Step) -> list[Difference]:
    name, target = new.name, new.target.connection
    found: list[Difference] = []
    for part in ("source", "target", "conflicts", "parent", "mode"):
        found += _compare(name, part, plan_data(getattr(old, part)), plan_data(getattr(new, part)))
    for way in ("create", "update"):
        before, after = getattr(old.directions, way), getattr(new.directions, way)
        if before != after:
            gained = set(FLOWS[after]) - set(FLOWS[before])
            risk = None
            if way == "create" and gained:
                risk = "creation switched on: records will be created " + _where(gained, new)
            elif "to_target" in gained:
                risk = f"direction widened: now writes into {target}"
            elif "to_source" in gained:
                risk = f"direction widened: now writes into {new.source.connection}"
            found.append(Difference(name, f"direction.{way}", before, after, risk))
    for side in ("to_target", "to_source"):
        before, after = getattr(old.deletes, side), getattr(new.deletes, side)
        if before != after:
            where = target if side == "to_target" else new.source.connection
            risk = (
                f"deletes now propagate: records will be deleted in {where}" if after == "propagate" else None
            )
            found.append(Difference(name, f"deletes.{side}", before, after, risk))
    old_keys, new_keys = plan_data(old.match), plan_data(new.match)
    for index in range(max(len(old_keys), len(new_keys))):
        before = old_keys[index] if index < len(old_keys) else None
        after = new_keys[index] if index < len(new_keys) else None
        if before != after:
            risk = "match key changed: existing links may break, new matches may differ"
            found.append(Difference(name, f"match key {index + 1}", before, after, risk))
    old_filters, new_filters = plan_data(old.filters), plan_data(new.filters)
    for rule in old_filters:
        if rule not in new_filters:
            found.append(Difference(name, "filter", rule, None, "filter removed: more records will sync"))
    for rule in new_filters:
        if rule not in old_filters:
            found.append(Difference(name, "filter", None, rule))
    old_fields = {rule.target: rule for rule in old.fields}
    for rule in new.fields:
        before = old_fields.pop(rule.target, None)
        if before is None:
            found.append(Difference(name, f"field {rule.target}", None, _without_name(plan_data(rule))))
            continue
        changed = _compare(name, f"field {rule.target}", plan_data(before), plan_data(rule))
        if before.directions == old.directions and rule.directions == new.directions:
            changed = [item for item in changed if not item.what.endswith(".directions")]  # as the object's
        widened = "to_target" in set(FLOWS[rule.directions.update]) - set(FLOWS[before.directions.update])
        found += [
            replace(item, risk=f"field now written into {target}")
            if widened and item.what.endswith(".directions")
            else item
            for item in changed
        ]
    for gone in old_fields.values():
        found.append(Difference(name, f"field {gone.target}", _without_name(plan_data(gone)), None))
    return found


def compile_at_revision(path: Path, revision: str) -> Plan:
    """The document as it was at a git revision, with the files it extends as they were then:
    the repository at that revision is unpacked into a temporary folder and compiled there."""
    folder = path.resolve().parent
    root = Path(_git(["rev-parse", "--show-toplevel"], folder).decode().strip())
    archive = _git(["archive", "--format=tar", revision], root)
    with tempfile.TemporaryDirectory() as unpacked:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(unpacked, filter="data")
        (Path(unpacked) / ".git").mkdir(exist_ok=True)  # the project's root, as in the repository
        old = Path(unpacked) / path.resolve().relative_to(root)
        if not old.exists():
            raise UsageError(f"{path} does not exist at {revision}", hint="compare two files instead")
        try:
            return compile_plan(old)
        except DocumentError as e:  # named as the repository names them, not by the temporary folder
            raise DocumentError([_at_revision(d, Path(unpacked), revision) for d in e.diagnostics]) from None


def _at_revision(diagnostic: Diagnostic, unpacked: Path, revision: str) -> Diagnostic:
    """A problem found in the unpacked revision, located as `REV:path/in/the/repository`."""
    location = diagnostic.location
    if location is None or not Path(os.path.abspath(location.file)).is_relative_to(unpacked.resolve()):
        return diagnostic
    inside = Path(os.path.abspath(location.file)).relative_to(unpacked.resolve())
    return replace(diagnostic, location=replace(location, file=f"{revision}:{inside.as_posix()}"))


def _git(arguments: list[str], folder: Path) -> bytes:
    try:
        done = subprocess.run(["git", *arguments], cwd=folder, capture_output=True, check=True)
    except FileNotFoundError as e:
        raise UsageError("`--git` needs the git command", hint="install git, or compare two files") from e
    except subprocess.CalledProcessError as e:
        raise UsageError(
            f"git {' '.join(arguments)} failed: {e.stderr.decode().strip()}",
            hint="run it inside a git repository, with a revision that exists",
        ) from e
    return done.stdout


def data_impact(old: Plan, new: Plan, mapping: Path) -> dict[str, dict[str, dict[str, int]]]:
    """What each plan would do to the current data, by object: {object: {"old": counts, "new": counts}}.
    Both are full dry runs (every record, not only recent changes) against the mapping's
    connections and state: nothing is written."""
    impact: dict[str, dict[str, dict[str, int]]] = {}
    for label, plan in (("old", old), ("new", new)):
        with Job.open(mapping, plan=plan, read_only=True, selection=Selection(full=True)) as job:
            for step in job.plan_changes().steps:
                counts = {action: step.tally[action] for action in ACTIONS}
                impact.setdefault(step.step, {})[label] = counts
    return impact


def _compare(step: str, part: str, old: Any, new: Any) -> list[Difference]:
    """One difference per changed key of a part (or one for the whole part when not a mapping)."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            Difference(step, f"{part}.{key}", old.get(key), new.get(key))
            for key in dict.fromkeys([*old, *new])
            if old.get(key) != new.get(key)
        ]
    return [Difference(step, part, old, new)]


def _where(flows: set[str], step: Step) -> str:
    places = [
        step.target.connection if flow == "to_target" else step.source.connection for flow in sorted(flows)
    ]
    return "in " + " and ".join(places)


def _side_names(step: Step) -> str:
    return f"{step.source.connection}.{'/'.join(step.source.types)} <-> {step.target.connection}.{'/'.join(step.target.types)}"


def _without_name(rule: dict | None) -> dict | None:
    return {key: value for key, value in rule.items() if key != "target"} if rule else None


# -- rendering -------------------------------------------------------------------------------------


def render_text(differences: list[Difference], old_name: str, new_name: str) -> str:
    lines = [click.style(f"syncmap diff {old_name} -> {new_name}", bold=True), ""]
    if not differences:
        return "\n".join([*lines, "No differences in meaning."])
    symbols = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}
    for group, items in _grouped(differences):
        lines.append(click.style(group, bold=True))
        for item in items:
            symbol, color = symbols[item.kind]
            line = f"  {click.style(symbol, fg=color)} {item.what}: {_change(item)}"
            lines.append(line)
            if item.risk:
                lines.append(click.style(f"      risk: {item.risk}", fg="red", bold=True))
        lines.append("")
    lines.append(click.style(_summary(differences), bold=True))
    return "\n".join(lines)


def render_markdown(differences: list[Difference], old_name: str, new_name: str) -> str:
    lines = [f"### syncmap diff `{old_name}` → `{new_name}`", ""]
    if not differences:
        return "\n".join([*lines, "No differences in meaning."])
    lines += [f"**{_summary(differences)}**", ""]
    for group, items in _grouped(differences):
        lines += [f"#### {group}", "", "| | what | change | risk |", "|---|---|---|---|"]
        for item in items:
            risk = f"**⚠ {item.risk}**" if item.risk else ""
            change = _change(item).replace("|", "\\|")
            lines.append(f"| {item.kind} | `{item.what}` | {change} | {risk} |")
        lines.append("")
    return "\n".join(lines)


def render_json(
    differences: list[Difference], old_name: str, new_name: str, impact: dict | None = None
) -> str:
    data = {
        "old": old_name,
        "new": new_name,
        "risky": sum(1 for item in differences if item.risk),
        "differences": [{**asdict(item), "kind": item.kind} for item in differences],
        **({"impact": impact} if impact is not None else {}),
    }
    return json.dumps(data, indent=2, default=str)


def render_impact(impact: dict[str, dict[str, dict[str, int]]], markdown: bool = False) -> str:
    """Counts per object, old -> new, for the actions whose count changes."""
    lines = [
        "#### Impact on the current data"
        if markdown
        else click.style("Impact on the current data", bold=True)
    ]
    for name, counts in impact.items():
        old, new = counts.get("old", {}), counts.get("new", {})
        moved = [
            f"{action} {old.get(action, 0)} -> {new.get(action, 0)}"
            for action in ACTIONS
            if old.get(action, 0) != new.get(action, 0)
        ]
        lines.append(f"{'- ' if markdown else '  '}{name}: {', '.join(moved) if moved else 'no change'}")
    return "\n".join(lines)


def _grouped(differences: list[Difference]) -> list[tuple[str, list[Difference]]]:
    groups: dict[str, list[Difference]] = {}
    for item in differences:
        groups.setdefault(item.object or "(document)", []).append(item)
    return list(groups.items())


def _change(item: Difference) -> str:
    if item.kind == "added":
        return _shown(item.new)
    if item.kind == "removed":
        return _shown(item.old)
    return f"{_shown(item.old)} -> {_shown(item.new)}"


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"`{value}`"
    return json.dumps(value, default=str, ensure_ascii=False)


def _summary(differences: list[Difference]) -> str:
    risky = sum(1 for item in differences if item.risk)
    return f"{len(differences)} difference{'s' if len(differences) != 1 else ''}, {risky} risky."

"""A job: one compiled mapping document with its open connectors and state store.

This is the small public API that the CLI, tests and other programs call: ``Job.open`` a mapping,
then ``plan()`` for a dry run or ``apply()`` to write. It owns the order of work (reconcile an
interrupted run first, then each step: decide, write, record) and nothing else. ``Jobs`` is the
lifecycle of a project's jobs without their documents: status, run history, pause and resume.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson

from engine import limits, remote
from engine.apply import StepReport, apply_step, write_counts
from engine.changeset import Change, ChangeSet, StepChanges
from engine.compile import compile_plan
from engine.connections import open_connectors
from engine.connectors import Connector, Registry, capabilities
from engine.diagnostics import did_you_mean
from engine.errors import ApiBudgetError, DocumentError, JobBusyError, SyncmapError, UsageError
from engine.lease import JobLease
from engine.plan import Plan, Step
from engine.progress import Meter
from engine.reconcile import reconcile
from engine.resolve import find_project_root
from engine.run import RunContext, run, run_step
from engine.state import StateStore, project_journal_days, project_state


@dataclass(frozen=True)
class Selection:
    """What one run covers. The default is a scheduled run: the automatic objects, changes only,
    both ways. One-time operations narrow it: `objects` (manual ones included), `full` (every
    record, e.g. "push all"), `flow` (`to_target` pushes, `to_source` pulls, nothing else)."""

    objects: tuple[str, ...] = ()
    full: bool = False
    flow: str | None = None

    def steps(self, plan: Plan) -> list[Step]:
        names = [step.name for step in plan.steps]
        for name in self.objects:
            if name not in names:
                raise UsageError(
                    f"{plan.name} has no object `{name}`",
                    hint=did_you_mean(name, names) or f"its objects: {', '.join(names)}",
                )
        chosen = [
            step
            for step in plan.steps
            if (step.name in self.objects if self.objects else step.mode == "automatic")
        ]
        return [step.only(self.flow) if self.flow else step for step in chosen]

    def to_dict(self) -> dict[str, Any]:
        return {"objects": list(self.objects), "full": self.full, "flow": self.flow}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        return cls(tuple(data.get("objects", ())), bool(data.get("full")), data.get("flow"))


@dataclass
class RunReport:
    """What an apply did, with the same counts as the preview."""

    changeset: ChangeSet
    steps: list[StepReport] = field(default_factory=list)
    recovered: int = 0
    run_id: int | None = None  # the run's number in the state store's history
    api_calls: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(len(step.failed) for step in self.steps)

    def applied(self) -> dict[str, Any]:
        """The counts of what was done: the planned changes less those that failed, and the
        skips and conflicts by reason code (kept in the run history)."""
        failed = Counter(change.action for step in self.steps for change, _ in step.failed)
        counts = self.changeset.counts()
        done = {action: max(0, count - failed[action]) for action, count in counts.items()}
        decided = sum(len(step.decided) for step in self.changeset.steps)  # a person's decisions taken
        return {**done, "failed": self.failed, "decided": decided, "reasons": self.changeset.reasons()}

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.changeset.to_dict(),
            "applied": self.applied(),
            "written": sum(step.written for step in self.steps),
            "failed": [
                {"step": step.step, "record": change.origin, "action": change.action, "error": error}
                for step in self.steps
                for change, error in step.failed
            ],
            "recovered": self.recovered,
            "api_calls": self.api_calls,
        }


class Jobs:
    """The jobs a project's state store knows (found from ``folder``, or the store named):
    what `syncmap status`, `runs`, `pause` and `resume` show and change."""

    def __init__(self, state_path: Path | str | None = None, folder: Path | None = None, read_only: bool = True):
        root = find_project_root((folder or Path.cwd()) / "syncmap.yaml")
        self.path = state_path or project_state(root)
        self.state = StateStore(self.path, read_only=read_only)

    def __enter__(self) -> Jobs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.close()

    def known(self, job: str) -> None:
        """A UsageError, with a did-you-mean, for a job this store does not know."""
        if self.state.job_status(job) is None:
            known = [entry["job"] for entry in self.state.jobs()]
            raise UsageError(
                f"no job `{job}` in this project",
                hint=did_you_mean(job, known) or "`syncmap status` lists the jobs",
            )

    def statuses(self) -> list[dict[str, Any]]:
        """Every job: its status, last run and last error."""
        return self.state.jobs()

    def runs(self, job: str) -> list[dict[str, Any]]:
        """The job's runs, newest first; a UsageError for a job with none."""
        history = self.state.runs(job)
        if not history:
            raise UsageError(f"no runs of `{job}` in this project", hint="`syncmap status` lists the jobs")
        return history

    def failures(self, job: str | None = None) -> list[dict[str, Any]]:
        """The records whose write failed (a job's, or every job's): each run tries them again."""
        if job is not None:
            self.known(job)
        return self.state.dead_letters(job)

    def conflicts(self, job: str | None = None) -> list[dict[str, Any]]:
        """The records held for a person to decide (a job's, or every job's), as the last run left them."""
        if job is not None:
            self.known(job)
        return self.state.holds(job)

    def forget_failures(self, job: str) -> int:
        """Stop trying a job's failed records again; how many there were."""
        self.known(job)
        with self.state.transaction():
            return self.state.forget_dead_letters(job)

    def set_status(self, job: str, status: str) -> None:
        """Pause (`paused`) or resume (`active`) a job the store knows."""
        self.known(job)
        with self.state.transaction():
            self.state.set_job_status(job, status)


class Job:
    """A mapping document ready to plan or apply."""

    def __init__(
        self,
        plan: Plan,
        connectors: dict[str, Connector],
        state: StateStore,
        selection: Selection = Selection(),
    ):
        self.plan = plan
        self.connectors = connectors
        self.state = state
        self.selection = selection
        self.steps = selection.steps(plan)
        self.router = "records"  # which router turns the records read into routes (engine/run/router.py)

    @classmethod
    def open(
        cls,
        mapping: Path,
        state_path: Path | str | None = None,
        registry: Registry | None = None,
        environ: Mapping[str, str] | None = None,
        read_only: bool = False,
        selection: Selection = Selection(),
        plan: Plan | None = None,
    ) -> Job:
        """Compile a mapping (unless its ``plan`` is given) and open its connectors and state
        (``read_only`` for dry runs)."""
        plan = plan or compile_plan(mapping)
        root = find_project_root(mapping)
        state = StateStore(state_path or project_state(root), read_only, journal_days=project_journal_days(root))
        connectors = open_connectors(
            plan, registry or Registry(), mapping.resolve().parent, environ or os.environ, read_only
        )
        return cls(plan, connectors, state, selection)

    def close(self) -> None:
        for connector in self.connectors.values():
            connector.close()
        self.state.close()

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def name(self) -> str:
        return self.plan.name

    def context(self, applying: bool = True, lease: JobLease | None = None, fingerprinted: bool = True) -> RunContext:
        return RunContext(
            self.plan,
            self.connectors,
            self.state,
            self.name,
            full=self.selection.full,
            flow=self.selection.flow,
            applying=applying,
            router=self.router,
            lease=lease,
            fingerprinted=fingerprinted,
        )

    def check_systems(self) -> None:
        """Refuse, located in the document, what the systems say cannot work (unknown objects
        and fields, values that cannot be set, required fields left out): before any read."""
        problems = remote.check_remote(self.plan, self.connectors, self.steps)
        if problems:
            raise DocumentError(problems)

    def plan_changes(self, fingerprinted: bool = True) -> ChangeSet:
        """The dry run: decide everything, write nothing (not even to the state store). Without
        `fingerprinted`, the records read are not digested: the plan is only shown, not saved."""
        before = self.api_calls()  # the describes of the check are made by an apply too
        self.check_systems()
        context = self.context(applying=False, fingerprinted=fingerprinted)
        changeset = run(self.plan, self.steps, context)
        changeset.api_estimate = self.estimate_calls(changeset, before)
        return changeset

    def estimate_calls(self, changeset: ChangeSet, before: dict[str, int]) -> dict[str, dict[str, int]]:
        """The API calls an apply of this plan would make, per connection whose connector counts
        what writes cost (Salesforce): the reads the plan made, and the writes' estimate."""
        counts: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
        for changes in changeset.steps:
            for connection, counted in write_counts(changes, self.plan.step(changes.step)).items():
                counts[connection] += counted
        calls = self.api_calls()
        writes = {name: capabilities(c).write_calls(counts[name]) for name, c in self.connectors.items()}
        return {
            name: {"reads": calls[name] - before.get(name, 0), "writes": estimate}
            for name, estimate in writes.items()
            if estimate is not None
        }

    def lease(self, command: str, wait: float = 0.0) -> JobLease:
        """Take the job's lease (one run of a job at a time); release it by leaving the `with`."""
        return JobLease(self.state, self.name, command).acquire(wait)

    def apply(
        self,
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
        expected_fingerprint: str | None = None,
        wait: float = 0.0,
        command: str = "apply",
        allow_over_limits: bool = False,
        meter: Meter | None = None,
    ) -> RunReport:
        """Take the job's lease (waiting up to ``wait`` seconds), then decide and write step by
        step, so later steps see the links earlier steps made. A step whose writes cross its
        limits stops the run before they are made, unless ``allow_over_limits``."""
        with self.lease(command, wait) as lease:
            return self._apply(batch_size, progress, expected_fingerprint, lease, allow_over_limits, meter)

    def _apply(
        self, batch_size: int | None, progress: Callable[[int], None] | None, expected_fingerprint: str | None,
        lease: JobLease, allow_over_limits: bool = False, meter: Meter | None = None,
    ) -> RunReport:  # fmt: skip
        """Decide and write step by step; a saved plan (``expected_fingerprint``) is decided
        whole first, from one read of each side, and written only if that read matches it."""
        self.check_systems()
        context = self.context(lease=lease, fingerprinted=expected_fingerprint is not None)
        context.meter = meter or context.meter
        steps = {step.name: step for step in self.plan.steps}
        settled = reconcile(context, steps)
        context.held = settled.held
        report = RunReport(ChangeSet(self.name, self.plan.hash), recovered=settled.recovered)
        stopped = self.stopped()
        if stopped:
            raise SyncmapError(
                f"{self.name} is {stopped}; nothing was run",
                hint=f"`syncmap resume {self.name}` lets it run again"
                + (" (from a new initial sync)" if stopped == "deleted" else ""),
            )
        planned = run(self.plan, self.steps, context) if expected_fingerprint else None
        if planned is not None and fingerprint(planned) != expected_fingerprint:
            raise SyncmapError(
                "the records changed since this plan was saved; it was not applied",
                hint="run `syncmap plan --out` again and review the new plan",
            )
        first = not self.state.ever_done(self.name)
        run_id = report.run_id = self.state.start_run(self.name, self.plan.hash)
        self.state.set_job_status(self.name, "initial sync" if first else "running", keep_stopped=True)
        if self.plan.files:
            self.state.note_mapping(self.name, str(Path(self.plan.files[-1]).resolve()))
        try:
            for index, step in enumerate(self.steps):
                changes = planned.steps[index] if planned else run_step(step, context)
                report.changeset.steps.append(changes)
                if not allow_over_limits:
                    limits.check(changes, step, context.links(step.name))
                report.steps.append(apply_step(changes, step, context, run_id, batch_size, progress))
        except JobBusyError:
            raise  # the run that took the job over owns its status now
        except SyncmapError as e:
            waiting = isinstance(e, ApiBudgetError)
            self.state.finish_run(
                run_id, "stopped" if waiting else "error", report.changeset.counts(), e.message
            )
            status = "waiting for API budget" if waiting else "errors"
            self.state.set_job_status(self.name, status, e.message, keep_stopped=True)
            raise
        report.api_calls = self.api_calls()
        status = "errors" if report.failed else "active"
        self.state.finish_run(run_id, "done", report.applied(), None)
        failures = f"{report.failed} record{'s' if report.failed != 1 else ''} failed"
        self.state.set_job_status(self.name, status, failures if report.failed else None, keep_stopped=True)
        return report

    @contextmanager
    def runs_held_off(self) -> Iterator[None]:
        """No new run of the job starts while the caller waits for the one in progress to end
        (`syncmap delete` beside a `watch`): the job is paused meanwhile, and its status comes
        back if the caller gives up."""
        before = self.state.job_status(self.name)
        if before is None or before[0] in ("paused", "deleted"):
            yield
            return
        with self.state.transaction():
            self.state.set_job_status(self.name, "paused", before[1])
        try:
            yield
        except BaseException:
            with self.state.transaction():
                self.state.set_job_status(self.name, *before)
            raise

    def stopped(self) -> str | None:
        """`paused` or `deleted` when the job must not run (until `syncmap resume`), else None."""
        status = (self.state.job_status(self.name) or ("",))[0]
        return status if status in ("paused", "deleted") else None

    def revert_changes(self, side: str) -> ChangeSet:
        """Delete and revert, as a plan: delete every record this job created on one side (its
        links say which: made by `created:<side>` or `recovered:<side>`), and nothing else.
        Children are deleted before their parents."""
        changeset = ChangeSet(self.name, self.plan.hash)
        for step in reversed(self.plan.steps):
            changes = StepChanges(
                step.name, connections={"source": step.source.connection, "target": step.target.connection}
            )
            for source_id, link in self.state.links(self.name, step.name).items():
                if link.made_by not in (f"created:{side}", f"recovered:{side}"):
                    continue
                record_type, record_id = (
                    (link.target_type, link.target_id) if side == "target" else (link.source_type, source_id)
                )
                changes.add(
                    Change(step.name, "delete", side, record_type, record_id,
                           reason="created by this job", source_id=source_id)
                )  # fmt: skip
                changes.unlinks.append(source_id)
            changeset.steps.append(changes)
        return changeset

    def revert(self, side: str, batch_size: int | None = None, lease: JobLease | None = None) -> RunReport:
        """Apply ``revert_changes`` under the job's lease (the one given, held by the caller
        for more work, or one taken for this): the records are deleted, their links forgotten."""
        if lease is None:
            with self.lease("delete") as taken:
                return self.revert(side, batch_size, taken)
        context = self.context(lease=lease)
        report = RunReport(self.revert_changes(side))
        run_id = self.state.start_run(self.name, self.plan.hash)
        for changes in report.changeset.steps:
            report.steps.append(
                apply_step(changes, self.plan.step(changes.step), context, run_id, batch_size)
            )
        self.state.finish_run(run_id, "reverted", report.applied(), None)
        report.api_calls = self.api_calls()
        return report

    def forget(self) -> None:
        """Delete the job: its links, watermarks and history go; the records stay."""
        self.state.forget(self.name)

    def api_calls(self) -> dict[str, int]:
        return {name: sum(connector.calls.values()) for name, connector in self.connectors.items()}


def fingerprint(changeset: ChangeSet) -> str:
    """A digest of the plan and of every record a dry run read (id and modification time)."""
    data = [changeset.plan_hash, [step.digest for step in changeset.steps]]
    return "sha256:" + hashlib.sha256(json.dumps(data).encode()).hexdigest()


def saved_plan(changeset: ChangeSet, mapping: Path, selection: Selection) -> dict[str, Any]:
    return {
        "syncmap_plan": 1,
        "mapping": str(mapping),
        "fingerprint": fingerprint(changeset),
        "selection": selection.to_dict(),
        **changeset.to_dict(),
    }


def load_saved_plan(path: Path) -> dict[str, Any]:
    """What applying a saved plan needs: the keys before its changes, read without the changes
    (a plan of a million records is a large file)."""
    data: dict[str, Any] = {}
    try:
        with path.open("rb") as file:
            for key, value in ijson.kvitems(file, "", use_float=True):
                if key == "steps":
                    break
                data[key] = value
    except (OSError, ijson.JSONError) as e:
        raise UsageError(
            f"{path} is not a saved plan: {e}", hint="create one with `syncmap plan MAPPING --out plan.json`"
        ) from e
    if data.get("syncmap_plan") != 1:
        raise UsageError(
            f"{path} is not a saved plan", hint="create one with `syncmap plan MAPPING --out plan.json`"
        )
    return data

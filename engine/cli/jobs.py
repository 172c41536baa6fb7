"""Commands on the jobs a state store knows: status, runs, explain, conflicts, resolve, failures,
pause, resume, delete."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine import decisions, preview
from engine.cli.common import FORMAT, STATE, WAIT, command, project_option, reports_errors
from engine.errors import UsageError
from engine.explain import render as render_story
from engine.explain import story
from engine.job import Job, Jobs


@command()
@STATE
@project_option
@FORMAT
@reports_errors
def status(state_path, output_format) -> None:
    """Every job of the project: its status (initial sync, running, active, paused, errors) and last run."""
    with Jobs(state_path) as project:
        jobs, store = project.statuses(), project.state.where
    if output_format == "json":
        click.echo(json.dumps(jobs, indent=2))
        return
    if not jobs:
        click.echo(f"No jobs yet in {store}: `syncmap apply MAPPING` starts one (or give `--project`).")
    for job in jobs:
        run = job["last_run"] or {}
        counts = _counts_text(run.get("counts") or {})
        line = f"{job['job']:<32} {job['status']:<13} last run {run.get('finished_at') or '-'}"
        line += f"  next run {job['next_run']}" if job["next_run"] else ""
        held = f"\n    {job['held']} held for a person: `syncmap plan` shows why" if job["held"] else ""
        holder = job["running"]
        running = (
            f"\n    running now: `syncmap {holder['command']}` (pid {holder['pid']} on {holder['host']}) "
            f"since {holder['since']}"
            if holder
            else ""
        )
        click.echo(
            line
            + (f"  ({counts})" if counts else "")
            + running
            + (f"\n    {job['last_error']}" if job["last_error"] else "")
            + held
            + (f"\n    mapping: {job['mapping']}" if job["mapping"] else "")
        )
    if jobs:
        click.echo(f"(state: {store})")


@command()
@click.argument("job", required=False, metavar="[MAPPING|JOB]")
@STATE
@project_option
@FORMAT
@reports_errors
def conflicts(job: str | None, state_path, output_format) -> None:
    """The records held for a person to decide (of JOB, or of every job): each with its reason
    code, why, since when and its candidates, as the last run left them. Given the job's MAPPING,
    the values of each held record and of its candidates are read from the systems too."""
    if job is not None and Path(job).is_file():
        with Job.open(Path(job), state_path, read_only=True) as opened:
            held = decisions.with_values(opened, opened.state.holds(opened.name))
    else:
        with Jobs(state_path) as project:
            held = project.conflicts(job)
    _listed(held, output_format, "No conflicts.", _held_lines)  # fmt: skip


def _held_lines(hold: dict[str, Any]) -> str:
    lines = [f"{hold['job']}/{hold['step']}  {hold['side']} {hold['record_type']} {hold['record_id']}  "
             f"[{hold['code']}]", f"    {hold['reason']}", f"    held since {hold['since']}"]  # fmt: skip
    if hold.get("values"):
        lines.append(f"    its values: {_values_text(hold['values'])}")
    for candidate in hold["candidates"]:
        values = hold.get("candidate_values", {}).get(candidate)
        lines.append(f"    candidate {candidate}" + (f": {_values_text(values)}" if values else ""))
    return "\n".join(lines)


def _values_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{name} {json.dumps(value, default=str)}" for name, value in values.items())


@command()
@click.argument("job")
@click.argument("record")
@click.option(
    "--link",
    "candidate",
    metavar="CANDIDATE",
    help="Link it to this record of the other side (`Type id`, or an id).",
)
@click.option("--create", "kind", flag_value="create", help="Create its partner, whatever it matches.")
@click.option(
    "--keep-source",
    "kind",
    flag_value="keep_source",
    help="Pair it, its side's values kept where they differ.",
)
@click.option(
    "--keep-target",
    "kind",
    flag_value="keep_target",
    help="Pair it, the other side's values kept where they differ.",
)
@click.option("--ignore", "kind", flag_value="ignore", help="Leave it alone in every run, until undone.")
@click.option("--undo", "kind", flag_value="undo", help="Take back the decision on it (and a link it made).")
@click.option("--object", "step", help="The object that holds it, when several do.")
@STATE
@project_option
@FORMAT
@reports_errors
def resolve(
    job: str,
    record: str,
    candidate: str | None,
    kind: str | None,
    step: str | None,
    state_path,
    output_format,
) -> None:
    """Decide on a record JOB holds for a person (`syncmap conflicts` lists them): the next run
    does what you decided, and its history counts it."""
    if (candidate is None) == (kind is None):  # one decision, neither none nor two
        raise UsageError(
            "say one decision: --link CANDIDATE, --create, --keep-source, --keep-target, --ignore or --undo",
            hint=f"e.g. `syncmap resolve {job} {record} --link 'Lead 00Q...'`",
        )
    with Jobs(state_path, read_only=False) as project:
        project.known(job)
        if kind == "undo":
            done = decisions.undo(project.state, job, record, step)
        else:
            done = decisions.decide(project.state, job, record, kind or "link", candidate, step)
    if output_format == "json":
        click.echo(json.dumps(done, indent=2))
    elif kind == "undo":
        click.echo(
            f"decision on {record} undone"
            + ("; its link dropped" if done["unlinked"] else "")
            + ": the next run decides it afresh."
        )
    else:
        click.echo(done["said"] + ".")


@command()
@click.argument("job")
@click.argument("record")
@STATE
@project_option
@FORMAT
@reports_errors
def explain(job: str, record: str, state_path, output_format) -> None:
    """A record's story in JOB (its id, on either side): its link and the values the pair agreed
    on, why it is held, its failed write, a person's decisions on it, and its writes by run."""
    with Jobs(state_path) as project:
        project.known(job)
        found = story(project.state, job, record, project.state.linked_steps(job))
    click.echo(json.dumps(found, indent=2) if output_format == "json" else render_story(found))


@command()
@click.argument("job", required=False)
@click.option("--forget", is_flag=True, help="Stop trying JOB's failed records again.")
@STATE
@project_option
@FORMAT
@reports_errors
def failures(job: str | None, forget: bool, state_path, output_format) -> None:
    """The records whose write failed (of JOB, or of every job), each tried again by every run
    until it is written: what failed, why, since when and how often."""
    if forget and job is None:
        raise UsageError(
            "`--forget` needs the job whose failed records to forget", hint="syncmap failures JOB --forget"
        )
    with Jobs(state_path, read_only=not forget) as project:
        if forget:
            click.echo(
                f"{project.forget_failures(job)} failed records of {job} forgotten: no run tries them again."
            )
            return
        letters = project.failures(job)
    _listed(letters, output_format, "No failed records.", lambda letter: (
        f"{letter['job']}/{letter['step']}  {letter['side']} {letter['record_id']}: "
        f"{(letter['op'] + ' ' + letter['record_type']).strip() or 'write'} failed {letter['attempts']}x\n"
        f"    {letter['error']}\n    failing since {letter['first_seen']}, last tried {letter['last_seen']}"
    ))  # fmt: skip


@command()
@click.argument("job")
@STATE
@project_option
@FORMAT
@reports_errors
def runs(job: str, state_path, output_format) -> None:
    """The run history of a job, with the counts of each run."""
    with Jobs(state_path) as project:
        history = project.runs(job)
    if output_format == "json":
        click.echo(json.dumps(history, indent=2))
        return
    for run in history:
        counts = _counts_text(run["counts"]) or "nothing to do"
        click.echo(
            f"#{run['id']:<5} {run['started_at']}  {run['status']:<8} {counts}"
            + (f"  {run['error']}" if run["error"] else "")
        )


def _listed(items: list[dict[str, Any]], output_format: str, nothing: str, line: Callable[[dict], str]) -> None:
    """A list as JSON, or a line (or two) each, or what to say when it is empty."""
    if output_format == "json":
        click.echo(json.dumps(items, indent=2))
        return
    click.echo("\n".join(map(line, items)) if items else nothing)


def _counts_text(counts: dict[str, Any]) -> str:
    """`3 create, 2 skip` (the counts by reason code are in `--format json`)."""
    return ", ".join(f"{n} {k}" for k, n in counts.items() if isinstance(n, int) and n)


@command()
@click.argument("job")
@STATE
@project_option
@reports_errors
def pause(job: str, state_path) -> None:
    """Pause a job: `apply` will not run it until it is resumed."""
    _set_status(job, state_path, "paused")


@command()
@click.argument("job")
@STATE
@project_option
@reports_errors
def resume(job: str, state_path) -> None:
    """Resume a paused job: `apply` runs it again, from where it stopped."""
    _set_status(job, state_path, "active")


def _set_status(job: str, state_path: Path | str | None, status: str) -> None:
    with Jobs(state_path, read_only=False) as project:
        project.set_status(job, status)
    click.echo(f"{job} is {status}.")


@command()
@click.argument("mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@STATE
@click.option("--revert", type=click.Choice(["target", "source"]), help="Also delete what the job created on this side.")  # fmt: skip
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@WAIT
@reports_errors
def delete(mapping: Path, state_path, revert: str | None, yes: bool, wait: float) -> None:
    """Stop a job and forget its links, keeping the records on both sides; with --revert, first
    delete the records it created on one side (after showing them). A job that is running is
    not deleted under the run: the command refuses (exit 5), or with --wait holds off new runs
    (a `watch`) and waits for the one in progress, giving up with the job as it was."""
    with Job.open(mapping, state_path) as job, job.runs_held_off(), job.lease("delete", wait) as lease:
        if revert:
            changes = job.revert_changes(revert)
            click.echo(preview.render_text(changes, job.plan, detailed=True))
            if not yes:
                _confirm(f"Delete these records and forget {job.name}?")
            report = job.revert(revert, lease=lease)
            if report.failed:
                click.echo(preview.render_report(report, job.plan))
                sys.exit(1)
        elif not yes:
            _confirm(f"Forget the links of {job.name} (the records stay)?")
        job.forget()
        click.echo(
            f"{job.name} is deleted; its records stay"
            + (f", except those it created in the {revert}." if revert else ".")
        )


def _confirm(question: str) -> None:
    try:
        confirmed = click.confirm(question)
    except click.Abort:  # no terminal to answer on, or Ctrl-C
        confirmed = False
    if not confirmed:
        raise UsageError("nothing was deleted", hint="answer `y`, or pass --yes")


COMMANDS = (status, runs, explain, conflicts, resolve, failures, pause, resume, delete)

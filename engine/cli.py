"""The `syncmap` command: parse arguments, call the library, render the result. Nothing else.

Every error reaching the user is a ``SyncmapError`` rendered without a traceback, and each error
class carries its exit code: 0 success, 1 invalid documents or failed records, 2 changes planned
(`plan --detailed-exitcode`), 3 connector failures, 4 state store failures, 5 a job busy with
another run, 64 usage errors.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from engine import __version__, diff, mapping_tests, preview, remote, versions
from engine.changeset import write_json
from engine.compile import compile_plan
from engine.diagnostics import render_json, render_text
from engine.errors import DocumentError, SyncmapError, UsageError, exit_codes_help
from engine.job import Job, Jobs, Selection, load_saved_plan, saved_plan
from engine.plan import plan_data
from engine.schema import KINDS, schema_text
from engine.validate import validate as validate_documents
from engine.watch import Watcher, interval_seconds, text_line
from engine.webhook import SECRET_VARIABLE as WEBHOOK_SECRET
from engine.webhook import WebhookListener

FORMAT = click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Human-readable text, or JSON for machines.",
)  # fmt: skip


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a SyncmapError into its message and exit code; JSON mode prints errors as JSON."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DocumentError as e:
            if kwargs.get("output_format") == "json":
                click.echo(render_json(e.diagnostics))
            else:
                click.echo(render_text(e.diagnostics), err=True)
                click.echo(_error_summary(len(e.diagnostics)), err=True)
            sys.exit(e.exit_code)
        except SyncmapError as e:
            click.echo(f"error: {e.message}", err=True)
            if e.hint:
                click.echo(f"  hint: {e.hint}", err=True)
            sys.exit(e.exit_code)

    return wrapper


def _error_summary(count: int) -> str:
    return f"Found {count} error{'s' if count != 1 else ''}."


class _Command(click.Command):
    """A command whose help ends with the exit codes."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, epilog=exit_codes_help(), **kwargs)


class _Commands(click.Group):
    """Click's own usage errors (an unknown option, a missing file) exit with syncmap's usage
    code too, never 2: a CI step reading `plan --detailed-exitcode` must tell them apart."""

    command_class = _Command

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as e:
            e.show()
            sys.exit(UsageError.exit_code)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "sandbox":  # a server of its own, imported only when asked for
            from engine.sandbox.command import sandbox_command

            return sandbox_command
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "sandbox"])


@click.group(
    cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]}, epilog=exit_codes_help()
)
@click.version_option(__version__, prog_name="syncmap")
def main() -> None:
    """syncmap: declarative two-way CRM sync from versioned YAML mapping documents."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@FORMAT
@reports_errors
def validate(paths: tuple[Path, ...], output_format: str) -> None:
    """Check mapping documents and rule sets (files, or folders searched for *.yaml/*.yml).

    Every error of every file is reported, in file order, with its location and a hint.
    Exits 0 when all documents are valid, 1 when any is invalid, 64 on usage errors.
    """
    report = validate_documents(paths or (Path("."),))
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "valid": report.valid,
                    "documents": report.documents,
                    "errors": json.loads(render_json(report.diagnostics)),
                },
                indent=2,
            )
        )
    elif report.valid:
        count = len(report.documents)
        click.echo(f"{count} document{'s' if count != 1 else ''} valid.")
    else:
        click.echo(render_text(report.diagnostics), err=True)
        click.echo(_error_summary(len(report.diagnostics)), err=True)
    sys.exit(0 if report.valid else 1)


@main.command("compile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@FORMAT
@click.option("--check-remote", is_flag=True, help="Also check fields against the connected systems (describe).")  # fmt: skip
@reports_errors
def compile_command(file: Path, output_format: str, check_remote: bool) -> None:
    """Compile a mapping document into its Plan and print it.

    `extends` and rule sets are resolved, defaults filled in, objects ordered by their
    dependencies. The hash changes exactly when the meaning of the documents changes. With
    --check-remote, target fields are checked against each connection's describe.
    """
    compiled = compile_plan(file)
    if check_remote:
        with Job.open(file, read_only=True) as job:
            problems = remote.check_remote(job.plan, job.connectors)
        if problems:
            raise DocumentError(problems)
    data = {"hash": compiled.hash, "files": list(compiled.files), **plan_data(compiled)}
    if output_format == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"# plan {compiled.name} {compiled.hash}")
    click.echo(f"# compiled from {', '.join(compiled.files)}")
    click.echo(
        yaml.dump(plan_data(compiled), Dumper=_PlanDumper, sort_keys=False, allow_unicode=True, width=110),
        nl=False,
    )


class _PlanDumper(yaml.SafeDumper):
    """Short lists of plain values on one line (`types: [Lead, Contact]`), as a person writes them."""

    def represent_list(self, data: list) -> yaml.Node:
        flow = all(isinstance(item, str | int | float | bool) for item in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_PlanDumper.add_representer(list, _PlanDumper.represent_list)


WAIT = click.option(
    "--wait", metavar="SECONDS", type=click.FloatRange(min=0), default=0, show_default=True,
    help="When another run holds the job, wait this long for it before giving up (exit 5).",
)  # fmt: skip

STATE = click.option(
    "--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
    help="State store file (default: .syncmap/state.db in the project).",
)  # fmt: skip


def selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--object`, `--full` and `--push`/`--pull`: one-time operations, given to the command as
    a Selection."""

    @click.option(
        "--object",
        "objects",
        multiple=True,
        metavar="NAME",
        help="Run only this object (repeatable); `mode: manual` objects run only when named.",
    )
    @click.option("--full", is_flag=True, help="Read every record, not only the changes since the last run.")
    @click.option("--push", "flow", flag_value="to_target", help="Only write to the target (push).")
    @click.option("--pull", "flow", flag_value="to_source", help="Only write to the source (pull).")
    @functools.wraps(command)
    def wrapper(*args: Any, objects: tuple[str, ...], full: bool, flow: str | None, **kwargs: Any) -> Any:
        return command(*args, selection=Selection(objects, full, flow), **kwargs)

    return wrapper


@main.command("plan")
@click.argument("mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@STATE
@FORMAT
@selection_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan to apply it later.")  # fmt: skip
@click.option("--detailed", is_flag=True, help="List every change and every skipped record.")
@click.option("--limit", default=20, show_default=True, help="Changes shown per object.")
@click.option("--mask", is_flag=True, help="Mask emails and phone numbers in the output.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when nothing would change, 2 when changes are planned.")  # fmt: skip
@reports_errors
def plan_command(
    mapping: Path, state_path, output_format, selection, out, detailed, limit, mask, detailed_exitcode
) -> None:
    """Dry run: show what apply would create, update, delete, skip (and why), and hold as conflicts.

    Reads both sides and decides everything, but writes nothing anywhere, not even the state store.
    """
    with Job.open(mapping, state_path, read_only=True, selection=selection) as job:
        changeset = job.plan_changes()
        if out:
            with out.open("w") as file:
                write_json(saved_plan(changeset, mapping, selection), file)
        if output_format == "json":
            preview.write_changes_json(changeset, click.get_text_stream("stdout"), masked=mask)
        else:
            click.echo(preview.render_text(changeset, job.plan, limit=limit, detailed=detailed, masked=mask))
            if out:
                click.echo(f"Saved to {out}; apply it with `syncmap apply {out}`.")
    if detailed_exitcode:
        sys.exit(2 if changeset.has_changes() else 0)


@main.command("diff")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--git", "revision", metavar="REV", help="Compare FILE with itself at a git revision (e.g. main)."
)
@click.option(
    "--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
    help="Text for a terminal, markdown for a pull-request comment, JSON for machines.",
)  # fmt: skip
@click.option("--data", is_flag=True, help="Also dry-run both versions and show how the counts change.")
@reports_errors
def diff_command(files: tuple[Path, ...], revision: str | None, output_format: str, data: bool) -> None:
    """The difference in meaning between two versions of a mapping: OLD NEW, or --git REV FILE.

    Compares the compiled plans (with everything each version extends), not the text, and marks
    the risky changes: writing into a system for the first time, propagating deletes, changed
    match keys, creation switched on, a filter removed.
    """
    if len(files) != (1 if revision else 2):
        raise UsageError(
            "give two files (OLD NEW), or one file with --git REV",
            hint="e.g. `syncmap diff --git main mappings/acme.yaml`",
        )
    new_path = files[-1]
    old_plan = diff.compile_at_revision(new_path, revision) if revision else compile_plan(files[0])
    new_plan = compile_plan(new_path)
    old_name = f"{revision}:{new_path}" if revision else str(files[0])
    differences = diff.diff_plans(old_plan, new_plan)
    impact = diff.data_impact(old_plan, new_plan, new_path) if data else None
    if output_format == "json":
        click.echo(diff.render_json(differences, old_name, str(new_path), impact))
        return
    render = diff.render_markdown if output_format == "markdown" else diff.render_text
    click.echo(render(differences, old_name, str(new_path)))
    if impact is not None:
        click.echo("\n" + diff.render_impact(impact, markdown=output_format == "markdown"))


@main.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--if-any", is_flag=True, help="Finding no tests is not an error (for a pre-commit hook).")
@FORMAT
@reports_errors
def test_command(paths: tuple[Path, ...], if_any: bool, output_format: str) -> None:
    """Run the mapping tests (`*.test.yaml`) in PATHS (default: the current folder).

    Each test gives records on each connection (held in memory: no database, org or secret is
    needed) and the changes expected per object; a failure lists the expected changes not made
    and the changes made that were not expected. Exits 1 when any test fails.
    """
    files = mapping_tests.find_test_files(list(paths))
    if not files and not if_any:
        raise UsageError(
            "no mapping tests (*.test.yaml) found", hint="write one next to the mapping it tests"
        )
    outcomes = [outcome for path in files for outcome in mapping_tests.run_file(path)]
    failed = sum(1 for outcome in outcomes if not outcome.passed)
    if output_format == "json":
        tests = [
            {"file": str(o.file), "case": o.case, "passed": o.passed, "problems": o.problems}
            for o in outcomes
        ]
        click.echo(json.dumps({"passed": len(outcomes) - failed, "failed": failed, "tests": tests}, indent=2))
        sys.exit(1 if failed else 0)
    if not files:
        click.echo("No mapping tests (*.test.yaml) found.")
        return
    for outcome in outcomes:
        mark = click.style("✓", fg="green") if outcome.passed else click.style("✗", fg="red", bold=True)
        click.echo(f"{mark} {outcome.file}: {outcome.case}")
        for problem in outcome.problems:
            click.echo(f"    {problem}")
    summary = f"{len(outcomes) - failed} passed, {failed} failed, in {len(files)} file{'s' if len(files) != 1 else ''}."
    click.echo(click.style(summary, bold=True, fg="red" if failed else "green"))
    sys.exit(1 if failed else 0)


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--check", is_flag=True, help="Change nothing; exit 1 when a file is not in the newest version.")  # fmt: skip
@FORMAT
@reports_errors
def upgrade(files: tuple[Path, ...], check: bool, output_format: str) -> None:
    """Rewrite documents in the newest version of the language.

    Only the keys that changed and the version number are edited: comments, quoting and layout
    stay. Older documents keep working without it; upgrading makes them match the published
    schema of the newest version.
    """
    results = [(path, *versions.upgrade(path, write=not check)) for path in files]
    behind = sum(1 for _, version, _ in results if version != versions.LATEST)
    if output_format == "json":
        documents = [
            {"file": str(path), "version": version, "behind": version != versions.LATEST, "renamed": changes}
            for path, version, changes in results
        ]
        click.echo(
            json.dumps({"latest": versions.LATEST, "written": not check, "files": documents}, indent=2)
        )
    else:
        for path, version, changes in results:
            if version == versions.LATEST:
                click.echo(f"{path}: already version {version}")
                continue
            verb = "would upgrade" if check else "upgraded"
            click.echo(f"{path}: {verb} from version {version} to {versions.LATEST}")
            for change in changes:
                click.echo(f"  renamed {change}")
    if check and behind:
        sys.exit(1)


@main.command("apply")
@click.argument(
    "target", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="MAPPING|PLAN.json"
)
@STATE
@FORMAT
@selection_options
@click.option("--batch-size", type=click.IntRange(1), help="Most writes per call (default: the connector's).")
@WAIT
@reports_errors
def apply_command(target: Path, state_path, output_format, selection, batch_size, wait) -> None:
    """Run the sync and write the changes, or apply a plan saved by `syncmap plan --out`.

    A saved plan is applied only if neither the mapping nor the records changed since it was made.
    Records that fail are reported, kept in the dead-letter list and retried on the next run.
    """
    expected = None
    mapping = target
    if target.suffix == ".json":
        if selection != Selection():
            raise UsageError(
                "--object, --full, --push and --pull cannot be given with a saved plan",
                hint="a saved plan is applied with the options it was planned with",
            )
        saved = load_saved_plan(target)
        mapping, expected = Path(saved["mapping"]), saved["fingerprint"]
        selection = Selection.from_dict(saved.get("selection", {}))
    with Job.open(mapping, state_path, selection=selection) as job:
        if expected and job.plan.hash != saved["plan_hash"]:
            raise UsageError(
                "the mapping changed since this plan was saved; it was not applied",
                hint="run `syncmap plan --out` again and review the new plan",
            )
        with _progress(output_format) as progress:
            report = job.apply(
                batch_size=batch_size, progress=progress, expected_fingerprint=expected, wait=wait
            )
        if output_format == "json":
            write_json(report.to_dict(), click.get_text_stream("stdout"))
        else:
            click.echo(preview.render_report(report, job.plan))
    sys.exit(1 if report.failed else 0)


@contextlib.contextmanager
def _progress(output_format: str):
    """A progress line on a terminal; nothing when output goes to a file or a pipe."""
    if output_format != "text" or not sys.stderr.isatty():
        yield None
        return
    written = 0

    def advance(count: int) -> None:
        nonlocal written
        written += count
        click.echo(f"\r  {written} records written", nl=False, err=True)

    yield advance
    if written:
        click.echo(err=True)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@STATE
@click.option("--interval", metavar="DURATION", help="Run every job this often (e.g. `30s`), whatever its `schedule`.")  # fmt: skip
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--listen", metavar="HOST:PORT",
    help=f"Accept webhooks: a POST signed with ${WEBHOOK_SECRET} runs the job it names at once.",
)  # fmt: skip
@reports_errors
def watch(
    paths: tuple[Path, ...], state_path, interval: str | None, log_format: str, listen: str | None
) -> None:
    """Run every mapping found, each on its schedule, reloading a document when it or a file it
    uses changes. A document that stops compiling keeps its last good plan running.

    SIGINT or SIGTERM lets the current run finish, then exits 0; a second one exits at once (the
    journal makes that safe too).
    """
    if interval and interval_seconds(interval) is None:
        raise UsageError(f"`{interval}` is not a duration", hint="for example `30s`, `5m` or `1h`")

    def emit(event: dict[str, Any]) -> None:
        click.echo(json.dumps(event, default=str) if log_format == "json" else text_line(event), err=True)

    stop = threading.Event()

    def on_signal(number: int, frame: Any) -> None:
        if stop.is_set():
            os._exit(130)
        stop.set()

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, on_signal)
    watcher = Watcher(paths or (Path("."),), interval, state_path, emit)
    listener = _webhooks(listen, watcher) if listen else None
    try:
        watcher.serve(stop)
    finally:
        if listener:
            listener.close()


def _webhooks(listen: str, watcher: Watcher) -> WebhookListener:
    secret = os.environ.get(WEBHOOK_SECRET)
    if not secret:
        raise UsageError(
            f"--listen needs a shared secret in ${WEBHOOK_SECRET}", hint="export it before starting"
        )
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"`{listen}` is not HOST:PORT", hint="for example `--listen 127.0.0.1:8787`")
    try:
        listener = WebhookListener((host, int(port)), secret, watcher.trigger, watcher.log)
    except OSError as e:
        raise UsageError(f"cannot listen on {listen}: {e.strerror}") from e
    watcher.log("listening", address=f"{listener.address[0]}:{listener.address[1]}")
    return listener


@main.command()
@STATE
@FORMAT
@reports_errors
def status(state_path, output_format) -> None:
    """Every job of the project: its status (initial sync, running, active, paused, errors) and last run."""
    with Jobs(state_path) as project:
        jobs = project.statuses()
    if output_format == "json":
        click.echo(json.dumps(jobs, indent=2))
        return
    if not jobs:
        click.echo("No jobs yet: `syncmap apply MAPPING` starts one.")
    for job in jobs:
        run = job["last_run"] or {}
        counts = _counts_text(run.get("counts") or {})
        line = f"{job['job']:<32} {job['status']:<13} last run {run.get('finished_at') or '-'}"
        held = f"\n    {job['held']} held for a person: `syncmap plan` shows why" if job["held"] else ""
        click.echo(
            line
            + (f"  ({counts})" if counts else "")
            + (f"\n    {job['last_error']}" if job["last_error"] else "")
            + held
        )


@main.command()
@click.argument("job")
@STATE
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


def _counts_text(counts: dict[str, Any]) -> str:
    """`3 create, 2 skip` (the counts by reason code are in `--format json`)."""
    return ", ".join(f"{n} {k}" for k, n in counts.items() if isinstance(n, int) and n)


@main.command()
@click.argument("job")
@STATE
@reports_errors
def pause(job: str, state_path) -> None:
    """Pause a job: `apply` will not run it until it is resumed."""
    _set_status(job, state_path, "paused")


@main.command()
@click.argument("job")
@STATE
@reports_errors
def resume(job: str, state_path) -> None:
    """Resume a paused job: `apply` runs it again, from where it stopped."""
    _set_status(job, state_path, "active")


def _set_status(job: str, state_path: Path | None, status: str) -> None:
    with Jobs(state_path, read_only=False) as project:
        project.set_status(job, status)
    click.echo(f"{job} is {status}.")


@main.command()
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


@main.command()
@click.option("--kind", type=click.Choice(sorted(KINDS)), default="mapping", show_default=True,
              help="Mapping documents, or rule set files.")  # fmt: skip
def schema(kind: str) -> None:
    """Print the JSON Schema of mapping documents, for editors and other tools."""
    click.echo(schema_text(kind), nl=False)

"""The `syncmap` command: parse arguments, call the library, render the result. Nothing else.

Every error reaching the user is a ``SyncmapError`` rendered without a traceback, and each error
class carries its exit code: 0 success, 1 invalid documents, 2 usage errors, 3 connector
failures, 4 state store failures.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from engine import __version__, preview, remote
from engine.apply import DEFAULT_BATCH_SIZE
from engine.compile import compile_plan
from engine.diagnostics import render_json, render_text
from engine.errors import DocumentError, SyncmapError, UsageError
from engine.job import Job, Selection, load_saved_plan, saved_plan
from engine.plan import plan_data
from engine.sandbox.command import sandbox_command
from engine.schema import KINDS, schema_text
from engine.validate import validate as validate_documents

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    Exits 0 when all documents are valid, 1 when any is invalid, 2 on usage errors.
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
@click.option(
    "--check-remote", is_flag=True, help="Also check fields against the connected systems (describe)."
)
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
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan to apply it later."
)
@click.option("--detailed", is_flag=True, help="List every change and every skipped record.")
@click.option("--limit", default=20, show_default=True, help="Changes shown per object.")
@click.option("--mask", is_flag=True, help="Mask emails and phone numbers in the output.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 when nothing would change, 2 when changes are planned."
)
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
            out.write_text(json.dumps(saved_plan(changeset, mapping, selection), indent=2, default=str))
        if output_format == "json":
            click.echo(preview.render_json(changeset, masked=mask))
        else:
            click.echo(preview.render_text(changeset, job.plan, limit=limit, detailed=detailed, masked=mask))
            if out:
                click.echo(f"Saved to {out}; apply it with `syncmap apply {out}`.")
    if detailed_exitcode:
        sys.exit(2 if changeset.has_changes() else 0)


@main.command("apply")
@click.argument(
    "target", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="MAPPING|PLAN.json"
)
@STATE
@FORMAT
@selection_options
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True, help="Records per write call.")
@reports_errors
def apply_command(target: Path, state_path, output_format, selection, batch_size) -> None:
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
            report = job.apply(batch_size=batch_size, progress=progress, expected_fingerprint=expected)
        if output_format == "json":
            click.echo(json.dumps(report.to_dict(), indent=2, default=str))
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
@click.option("--kind", type=click.Choice(sorted(KINDS)), default="mapping", show_default=True,
              help="Mapping documents, or rule set files.")  # fmt: skip
def schema(kind: str) -> None:
    """Print the JSON Schema of mapping documents, for editors and other tools."""
    click.echo(schema_text(kind), nl=False)


main.add_command(sandbox_command, "sandbox")

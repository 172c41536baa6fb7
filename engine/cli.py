"""The `syncmap` command: parse arguments, call the library, render the result. Nothing else.

Every error reaching the user is a ``SyncmapError`` rendered without a traceback, and each error
class carries its exit code: 0 success, 1 invalid documents, 2 usage errors, 3 connector
failures, 4 state store failures.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from engine import __version__
from engine.compile import compile_plan
from engine.diagnostics import render_json, render_text
from engine.errors import DocumentError, SyncmapError
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
@reports_errors
def compile_command(file: Path, output_format: str) -> None:
    """Compile a mapping document into its Plan and print it.

    `extends` and rule sets are resolved, defaults filled in, objects ordered by their
    dependencies. The hash changes exactly when the meaning of the documents changes.
    """
    compiled = compile_plan(file)
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


@main.command()
@click.option("--kind", type=click.Choice(sorted(KINDS)), default="mapping", show_default=True,
              help="Mapping documents, or rule set files.")  # fmt: skip
def schema(kind: str) -> None:
    """Print the JSON Schema of mapping documents, for editors and other tools."""
    click.echo(schema_text(kind), nl=False)


main.add_command(sandbox_command, "sandbox")

"""What every command shares: its options, and errors turned into messages and exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine.diagnostics import render_json, render_text
from engine.errors import DocumentError, SyncmapError, exit_codes_help
from engine.job import Selection
from engine.load import one_load_per_document
from engine.resolve import store_of
from engine.state.location import is_database_url

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


WAIT = click.option(
    "--wait", metavar="SECONDS", type=click.FloatRange(min=0), default=0, show_default=True,
    help="When another run holds the job, wait this long for it before giving up (exit 5).",
)  # fmt: skip


class StateLocation(click.ParamType):
    """A state store: a file, or a PostgreSQL database's URL (kept as written)."""

    name = "FILE|URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path | str:
        if is_database_url(value):
            return str(value)
        return click.Path(dir_okay=False, path_type=Path).convert(value, param, ctx)


STATE = click.option(
    "--state", "state_path", type=StateLocation(),
    help="State store: a file (default: .syncmap/state.db in the project, or `state` in its "
    "syncmap.toml), or a PostgreSQL database, `postgresql://user@host/db` (the password from PGPASSWORD).",
)  # fmt: skip


def project_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--project`: the jobs of the project around a folder or a mapping document, from anywhere."""

    @click.option(
        "--project", type=click.Path(exists=True, path_type=Path),
        help="A folder or mapping document of the project whose jobs these are (default: the working folder's).",
    )  # fmt: skip
    @functools.wraps(command)
    def wrapper(*args: Any, project: Path | None = None, **kwargs: Any) -> Any:
        if project is not None and kwargs.get("state_path") is None:
            inside = project if project.is_file() else project / "syncmap.yaml"
            kwargs["state_path"] = store_of(None, inside)
        return command(*args, **kwargs)

    return wrapper


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


class SyncmapCommand(click.Command):
    """A command whose help ends with the exit codes, reading each document once."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, epilog=exit_codes_help(), **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        """Each document file is read and parsed once per command (``watch`` reads edits anew)."""
        with one_load_per_document():
            return super().invoke(ctx)


def command(name: str | None = None) -> Callable[[Callable[..., Any]], click.Command]:
    """A syncmap command: its help ends with the exit codes."""
    return click.command(name, cls=SyncmapCommand)

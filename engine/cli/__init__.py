"""The `syncmap` command: parse arguments, call the library, render the result. Nothing else.

Every error reaching the user is a ``SyncmapError`` rendered without a traceback, and each error
class carries its exit code (`engine.errors.EXIT_CODES`, shown by every command's help). The
commands live by what they act on: `documents` (validate, compile, diff, test, upgrade, schema),
`runs` (plan, apply, watch) and `jobs` (status, runs, pause, resume, delete); `common` holds what
they share.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import click

from engine import __version__
from engine.cli import documents, jobs, runs
from engine.errors import UsageError, exit_codes_help


class _Commands(click.Group):
    """Click's own usage errors (an unknown option, a missing file) exit with syncmap's usage
    code too, never 2: a CI step reading `plan --detailed-exitcode` must tell them apart."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        _collect_less()
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


def _collect_less() -> None:
    """A large run holds millions of small objects for its whole life (records, changes, keys)
    and makes few reference cycles. Python's collector, run after every 700 new objects, walks
    them again and again: a fifth of an initial sync's CPU. It runs after every 50,000, and
    never walks what start-up made."""
    gc.freeze()
    gc.set_threshold(50_000)


@click.group(
    cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]}, epilog=exit_codes_help()
)
@click.version_option(__version__, prog_name="syncmap")
def main() -> None:
    """syncmap: declarative two-way CRM sync from versioned YAML mapping documents."""


for group in (documents, runs, jobs):  # each module's commands
    for command in group.COMMANDS:
        main.add_command(command)

"""Commands that run jobs: plan, apply, watch, and enqueue and worker for runs on a queue."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from engine import preview
from engine.changeset import write_json
from engine.cli.common import FORMAT, STATE, WAIT, command, reports_errors, selection_options
from engine.errors import UsageError
from engine.job import Job, Selection, load_saved_plan, saved_plan
from engine.progress import JsonLines, Meter, Quiet
from engine.resolve import store_of
from engine.schedule import interval_seconds
from engine.watch import Watcher, text_line
from engine.webhook import SECRET_VARIABLE as WEBHOOK_SECRET
from engine.webhook import WebhookListener


@command("plan")
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
        changeset = job.plan_changes(fingerprinted=out is not None)
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


@command("apply")
@click.argument(
    "target", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="MAPPING|PLAN.json"
)
@STATE
@FORMAT
@selection_options
@click.option("--batch-size", type=click.IntRange(1), help="Most writes per call (default: the connector's).")
@click.option("--allow-over-limits", is_flag=True, help="Write even what crosses an object's `limits`.")
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Progress on standard error: bars on a terminal, or JSON lines now and then.",
)  # fmt: skip
@WAIT
@reports_errors
def apply_command(
    target: Path, state_path, output_format, selection, batch_size, wait, allow_over_limits, log_format
) -> None:
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
        with _meter(log_format) as meter:
            report = job.apply(
                batch_size=batch_size, expected_fingerprint=expected, wait=wait,
                allow_over_limits=allow_over_limits, meter=meter,
            )  # fmt: skip
        if output_format == "json":
            write_json(report.to_dict(), click.get_text_stream("stdout"))
        else:
            click.echo(preview.render_report(report, job.plan))
    sys.exit(1 if report.failed else 0)


@contextlib.contextmanager
def _meter(log_format: str) -> Iterator[Meter]:
    """Progress as JSON lines when asked; bars on a terminal; nothing for a file or a pipe."""
    if log_format == "json":
        yield JsonLines(click.get_text_stream("stderr"))
    elif sys.stderr.isatty():
        from engine.cli.meters import TerminalMeter  # rich, loaded only to draw

        with TerminalMeter() as bars:
            yield bars
    else:
        yield Quiet()


@command()
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


@command()
@click.argument("mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@STATE
@reports_errors
def enqueue(mapping: Path, state_path) -> None:
    """Ask for a run of a mapping's job now, on the queue a `syncmap worker` takes runs from
    (the PostgreSQL state store's). A job has at most one run waiting: asking again adds none."""
    from engine.queue import enqueue as queue_run
    from engine.queue import queue_location

    click.echo(queue_run(queue_location(store_of(state_path, mapping)), mapping))


@command()
@STATE
@click.option("--concurrency", type=click.IntRange(1), default=1, show_default=True, help="Runs at once.")
@click.option("--once", is_flag=True, help="Stop when the queue is empty, instead of waiting for more.")
@reports_errors
def worker(state_path, concurrency: int, once: bool) -> None:
    """Take runs off the queue of the PostgreSQL state store and run them: any number of workers
    may run, on any machine holding the mappings; no job ever has two runs at once. A run whose
    mapping compiles to another plan here than the one asked for is refused. SIGINT or SIGTERM
    lets the runs under way finish, then exits."""
    from engine.queue import queue_location, work

    work(
        queue_location(store_of(state_path)),
        concurrency,
        once,
        lambda line: click.echo(line, err=line.startswith("error")),
    )


@command()
@STATE
@FORMAT
@reports_errors
def workers(state_path, output_format) -> None:
    """The live workers of the queue in the PostgreSQL state store, the jobs each is running,
    and the runs waiting."""
    from engine.queue import queue_location
    from engine.queue import workers as live_workers

    found = live_workers(queue_location(store_of(state_path)))
    if output_format == "json":
        click.echo(json.dumps(found, indent=2))
        return
    for each in found["workers"]:
        running = ", ".join(each["running"]) or "nothing"
        click.echo(
            f"worker {each['worker']:<5} heartbeat {each['heartbeat_seconds_ago']:.1f} s ago  running {running}"
        )
    for waiting in found["waiting"]:
        click.echo(f"waiting        {waiting['job']} (plan {waiting['plan'][:19]})")
    if not found["workers"] and not found["waiting"]:
        click.echo("No worker is alive and no run is waiting: `syncmap worker` takes runs off the queue.")


COMMANDS = (plan_command, apply_command, watch, enqueue, worker, workers)

"""The ``syncmap sandbox`` command: start a sandbox, print how to reach it, serve until stopped.

It prints exactly one JSON line on stdout (instance_url, session_id, ca_file, admin_url,
version) so scripts can read it; request logs go to stderr. SIGINT and SIGTERM stop it cleanly.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from engine.errors import SyncmapError, exit_codes_help
from engine.sandbox.faults import FaultSettings
from engine.sandbox.instance import Sandbox
from engine.sandbox.rest import API_VERSIONS, DAILY_API_REQUESTS, DEFAULT_API_VERSION

PathOption = click.Path(dir_okay=False, path_type=Path)
Rate = click.FloatRange(0.0, 1.0)


@click.command(epilog=exit_codes_help())
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, help="Port to listen on; 0 picks one.")
@click.option("--db", type=PathOption, help="SQLite file keeping the records (default: memory).")
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="JSON or JSONL file of records to load into a new database (repeatable).",
)
@click.option(
    "--describe",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Describe JSON adding custom objects and fields (or removing fields).",
)
@click.option(
    "--drop-field",
    multiple=True,
    metavar="OBJECT.FIELD",
    help="Remove a standard field, e.g. Task.Type for orgs without it (repeatable).",
)
@click.option(
    "--person-accounts",
    is_flag=True,
    help="Enable Person Accounts: an Account with a LastName is a person (PersonEmail, PersonMobilePhone).",
)
@click.option("--session-id", help="Bearer token clients must send (default: random).")
@click.option("--page-size", default=2000, show_default=True, help="Records per query page.")
@click.option(
    "--api-version",
    type=click.Choice(list(API_VERSIONS)),
    default=DEFAULT_API_VERSION,
    show_default=True,
    help="API version reported to clients.",
)
@click.option("--ca-file", type=PathOption, help="Where to write the CA certificate PEM.")
@click.option(
    "--daily-api-requests", type=click.IntRange(1), default=DAILY_API_REQUESTS, show_default=True,
    help="The org's daily API limit: past it, calls fail 403 REQUEST_LIMIT_EXCEEDED.",
)  # fmt: skip
@click.option("--request-limit-rate", type=Rate, default=0.0, help="Share of calls failing 403.")
@click.option("--unavailable-rate", type=Rate, default=0.0, help="Share of calls failing 503.")
@click.option("--lock-rate", type=Rate, default=0.0, help="Share of records failing to lock.")
@click.option("--delay-ms", type=click.IntRange(0), default=0, help="Delay before each answer.")
@click.option("--fault-seed", default=0, show_default=True, help="Seed of the fault RNG.")
@click.option("--quiet", is_flag=True, help="Do not log requests on stderr.")
def sandbox_command(**options: object) -> None:
    """Serve a local Salesforce-compatible REST API over HTTPS for tests and examples."""
    faults = FaultSettings(
        request_limit_rate=options["request_limit_rate"],
        unavailable_rate=options["unavailable_rate"],
        lock_rate=options["lock_rate"],
        delay_ms=options["delay_ms"],
        seed=options["fault_seed"],
    )
    try:
        sandbox = Sandbox(
            db_path=options["db"],
            seed=options["seed"],
            describe_file=options["describe"],
            drop_fields=options["drop_field"],
            person_accounts=options["person_accounts"],
            page_size=options["page_size"],
            session_id=options["session_id"],
            host=options["host"],
            port=options["port"],
            api_version=options["api_version"],
            faults=faults,
            ca_file=options["ca_file"],
            log=None if options["quiet"] else _log,
            daily_api_requests=options["daily_api_requests"],
        )
        _serve(sandbox)
    except SyncmapError as error:
        click.echo(f"error: {error.message}", err=True)
        if error.hint:
            click.echo(f"hint: {error.hint}", err=True)
        sys.exit(error.exit_code)


def _serve(sandbox: Sandbox) -> None:
    stopped = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopped.set())
    with sandbox:
        click.echo(json.dumps(sandbox.info()))
        sys.stdout.flush()
        stopped.wait()


def _log(line: str) -> None:
    click.echo(f"sandbox: {line}", err=True)

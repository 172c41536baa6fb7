"""Runs as tasks on a queue in the PostgreSQL state store (procrastinate), for jobs run by any
number of workers on any number of machines.

`syncmap enqueue MAPPING` asks for a run of a job now; `syncmap worker` takes runs off the queue.
A job has at most one run waiting (a queueing lock) and at most one running (a lock, and the
job's lease besides). A task names its mapping and the plan hash it was asked for: a worker that
compiles the mapping to another plan (the document changed since, or differs on its machine)
refuses the task rather than run something nobody asked for; whoever enqueues after a reload
asks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException, UniqueViolation
from procrastinate.jobs import Status

from engine.compile import compile_plan
from engine.errors import StateError, SyncmapError, UsageError
from engine.job import Job
from engine.plan import Plan
from engine.state.location import is_database_url, shown

QUEUE = "runs"
TASK = "syncmap.run"
RUN_WAIT_SECONDS = 60.0  # a run started by hand (`syncmap apply`) is waited for this long
HEARTBEAT_SECONDS = 2.0  # how often a worker says it is alive
STALLED_SECONDS = 10.0  # a worker silent this long is gone: its run goes back on the queue


class RefusedTask(SyncmapError):
    """A task whose plan this worker cannot reproduce."""


def queue_location(state: Path | str) -> str:
    if not is_database_url(state):
        raise UsageError(
            f"runs are queued in a PostgreSQL state store, and this project's is {state}",
            hint="give `--state postgresql://...`, or `state = \"postgresql://...\"` in syncmap.toml",
        )
    return str(state)


@contextmanager
def opened(url: str) -> Iterator[procrastinate.App]:
    """The queue of a state store, open, its tables made on first use."""
    app = _app(url, print)
    try:
        with app.open():
            _make_tables(url, app)
            yield app
    except psycopg.Error as e:
        raise StateError(f"the queue in {shown(url)} failed: {e}", hint="check the server is up") from None


def _app(url: str, report: Callable[[str], None]) -> procrastinate.App:
    """The queue's app, with the run task registered."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name=TASK, queue=QUEUE, pass_context=False)
    def run(mapping: str, plan_hash: str) -> None:
        try:
            report(run_job(Path(mapping), plan_hash, url))
        except SyncmapError as e:  # said here, once; the queue keeps the task as failed
            report(f"error: {e.message}" + (f"\n  hint: {e.hint}" if e.hint else ""))
            raise

    return app


def enqueue(url: str, mapping: Path, plan: Plan | None = None) -> str:
    """Ask for a run of a mapping's job now, under its ``plan`` (compiled when not given); what
    happened, as a sentence."""
    plan = plan or compile_plan(mapping)
    with opened(url) as app:
        task = app.tasks[TASK].configure(lock=plan.name, queueing_lock=plan.name)
        try:
            task.defer(mapping=str(mapping.resolve()), plan_hash=plan.hash)
        except AlreadyEnqueued:
            return f"{plan.name}: a run is already waiting; it will run this plan ({plan.hash[:19]})"
    return f"{plan.name}: a run is queued ({plan.hash[:19]})"


def work(url: str, concurrency: int, once: bool, report: Callable[[str], None]) -> None:
    """Take runs off the queue until stopped (SIGINT, SIGTERM: the runs under way finish first);
    with ``once``, until the queue is empty. Meanwhile, the run of a worker that stopped beating
    (killed, cut off) for ``STALLED_SECONDS`` is put back on the queue: the journal lets the
    next worker finish it with nothing lost or doubled."""
    logging.getLogger("procrastinate").setLevel(logging.CRITICAL)  # a failed run is reported once, above
    app = _app(url, report)
    with psycopg.connect(url, autocommit=True):  # reachable, and its error a StateError
        pass
    _make_tables(url, app)

    async def serve() -> None:
        async with app.open_async():
            await _retry_stalled(app)
            retrying = asyncio.create_task(_keep_retrying_stalled(app))
            try:
                await app.run_worker_async(
                    queues=[QUEUE], concurrency=concurrency, wait=not once, delete_jobs="successful",
                    update_heartbeat_interval=HEARTBEAT_SECONDS, stalled_worker_timeout=STALLED_SECONDS,
                )  # fmt: skip
            finally:
                retrying.cancel()

    try:
        asyncio.run(serve())
    except psycopg.Error as e:
        raise StateError(f"the queue in {shown(url)} failed: {e}", hint="check the server is up") from None


async def _retry_stalled(app: procrastinate.App) -> None:
    """A stalled run goes back on the queue; when another run of its job waits already, that one
    does the work (the journal covers what the stalled one wrote) and the stalled one is ended."""
    for stalled in await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=STALLED_SECONDS):
        try:
            await app.job_manager.retry_job(stalled)
        except (UniqueViolation, psycopg.errors.UniqueViolation):
            await app.job_manager.finish_job(stalled, status=Status.FAILED, delete_job=False)


async def _keep_retrying_stalled(app: procrastinate.App) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        with contextlib.suppress(psycopg.Error, ConnectorException):  # the server away: look again next beat
            await _retry_stalled(app)


def workers(url: str) -> dict[str, list[dict]]:
    """The live workers (a heartbeat within ``STALLED_SECONDS``) with the jobs they run, and the
    runs waiting; both empty before the queue's first use."""
    with psycopg.connect(url, autocommit=True) as connection:
        made = connection.execute(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
            "AND tablename = 'procrastinate_jobs'"
        ).fetchone()
        if not made or not made[0]:
            return {"workers": [], "waiting": []}
        live = connection.execute(
            "SELECT w.id, round(extract(epoch FROM now() - w.last_heartbeat)::numeric, 1)::float, "
            "coalesce(array_agg(j.lock ORDER BY j.lock) FILTER (WHERE j.id IS NOT NULL), '{}') "
            "FROM procrastinate_workers w LEFT JOIN procrastinate_jobs j ON j.worker_id = w.id AND j.status = 'doing' "
            "WHERE w.last_heartbeat > now() - make_interval(secs => %s) GROUP BY w.id ORDER BY w.id",
            (STALLED_SECONDS,),
        ).fetchall()
        waiting = connection.execute(
            "SELECT lock, args->>'plan_hash' FROM procrastinate_jobs WHERE status = 'todo' AND queue_name = %s ORDER BY id",
            (QUEUE,),
        ).fetchall()
    return {
        "workers": [{"worker": n, "heartbeat_seconds_ago": ago, "running": list(jobs)} for n, ago, jobs in live],
        "waiting": [{"job": job, "plan": plan} for job, plan in waiting],
    }


def run_job(mapping: Path, plan_hash: str, state: str) -> str:
    """One queued run: the job applied if its mapping still compiles to the plan asked for."""
    with Job.open(mapping, state) as job:
        if job.plan.hash != plan_hash:
            raise RefusedTask(
                f"{job.name}: {mapping} compiles to plan {job.plan.hash[:19]} here, and the run was asked "
                f"for {plan_hash[:19]}; refused",
                hint="enqueue it again once every worker has the same document",
            )
        report = job.apply(command="worker", wait=RUN_WAIT_SECONDS)
    counts = ", ".join(f"{n} {action}" for action, n in report.applied().items() if isinstance(n, int) and n)
    return f"{job.name}: ran ({counts or 'nothing to do'})"


def _make_tables(url: str, app: procrastinate.App) -> None:
    """The queue's tables, made once however many processes start at once."""
    with psycopg.connect(url, autocommit=True) as connection, connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(hashtext('syncmap queue'), hashtext(current_schema()))")
        found = connection.execute(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
            "AND tablename = 'procrastinate_jobs'"
        ).fetchone()
        if not found or not found[0]:
            connection.execute(app.schema_manager.get_schema())

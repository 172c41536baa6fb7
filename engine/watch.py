"""`syncmap watch`: every mapping found, each run on its own schedule, reloaded when its files change.
With a PostgreSQL state store it is the scheduler of `syncmap worker`s: a run due is put on the
queue instead (see `queue.py`), and a reload asks at once for a run of the new plan.

A job's Plan is compiled once and swapped only between runs, so a run (and every batch in it) is
decided and written by one plan. A change that does not compile leaves the old plan running and
prints the located errors; fixing the file resumes the job. File events come from watchfiles, which
debounces bursts of saves and sees an editor's write-to-temp-then-rename as one change.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import watchfiles

from engine.compile import compile_plan
from engine.diagnostics import render_text
from engine.errors import DocumentError, JobBusyError, StateError, SyncmapError
from engine.job import Job
from engine.load import one_load_per_document
from engine.plan import Plan
from engine.redact import redact
from engine.resolve import store_of
from engine.schedule import seconds_until_next
from engine.state import StateStore
from engine.state.location import is_database_url
from engine.validate import find_documents, is_rule_set

DEBOUNCE_MS = 50  # saves closer together than this are one change
TICK_SECONDS = 0.05


@dataclass
class Watched:
    """One mapping document and the plan it runs with (None until it first compiles)."""

    path: Path
    plan: Plan | None = None
    next_run: float = 0.0  # when it runs next (monotonic clock); inf: only when asked

    def files(self) -> set[Path]:
        """The document and everything it uses (templates it extends, rule sets)."""
        used = {Path(name).resolve() for name in self.plan.files} if self.plan else set()
        return used | {self.path.resolve()}


class Watcher:
    def __init__(
        self,
        paths: Iterable[Path],
        interval: str | None,
        state_path: Path | str | None,
        emit: Callable[[dict[str, Any]], None],
    ):
        self.paths = list(paths)
        self.interval = interval
        self.state_path = state_path
        self.emit = emit
        mappings = [path for path in find_documents(self.paths) if not is_rule_set(path)]
        self.watched = [Watched(path) for path in mappings]
        self.changes: queue.Queue[set[Path]] = queue.Queue()
        self.triggered: queue.Queue[str] = queue.Queue()  # jobs a webhook asked to run now

    def trigger(self, job: str, records: list[str]) -> bool:
        """Run a job at the next tick (a webhook's request); False when no such job is watched."""
        if not any(watched.plan and watched.plan.name == job for watched in self.watched):
            return False
        self.triggered.put(job)
        return True

    def log(self, event: str, **fields: Any) -> None:
        """Emit an event; text in it is redacted (an error may quote a server's answer)."""
        fields = {key: redact(value) if isinstance(value, str) else value for key, value in fields.items()}
        self.emit({"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event, **fields})

    # -- plans ----------------------------------------------------------------------------------

    def load(self, watched: Watched) -> None:
        """Compile a document; on errors keep the plan it had and print where they are."""
        old = watched.plan
        try:
            watched.plan = compile_plan(watched.path)
        except DocumentError as e:
            self.log(
                "invalid", mapping=str(watched.path), errors=render_text(e.diagnostics),
                keeps=old.hash if old else None,
            )  # fmt: skip
            return
        if old is None:
            self.log("loaded", job=watched.plan.name, plan=watched.plan.hash, mapping=str(watched.path))
        elif old.hash != watched.plan.hash:
            self.log("reloaded", job=watched.plan.name, old=old.hash, new=watched.plan.hash)
            if is_database_url(store_of(self.state_path, watched.path)):
                watched.next_run = 0.0  # a run of the new plan is asked for at once

    def reload(self, changed: set[Path]) -> None:
        """Recompile the documents that use a changed file, and only those (each file read anew)."""
        with one_load_per_document():
            for watched in self.watched:
                if watched.files() & changed:
                    self.load(watched)

    # -- runs -----------------------------------------------------------------------------------

    def run_due(self, stop: threading.Event) -> None:
        now = time.monotonic()
        for watched in self.watched:
            if stop.is_set():
                return
            plan = watched.plan
            if plan is None or now < watched.next_run:
                continue
            schedule = self.interval or plan.schedule
            every = seconds_until_next(schedule, plan.defaults.timezone, datetime.now(UTC))
            if every is None and watched.next_run:
                continue  # a job without a schedule runs only when a webhook asks
            watched.next_run = now + every if every is not None else float("inf")
            self.run(watched.path, plan)
            if every is not None:
                self.note_next_run(watched.path, plan.name, datetime.now(UTC) + timedelta(seconds=every))

    def note_next_run(self, mapping: Path, job: str, when: datetime) -> None:
        """Tell the store when the job runs next, for `syncmap status` to show."""
        store = StateStore(store_of(self.state_path, mapping), checked=False)  # the run checked it
        try:
            with store.transaction():
                store.note_next_run(job, str(mapping.resolve()), when.isoformat(timespec="seconds"))
        finally:
            store.close()

    def enqueue(self, mapping: Path, plan: Plan) -> None:
        """As the scheduler of workers: the run due goes on the queue (one waits per job at most)."""
        from engine.queue import enqueue

        said = enqueue(str(store_of(self.state_path, mapping)), mapping, plan)  # a store that fails stops the watch
        self.log("enqueued", job=plan.name, plan=plan.hash, said=said)

    def run(self, mapping: Path, plan: Plan) -> None:
        if is_database_url(store_of(self.state_path, mapping)):
            self.enqueue(mapping, plan)
            return
        started = time.monotonic()
        try:
            job = Job.open(mapping, self.state_path, plan=plan)
        except StateError:
            raise  # a state store that cannot be opened runs no job: watch stops with the error
        except SyncmapError as e:
            self.log("error", job=plan.name, plan=plan.hash, error=e.message)
            return
        with job:
            if job.stopped():
                return
            written = 0

            def progress(count: int) -> None:
                nonlocal written
                written += count
                self.log("progress", job=plan.name, written=written)

            try:
                self.log("started", job=plan.name, plan=plan.hash)
                report = job.apply(progress=progress, command="watch")
            except JobBusyError as e:
                self.log("busy", job=plan.name, plan=plan.hash, reason=e.message)
                return
            except SyncmapError as e:
                self.log("error", job=plan.name, plan=plan.hash, error=e.message)
                return
        self.log(
            "run", job=plan.name, run=report.run_id, plan=plan.hash, counts=report.changeset.counts(),
            failed=report.failed,
            seconds=round(time.monotonic() - started, 3),
        )  # fmt: skip

    # -- the loop -------------------------------------------------------------------------------

    def serve(self, stop: threading.Event) -> None:
        """Load every document, then run and reload until ``stop`` is set."""
        with one_load_per_document():
            for watched in self.watched:
                self.load(watched)
        self.drop_templates()
        folders = sorted({str(p if p.is_dir() else p.parent) for p in self.paths} | self.used_folders())
        listener = threading.Thread(target=self.listen, args=(folders, stop), daemon=True)
        listener.start()
        while not stop.is_set():
            changed: set[Path] = set()
            while not self.changes.empty():
                changed |= self.changes.get()
            if changed:
                self.reload(changed)
            while not self.triggered.empty():
                job = self.triggered.get()
                for watched in self.watched:
                    if watched.plan and watched.plan.name == job:
                        watched.next_run = 0.0
            self.run_due(stop)
            stop.wait(TICK_SECONDS)
        self.log("stopped")

    def drop_templates(self) -> None:
        """A document another one extends is a template: it changes its users, it is not a job."""
        used = {path for watched in self.watched for path in watched.files() - {watched.path.resolve()}}
        for watched in self.watched:
            if watched.path.resolve() in used:
                self.log("template", mapping=str(watched.path))
        self.watched = [watched for watched in self.watched if watched.path.resolve() not in used]

    def used_folders(self) -> set[str]:
        return {str(path.parent) for watched in self.watched for path in watched.files()}

    def listen(self, folders: list[str], stop: threading.Event) -> None:
        for batch in watchfiles.watch(*folders, stop_event=stop, debounce=DEBOUNCE_MS, step=10):
            self.changes.put({Path(path).resolve() for _, path in batch})


def text_line(event: dict[str, Any]) -> str:
    """A log event as one readable line (the errors of an invalid document follow it)."""
    details = " ".join(
        f"{key}={json.dumps(value) if not isinstance(value, str) else value}"
        for key, value in event.items()
        if key not in ("time", "event", "errors")
    )
    line = f"{event['time']} {event['event']} {details}".rstrip()
    return line + ("\n" + event["errors"] if event.get("errors") else "")

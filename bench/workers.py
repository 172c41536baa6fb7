"""Runs on the queue: N customer jobs (each a copy of the quickstart under its own name, SQLite
platforms and CRMs, one PostgreSQL state store) enqueued, then taken off the queue by 1, 2 and 3
`syncmap worker --once` processes at once; runs per minute for each. Beside it, the queue's cost
per run: one job run by a worker against the same job run by `syncmap apply`, each from a fresh
copy (the worker's time includes starting it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from bench.results import Result

POSTGRES = os.environ.get("SYNCMAP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
QUICKSTART = Path(__file__).parents[1] / "examples" / "quickstart"


def customers(folder: Path, jobs: int, records: int, state: str) -> list[Path]:
    """``jobs`` projects sharing one state store, their mappings named customer-1, customer-2..."""
    mappings = []
    for number in range(1, jobs + 1):
        project = folder / f"customer-{number}"
        project.mkdir(parents=True)
        shutil.copy(QUICKSTART / "contacts.yaml", project / "contacts.yaml")
        mapping = project / "contacts.yaml"
        mapping.write_text(mapping.read_text().replace("name: quickstart", f"name: customer-{number}", 1))
        (project / "syncmap.toml").write_text(f'state = "{state}"\n')
        subprocess.run(
            [sys.executable, str(QUICKSTART / "generate.py"), "--records", str(records), "--dir", str(project)],
            check=True, capture_output=True,
        )  # fmt: skip
        mappings.append(mapping)
    return mappings


@contextmanager
def store(server: str) -> Iterator[str]:
    """A state store of its own: a schema in the server's database, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def syncmap(*arguments: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "engine", *arguments], cwd=cwd, check=True, capture_output=True)


def runs_per_minute(jobs: int, records: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as folder, store(POSTGRES) as state:
        mappings = customers(Path(folder), jobs, records, state)
        for mapping in mappings:
            syncmap("enqueue", str(mapping), cwd=mapping.parent)
        started = time.perf_counter()
        running = [
            subprocess.Popen([sys.executable, "-m", "engine", "worker", "--once"], cwd=mappings[0].parent,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(workers)
        ]  # fmt: skip
        for process in running:
            process.wait()
        seconds = time.perf_counter() - started
        left = [m for m in mappings if subprocess.run(
            [sys.executable, "-m", "engine", "plan", str(m), "--detailed-exitcode"], cwd=m.parent, capture_output=True
        ).returncode != 0]  # fmt: skip
        if left:
            raise RuntimeError(f"{len(left)} jobs were not run")
    return jobs / seconds * 60


def overhead(records: int) -> tuple[float, float]:
    """Seconds for one job's run: by a worker (enqueued, then `worker --once`), and by `apply`."""
    with tempfile.TemporaryDirectory() as folder, store(POSTGRES) as queue_state, store(POSTGRES) as direct_state:
        (queued,) = customers(Path(folder) / "queued", 1, records, queue_state)
        (direct,) = customers(Path(folder) / "direct", 1, records, direct_state)
        started = time.perf_counter()
        syncmap("enqueue", str(queued), cwd=queued.parent)
        syncmap("worker", "--once", cwd=queued.parent)
        by_worker = time.perf_counter() - started
        started = time.perf_counter()
        syncmap("apply", str(direct), cwd=direct.parent)
        return by_worker, time.perf_counter() - started


def main(jobs: int = 30, records: int = 1_000) -> list[Result]:
    name = f"{jobs} job{'s' if jobs != 1 else ''} of {records:,} contacts on the queue"
    results = []
    for workers in (1, 2, 3):
        rate = runs_per_minute(jobs, records, workers)
        print(f"{name}: {workers} worker{'s' if workers > 1 else ''}, {rate:.0f} runs per minute")
        results.append(Result(name, f"runs per minute, {workers} worker{'s' if workers > 1 else ''}", rate, "runs/min"))
    by_worker, direct = overhead(records)
    print(f"one run of {records:,} contacts: {by_worker:.2f} s enqueued and run by a worker, {direct:.2f} s by apply")
    results += [
        Result(f"one job of {records:,} contacts", "enqueued and run by a worker", by_worker, "s"),
        Result(f"one job of {records:,} contacts", "run by apply", direct, "s"),
    ]
    return results


if __name__ == "__main__":
    main(*(int(argument) for argument in sys.argv[1:]))

"""Customer tables at scale: `syncmap plan` of N platform rows read by the `sql` connector from a
PostgreSQL table and from a customer-layout SQLite table (real columns, not syncmap's store),
against a SQLite CRM of N/10 Leads, beside the same plan from syncmap's own store (the `sqlite`
connector): the PostgreSQL table may cost at most 1.2 times as much. Reads stream by keyset
pages, so the connector's read alone is measured too, of N/10 rows and of all N: its peak memory
stays flat while the rows grow tenfold."""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from bench import process
from bench.plan_scale import MAPPING, SQLITE_CRM, SQLITE_PLATFORM, contacts, measure, seed_crm
from bench.results import Result
from engine.connectors.sqlite import SqliteConnector

POSTGRES = os.environ.get("SYNCMAP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
COLUMNS = ("contact_id", "first_name", "last_name", "phone", "email", "company", "updated_at")
TABLE = (
    "CREATE TABLE contacts (contact_id bigint PRIMARY KEY, first_name text, last_name text, "
    "phone text, email text, company text, updated_at {stamp} NOT NULL)"
)
INDEX = "CREATE INDEX contacts_modified ON contacts (updated_at, contact_id)"
PLATFORM = '{{connector: sql, settings: {{url: "{url}"}}}}'
SOURCE = ", id: contact_id, modified: updated_at"
READ = """\
import itertools, sys
from engine.connectors.sql import SqlConnector
with SqlConnector({"url": sys.argv[1]}, read_only=True) as connector:
    print(sum(1 for _ in itertools.islice(connector.read("contacts"), int(sys.argv[2]))))
"""
FIRST_CHANGE = datetime(2026, 1, 1)


def rows(count: int) -> Iterator[tuple]:
    """The platform contacts of `plan_scale` as table rows, changed a millisecond apart."""
    for i, contact in enumerate(contacts(count)):
        changed = FIRST_CHANGE + timedelta(milliseconds=i)
        yield (i, *(contact[column] for column in COLUMNS[1:-1]), f"{changed:%Y-%m-%d %H:%M:%S.%f}")


@contextmanager
def postgres_table(count: int) -> Iterator[str]:
    """A new database on the PostgreSQL server holding `contacts` with ``count`` rows (loaded by
    COPY), dropped afterwards; yields its url."""
    name = f"syncmap_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES.rsplit('/', 1)[0]}/{name}"
    try:
        with psycopg.connect(url) as connection:
            connection.execute(TABLE.format(stamp="timestamptz"))
            with connection.cursor().copy(f"COPY contacts ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows(count):
                    copy.write_row(row)
            connection.execute(INDEX)
            connection.execute("ANALYZE contacts")
        yield url
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def sqlite_table(path: Path, count: int) -> str:
    """A customer-layout SQLite file holding `contacts` with ``count`` rows; returns its url."""
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(TABLE.format(stamp="DATETIME"))
        connection.executemany(f"INSERT INTO contacts VALUES ({', '.join('?' * len(COLUMNS))})", rows(count))
        connection.execute(INDEX)
    connection.close()
    return f"sqlite:///{path}"


def measure_read(url: str, count: int, against: str) -> list[Result]:
    """The connector's read of the first ``count`` rows alone, in a child process."""
    measured = process.measure(process.script(READ, url, str(count)))
    read, seconds, peak = measured.out.strip(), measured.seconds, measured.peak_mb
    if measured.code != 0 or read != str(count):
        raise RuntimeError(f"the read of {count:,} rows from {against} failed (read: {read or 'none'})")
    print(f"sql connector read of {count:,} rows from {against}: {seconds:.1f} s, {peak:,.0f} MB peak")
    name = f"sql connector read, {count:,} rows from {against}"
    return [Result(name, "throughput", count / seconds, "records/s"), Result(name, "peak RSS", peak, "MB")]


def measure_table(project: Path, url: str, records: int, against: str) -> list[Result]:
    mapping = f"{against.split()[0].lower()}.yaml"
    (project / mapping).write_text(
        MAPPING.format(platform=PLATFORM.format(url=url), source=SOURCE, crm=SQLITE_CRM)
    )
    return [
        *measure_read(url, records // 10, against),
        *measure_read(url, records, against),
        *measure(project, mapping, records, f"SQLite CRM, from a {against}", {}, "", "<= 1,024 MB"),
    ]


def main(records: int = 1_000_000) -> list[Result]:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "syncmap.toml").write_text("")
        seed_crm(project, records // 10)
        results = measure_table(project, sqlite_table(project / "app.db", records), records, "SQLite table")
        with postgres_table(records) as url:
            results += measure_table(project, url, records, "PostgreSQL table")
        with SqliteConnector({"path": "platform.db"}, project) as store:
            store.seed("contacts", contacts(records))
        (project / "own.yaml").write_text(MAPPING.format(platform=SQLITE_PLATFORM, source="", crm=SQLITE_CRM))
        results += measure(project, "own.yaml", records, "SQLite CRM, from syncmap's own store", {})
    seconds = {r.benchmark: r.value for r in results if r.measure == "wall time"}
    table, own = (next(v for k, v in seconds.items() if k.endswith(against)) for against in
                  ("from a PostgreSQL table", "from syncmap's own store"))  # fmt: skip
    print(f"plan from a PostgreSQL table / from syncmap's own store: {table / own:.2f} (target <= 1.2)")
    name = f"syncmap plan, {records:,} records: a PostgreSQL table against syncmap's own store"
    return [*results, Result(name, "time ratio", table / own, "x", "<= 1.2")]


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)

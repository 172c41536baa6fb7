"""Many customers on one machine: N customer jobs made from the shipped SyncApps template, each
syncing its marketing list both ways with its slice of one of two Salesforce orgs (local
`syncmap sandbox` orgs, each with a daily API limit), run by one scheduler (`syncmap watch`; more
with `--schedulers`) and three workers (`syncmap worker`) sharing a PostgreSQL state store, while
a random worker is killed with SIGKILL every two seconds and started again.

    python examples/scale/run.py                       # 30 customers of 40 people each
    python examples/scale/run.py --customers 12 --people 20 --state postgresql://...

At the end it checks, and says, that every job converged (its plan has nothing left to do, and
both sides hold each of its people once), that no job ever had two runs at once (from the run
records), and that each org's budget held (the calls it counted stayed within its daily limit
less the tenth syncmap keeps for the org's other integrations). It exits 1 when one does not.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import requests

from engine.connectors.sqlite import SqliteConnector
from engine.job import Job
from engine.state import StateStore

ORGS = 2
DOCUMENT = """\
syncmap: 2
extends: syncmap:syncapps
name: {name}
connections:
  syncapps:
    settings: {{path: syncapps.db}}
  salesforce:
    settings:
      instance_url: ${{ORG_{org}_URL}}
      session_id: ${{ORG_{org}_SESSION_ID}}
      ca_file: ${{ORG_{org}_CA_FILE}}
objects:
  contacts:
    target:
      where: "MailingCity = '{name}'"  # this customer's slice of the org
    fields:
      MailingCity: {{value: {name}, create_only: true}}
"""


def customers(folder: Path, count: int, people: int) -> tuple[list[Path], list[list[dict]]]:
    """``count`` customer projects, and each org's seed: a customer's people are on its list, in
    its slice of its org (a third of them), or both (written differently on each side)."""
    mappings, seeds = [], [[] for _ in range(ORGS)]
    for number in range(1, count + 1):
        name, org = f"customer-{number:02d}", number % ORGS
        project = folder / name
        project.mkdir(parents=True)
        (project / "syncmap.toml").write_text("")
        (project / "list.yaml").write_text(DOCUMENT.format(name=name, org=org))
        members = []
        for i in range(people):
            email = f"person{i}@{name}.example"
            if i % 3 != 1:
                members.append({"id": f"m{i}", "email": email.upper() if i % 3 == 2 else email,
                                "first_name": f"Ana{i}", "last_name": f"Lopez{i}"})  # fmt: skip
            if i % 3 != 0:
                seeds[org].append({"attributes": {"type": "Contact"}, "FirstName": f"Ana{i}",
                                   "LastName": f"Lopez{i}", "Email": email, "MailingCity": name})  # fmt: skip
        with SqliteConnector({"path": "syncapps.db"}, project) as store:
            store.seed("subscribers", members)
        mappings.append(project / "list.yaml")
    return mappings, seeds


@contextmanager
def org(folder: Path, number: int, seed: list[dict], daily_calls: int):
    """A `syncmap sandbox` org in a process of its own: its environment variables, and its stats."""
    seed_file, ca_file = folder / f"org-{number}.jsonl", folder / f"org-{number}-ca.pem"
    seed_file.write_text("".join(json.dumps(record) + "\n" for record in seed))
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "sandbox", "--port", "0", "--quiet", "--seed", str(seed_file),
         "--ca-file", str(ca_file), "--daily-api-requests", str(daily_calls)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        found = json.loads(process.stdout.readline())
        environ = {f"ORG_{number}_URL": found["instance_url"], f"ORG_{number}_SESSION_ID": found["session_id"],
                   f"ORG_{number}_CA_FILE": str(ca_file)}  # fmt: skip

        def stats() -> dict[str, Any]:
            return requests.get(f"{found['admin_url']}/stats", verify=str(ca_file), timeout=30).json()

        yield environ, stats
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def state_store(server: str):
    """A PostgreSQL state store of its own: a schema in the server's database, dropped afterwards."""
    schema = f"scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def syncmap(folder: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "engine", *args],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def pending(mappings: list[Path], state: str) -> list[str]:
    """The jobs whose plan still has something to do."""
    left = []
    for mapping in mappings:
        with Job.open(mapping, state, read_only=True) as job:
            if job.plan_changes().has_changes():
                left.append(job.name)
    return left


def checks(mappings: list[Path], state: str, orgs: list[Any], daily_calls: int) -> dict[str, Any]:
    """What the run left: people lost or doubled, runs at once, each org's calls against its budget."""
    found: dict[str, Any] = {"lost or doubled": [], "two runs at once": [], "runs": 0, "orgs": []}
    store = StateStore(state)
    for mapping in mappings:
        name = mapping.parent.name
        with Job.open(mapping, state, read_only=True) as job:
            listed = Counter(
                r.values["email"].lower() for r in job.connectors["syncapps"].read("subscribers")
            )
            in_org = Counter(r.values["Email"].lower() for r in job.connectors["salesforce"].read(
                "Contact", where=f"MailingCity = '{name}'"))  # fmt: skip
        if listed != in_org or max(listed.values(), default=1) != 1:
            found["lost or doubled"].append(name)
        runs = sorted(
            (datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"]))
            for r in store.runs(name) if r["finished_at"]
        )  # fmt: skip
        found["runs"] += len(runs)
        if any(end > next_start for (_, end), (next_start, _) in itertools.pairwise(runs)):
            found["two runs at once"].append(name)
    store.close()
    for _, stats in orgs:
        calls = stats()["total"]
        found["orgs"].append({"calls": calls, "budget": daily_calls - daily_calls // 10})
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=30)
    parser.add_argument("--people", type=int, default=40, help="people per customer")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--schedulers", type=int, default=1, help="`syncmap watch` processes, each scheduling every job"
    )
    parser.add_argument("--kills", type=int, default=10, help="workers killed, one every two seconds")
    parser.add_argument("--daily-calls", type=int, default=20_000, help="each org's daily API limit")
    parser.add_argument("--state", default=os.environ.get("SYNCMAP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
                        help="a PostgreSQL server (a schema of its own is made there, and dropped)")  # fmt: skip
    options = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as temporary, ExitStack() as stack:
        folder = Path(temporary)
        mappings, seeds = customers(folder / "customers", options.customers, options.people)
        orgs = [stack.enter_context(org(folder, n, seeds[n], options.daily_calls)) for n in range(ORGS)]
        os.environ.update({name: value for environ, _ in orgs for name, value in environ.items()})
        state = stack.enter_context(state_store(options.state))
        converged = run(folder / "customers", mappings, state, options)
        found = checks(mappings, state, orgs, options.daily_calls)
    found["converged"], found["seconds"] = converged, round(time.monotonic() - started, 1)
    budgets_held = all(o["calls"] <= o["budget"] for o in found["orgs"])
    print(json.dumps(found))
    print(f"{options.customers} customers x {options.people} people, {options.schedulers} scheduler(s), "
          f"{options.workers} workers, "
          f"{options.kills} killed: {found['runs']} runs in {found['seconds']} s; "
          f"{'every job converged' if converged else 'NOT converged'}; "
          f"lost or doubled: {found['lost or doubled'] or 'none'}; "
          f"two runs at once: {found['two runs at once'] or 'never'}; "
          + "; ".join(f"org {n}: {o['calls']} calls of a {o['budget']} budget" for n, o in enumerate(found["orgs"])),
          file=sys.stderr)  # fmt: skip
    ok = converged and not found["lost or doubled"] and not found["two runs at once"] and budgets_held
    return 0 if ok else 1


def run(folder: Path, mappings: list[Path], state: str, options: argparse.Namespace) -> bool:
    """The scheduler and the workers, the kills, then waiting for every job to converge."""
    schedulers = [
        syncmap(folder, "watch", ".", "--interval", "3s", "--state", state) for _ in range(options.schedulers)
    ]
    workers = [syncmap(folder, "worker", "--state", state) for _ in range(options.workers)]
    chance = random.Random(7)
    try:
        for _ in range(options.kills):
            time.sleep(2)
            victim = chance.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            workers[victim] = syncmap(folder, "worker", "--state", state)
        deadline = time.monotonic() + 300
        while pending(mappings, state):
            if time.monotonic() > deadline:
                return False
            time.sleep(2)
        return True
    finally:
        for process in [*schedulers, *workers]:
            process.send_signal(signal.SIGTERM)
        for process in [*schedulers, *workers]:
            process.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())

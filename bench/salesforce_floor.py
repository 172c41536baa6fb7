"""Salesforce at the floor: N new platform contacts into an empty sandbox org with default
settings, then 1% of them changed, then nothing changed; once one way, once both ways (with 1% of
the Leads edited in Salesforce too, which must come back). Each run is `syncmap apply` in its own
process, measured for the API requests the org counted, wall time, peak RSS and client CPU per
record written. Beside it, in the same run, the floor: a short hand-written simple-salesforce
script sending the same rows to an empty org as one Bulk API 2.0 job."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import yaml
from simple_salesforce import Salesforce

from bench import process
from bench.results import Result
from engine.connectors import Write
from engine.connectors.sqlite import SqliteConnector

DOCUMENT = {
    "syncmap": 2,
    "name": "floor",
    "connections": {
        "platform": {"connector": "sqlite", "settings": {"path": "platform.db"}},
        "salesforce": {
            "connector": "salesforce",
            "settings": {
                "instance_url": "${SF_INSTANCE_URL}",
                "session_id": "${SF_SESSION_ID}",
                "ca_file": "${SF_CA_FILE}",
                "username": "sandbox@syncmap.local",
            },
        },
    },
    "objects": {
        "contacts": {
            "source": {"connection": "platform", "object": "contacts"},
            "target": {"connection": "salesforce", "object": "Lead"},
            "match": [{"source": "email", "target": "Email", "normalize": "email"}],
            "fields": {
                "FirstName": "first_name",
                "LastName": "last_name",
                "Email": "email",
                "Company": {"value": "[not provided]", "create_only": True},
            },
        }
    },
}


class Org:
    """`syncmap sandbox` in a process of its own, as an org is: its work is not the client's, and
    the client's peak RSS is its own (a child forked from a process holding the org would count
    the org's memory as its own)."""

    def __enter__(self) -> Org:
        self.folder = tempfile.TemporaryDirectory()
        ca_file = Path(self.folder.name) / "ca.pem"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine", "sandbox", "--port", "0", "--ca-file", str(ca_file)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        found = json.loads(self.process.stdout.readline())
        self.instance_url, self.session_id, self.ca_file = found["instance_url"], found["session_id"], ca_file
        self.admin_url = found["admin_url"]
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.folder.cleanup()

    def stats(self) -> dict[str, Any]:
        return self.client().session.get(f"{self.admin_url}/stats", timeout=30).json()

    def client(self) -> Salesforce:
        session = requests.Session()
        session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides `verify`
        session.verify = str(self.ca_file)
        host = self.instance_url.removeprefix("https://")
        return Salesforce(instance=host, session_id=self.session_id, session=session)


def people(count: int) -> list[dict[str, str]]:
    return [
        {"id": f"p{i}", "first_name": f"Person{i}", "last_name": "Test", "email": f"p{i}@example.org"}
        for i in range(count)
    ]


def estimate(project: Path, environ: dict[str, str]) -> int:
    """The API calls `syncmap plan` says an apply would make on the org."""
    planned = subprocess.run(
        [sys.executable, "-m", "engine", "plan", "job.yaml", "--format", "json"],
        cwd=project, env=environ, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return sum(json.loads(planned.stdout)["api_calls_estimate"]["salesforce"].values())


def apply(project: Path, environ: dict[str, str], org: Org) -> dict[str, Any]:
    """One `syncmap apply` in its own process, as a scheduled job runs it (its closing lines say
    what it wrote; `--format json` would also write out every change), after the plan's estimate
    of its calls: requests the org counted, seconds, peak RSS (MB), CPU seconds."""
    estimated = estimate(project, environ)
    before = org.stats()["by_kind"]
    measured = process.measure(process.module("engine", "apply", "job.yaml"), project, environ)
    applied = re.search(r"Applied \S+: (\d+) created, (\d+) updated", measured.out)
    if measured.code != 0 or applied is None:
        raise SystemExit(f"syncmap apply failed ({measured.code}): {measured.out[-500:]} {measured.err[-2000:]}")
    kinds = {
        kind: n - before.get(kind, 0) for kind, n in org.stats()["by_kind"].items() if n > before.get(kind, 0)
    }
    return {
        "requests": sum(kinds.values()),
        "estimated": estimated,
        "kinds": kinds,
        "seconds": measured.seconds,
        "written": int(applied[1]) + int(applied[2]),
        "rss_mb": measured.peak_mb,
        "cpu": measured.cpu,
    }


def runs(records: int, both_ways: bool) -> list[tuple[str, dict[str, Any]]]:
    document = json.loads(json.dumps(DOCUMENT))
    if not both_ways:
        document["objects"]["contacts"]["direction"] = "to_target"
    with tempfile.TemporaryDirectory() as folder, Org() as org:
        project = Path(folder)
        (project / "syncmap.toml").write_text("")
        (project / "job.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
        with SqliteConnector({"path": "platform.db"}, project) as store:
            store.seed("contacts", people(records))
        environ = {
            **os.environ,
            "SF_INSTANCE_URL": org.instance_url,
            "SF_SESSION_ID": org.session_id,
            "SF_CA_FILE": str(org.ca_file),
        }
        made = [("initial sync", apply(project, environ, org))]
        changed = max(1, records // 100)
        with SqliteConnector({"path": "platform.db"}, project) as store:
            edits = [
                Write(f"c{i}", "update", "contacts", f"p{i}", {"first_name": f"Changed{i}"})
                for i in range(changed)
            ]
            store.write("contacts", edits)
        if both_ways:  # and as many Leads edited by a person in Salesforce
            sf = org.client()
            leads = sf.query(f"SELECT Id FROM Lead ORDER BY Id DESC LIMIT {min(changed, 200)}")["records"]
            sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": [
                {"attributes": {"type": "Lead"}, "Id": lead["Id"], "FirstName": f"Edited{n}"}
                for n, lead in enumerate(leads)
            ]})  # fmt: skip
        made.append(("1% changed", apply(project, environ, org)))
        with SqliteConnector({"path": "platform.db"}, project) as store:
            synced = sum(p.values.get("first_name", "").startswith("Edited") for p in store.read("contacts"))
        assert synced == (min(changed, 200) if both_ways else 0), f"{synced} Salesforce edits synced back"
        made.append(("nothing changed", apply(project, environ, org)))
    return made


def floor_seconds(records: int) -> tuple[float, int]:
    """The same rows as one Bulk job by a hand-written simple-salesforce script: seconds, requests."""
    rows = [
        {
            "FirstName": p["first_name"],
            "LastName": p["last_name"],
            "Email": p["email"],
            "Company": "[not provided]",
        }
        for p in people(records)
    ]
    with Org() as org:
        sf = org.client()
        before = org.stats()["total"]
        started = time.perf_counter()
        results = sf.bulk2.Lead.insert(records=rows)
        seconds = time.perf_counter() - started
        assert sum(int(r["numberRecordsProcessed"]) for r in results) == records, results
        return seconds, org.stats()["total"] - before


def main(records: int = 100_000) -> list[Result]:
    print(f"Salesforce at the floor, {records:,} contacts (default settings; floor: one Bulk job by hand):")
    floor, floor_requests = floor_seconds(records)
    print(f"  floor: one Bulk job by a hand-written script: {floor:.1f} s, {floor_requests} requests")
    results = [
        Result(f"Salesforce, {records:,} new contacts", "hand-written Bulk job (the floor)", floor, "s")
    ]
    for both_ways in (False, True):
        name = "two-way" if both_ways else "one-way"
        for run, measured in runs(records, both_ways):
            title = f"Salesforce, {records:,} contacts, {name}: {run}"
            cpu_us = measured["cpu"] / max(measured["written"], 1) * 1e6
            ratio = measured["seconds"] / floor
            off = abs(measured["estimated"] - measured["requests"]) / max(measured["requests"], 1)
            print(
                f"  {name:<8} {run:<16} {measured['requests']:>4.0f} requests (estimated {measured['estimated']},"
                f" {off:.0%} off)  {measured['seconds']:6.1f} s ({ratio:.2f}x the floor)  {measured['rss_mb']:5.0f} MB"
                f"  {measured['cpu']:5.1f} s CPU ({cpu_us:.0f} us per record written)  {measured['kinds']}"
            )
            targets = {
                "initial sync": ("<= 12", "<= 1.3x the floor", "< 300 MB", "<= 50 us"),
                "1% changed": ("<= 8", "<= 3 s", "", ""),
                "nothing changed": ("<= 2 per object", "", "", ""),
            }[run]
            results += [
                Result(title, "API requests", measured["requests"], "requests", targets[0]),
                Result(title, "plan's estimate off by", off * 100, "%", "<= 10%"),
                Result(title, "wall time", measured["seconds"], "s", targets[1]),
                Result(title, "peak RSS", measured["rss_mb"], "MB", targets[2]),
                Result(title, "client CPU", measured["cpu"], "s")
                if run != "initial sync"
                else Result(title, "client CPU per record written", cpu_us, "us", targets[3]),
            ]
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)

"""No duplicates, nothing lost, on the bad days: two runs of one job at once, `watch` beside
`apply`, and SIGKILL at random moments. Run as a user would, each `syncmap` in its own process,
against the sandbox org through simple-salesforce over HTTPS."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from engine.connectors.sqlite import SqliteConnector
from engine.sandbox import Sandbox
from tests.conftest import run_syncmap, sandbox_env

MAPPING = """\
syncmap: 2
name: people
defaults: {phone_region: US}
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  salesforce:
    connector: salesforce
    settings: {instance_url: "${SF_INSTANCE_URL}", session_id: "${SF_SESSION_ID}", ca_file: "${SF_CA_FILE}"}
objects:
  people:
    source: {connection: platform, object: contacts}
    target: {connection: salesforce, object: Lead}
    direction: to_target
    match:
      - {source: phone, target: [MobilePhone], normalize: phone}
    fields:
      FirstName: first_name
      LastName: last_name
      MobilePhone: {source: phone, transform: "phone_e164(@)"}
      Company: {value: Acme, create_only: true}
"""


def people(start: int, count: int) -> list[dict]:
    """Platform contacts with unique last names; every third has no phone (no match key)."""
    return [
        {
            "id": f"p{i}",
            "first_name": "Ana",
            "last_name": f"Person{i}",
            "phone": None if i % 3 == 0 else f"(415) 555-{i:04d}",
        }
        for i in range(start, start + count)
    ]


@pytest.fixture
def org():
    with Sandbox() as sandbox:
        yield sandbox


def make_project(folder: Path, org: Sandbox, contacts: list[dict]) -> tuple[Path, dict[str, str]]:
    folder.mkdir()
    (folder / "syncmap.toml").write_text("")
    (folder / "people.yaml").write_text(MAPPING)
    add_contacts(folder, contacts)
    return folder / "people.yaml", sandbox_env(org.instance_url, org.session_id, org.ca_file)


def add_contacts(folder: Path, contacts: list[dict]) -> None:
    SqliteConnector({"path": "platform.db"}, folder).seed("contacts", contacts).close()


def start(mapping: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "engine", *args, str(mapping)],
        cwd=mapping.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(process: subprocess.Popen) -> tuple[int, str]:
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def leads_by_name(org: Sandbox) -> Counter[str]:
    records = org.client().query_all("SELECT LastName FROM Lead")["records"]
    return Counter(record["LastName"] for record in records)


def linked_leads(mapping: Path) -> dict[str, str]:
    with sqlite3.connect(mapping.parent / ".syncmap" / "state.db") as db:
        return dict(db.execute("SELECT source_id, target_id FROM links WHERE job = 'people'").fetchall())


def assert_each_contact_once(org: Sandbox, mapping: Path, count: int) -> None:
    """Every platform contact has exactly one Lead, and every Lead is linked to its contact."""
    assert leads_by_name(org) == Counter({f"Person{i}": 1 for i in range(count)})
    links = linked_leads(mapping)
    assert sorted(links) == sorted(f"p{i}" for i in range(count))
    leads = org.client().query_all("SELECT Id, LastName FROM Lead")["records"]
    assert {links[f"p{lead['LastName'].removeprefix('Person')}"] for lead in leads} == {
        lead["Id"] for lead in leads
    }


@pytest.mark.parametrize("wait", [None, "60"], ids=["refused", "waits"])
def test_two_applies_of_one_job_started_together_write_once(tmp_path, org, wait):
    mapping, env = make_project(tmp_path / "project", org, people(0, 120))
    org.set_faults(delay_ms=150)  # each call takes a while: the two runs surely overlap
    options = ("--batch-size", "10", *(("--wait", wait) if wait else ()))
    first, second = start(mapping, env, "apply", *options), start(mapping, env, "apply", *options)
    outcomes = sorted([finish(first), finish(second)])
    org.set_faults(delay_ms=0)

    if wait:
        assert [code for code, _ in outcomes] == [0, 0], outcomes
    else:
        (ok, _), (busy, message) = outcomes
        assert (ok, busy) == (0, 5), outcomes
        assert "error: people is busy: `syncmap apply` (pid " in message
        assert "Traceback" not in message
    assert_each_contact_once(org, mapping, 120)
    again = run_syncmap("plan", str(mapping), "--detailed-exitcode", cwd=mapping.parent, env=env)
    assert again.returncode == 0, again.stdout + again.stderr


def test_watch_beside_apply_writes_once(tmp_path, org):
    mapping, env = make_project(tmp_path / "project", org, people(0, 120))
    org.set_faults(delay_ms=150)
    watch = start(mapping, env, "watch", "--interval", "1s", "--log-format", "json")
    apply = start(mapping, env, "apply", "--batch-size", "10")
    code, err = finish(apply)
    assert code in (0, 5), err
    time.sleep(2.5)  # a scheduled run of watch after the apply: nothing is left to do
    watch.send_signal(signal.SIGINT)
    _, log = watch.communicate(timeout=60)
    org.set_faults(delay_ms=0)
    assert watch.returncode == 0, log
    assert '"event": "busy"' in log or code == 5, "one of the two waited for the other"
    assert_each_contact_once(org, mapping, 120)


@pytest.mark.slow
def test_sigkill_at_twenty_random_moments_loses_and_doubles_nothing(tmp_path, org):
    """Each round adds contacts (a third of them without a phone, so without a match key) and
    kills the apply after a random number of its Leads were created, a random moment later:
    before it wrote, between batches, during a call, while it records."""
    rng = random.Random(16)
    mapping, env = make_project(tmp_path / "project", org, [])
    sf = org.client()
    org.set_faults(delay_ms=30)
    total, kills = 0, 0
    for _ in range(20):
        add_contacts(mapping.parent, people(total, 30))
        total += 30
        before = sf.query("SELECT COUNT() FROM Lead")["totalSize"]
        wanted = before + rng.randint(0, 30)
        process = start(mapping, env, "apply", "--batch-size", "5")
        while process.poll() is None and sf.query("SELECT COUNT() FROM Lead")["totalSize"] < wanted:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.1))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate(timeout=120)
    org.set_faults(delay_ms=0)
    code, err = finish(start(mapping, env, "apply"))
    assert code == 0, err
    assert kills >= 15, "most runs were killed mid-way"
    assert_each_contact_once(org, mapping, total)

"""The shipped Salesforce example, run by the real `syncmap` command against its local org (a
`sandbox:` file syncmap serves for each run) through simple-salesforce over HTTPS: plan, apply,
plan again with nothing left to do, then the org checked with SOQL."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from engine.sandbox import Sandbox
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "salesforce"


def syncmap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, timeout=120)


def test_salesforce_example_against_the_sandbox(tmp_path: Path):
    project = tmp_path / "salesforce"
    project.mkdir()
    for name in ("contacts.yaml", "syncmap.toml"):
        shutil.copy(EXAMPLE / name, project / name)
    generator = REPO / "examples" / "quickstart" / "generate.py"
    subprocess.run([sys.executable, str(generator), "--records", "200", "--dir", str(project)], check=True)
    mapping = str(project / "contacts.yaml")

    contacts_before = sum('"Contact"' in line for line in (project / "org.jsonl").read_text().splitlines())

    planned = syncmap("plan", mapping, "--format", "json")
    assert planned.returncode == 0, planned.stderr
    applied = syncmap("apply", mapping, "--format", "json")
    assert applied.returncode == 0, applied.stderr
    again = syncmap("plan", mapping, "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr

    report, plan = json.loads(applied.stdout), json.loads(planned.stdout)
    assert report["counts"] == plan["counts"]
    assert report["counts"]["create"] > 0 and report["counts"]["link"] > 0
    assert report["failed"] == []
    # API calls: one Bulk job or collection call per 200 writes and a few reads, far from one per record
    writes = report["counts"]["create"] + report["counts"]["update"]
    assert report["api_calls"]["salesforce"] <= writes // 200 + 12

    with Sandbox(db_path=project / "org.db") as org:  # the org as the runs left it
        sf = org.client()
        created = sf.query("SELECT COUNT() FROM Lead WHERE LeadSource = 'SMS platform'")["totalSize"]
        assert created == sum(
            1
            for step in report["steps"]
            for c in step["changes"]
            if c["action"] == "create" and c["side"] == "target"
        )
        assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == contacts_before
        phones = [
            r["MobilePhone"]
            for r in sf.query("SELECT MobilePhone FROM Lead WHERE LeadSource = 'SMS platform'")["records"]
        ]
        assert phones and all(phone.startswith("+1415555") and len(phone) == 12 for phone in phones)  # E.164


def test_a_missing_local_org_is_an_error_at_its_setting(tmp_path: Path):
    project = tmp_path / "salesforce"
    project.mkdir()
    for name in ("contacts.yaml", "syncmap.toml"):
        shutil.copy(EXAMPLE / name, project / name)
    (project / "platform.db").write_bytes(b"")
    result = syncmap("plan", str(project / "contacts.yaml"))
    assert result.returncode == 1, result.stderr  # a document error, located
    assert "contacts.yaml:22:" in result.stderr and "the local org" in result.stderr
    assert "org.db does not exist" in result.stderr and "Traceback" not in result.stderr

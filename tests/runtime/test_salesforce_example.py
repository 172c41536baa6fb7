"""The shipped Salesforce example, run by the real `syncmap` command against `syncmap sandbox`
through simple-salesforce over HTTPS: plan, apply, check the org with SOQL, plan again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from engine.sandbox import Sandbox
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "salesforce"


def syncmap(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_salesforce_example_against_the_sandbox(tmp_path: Path):
    project = tmp_path / "salesforce"
    project.mkdir()
    for name in ("contacts.yaml", "syncmap.toml"):
        shutil.copy(EXAMPLE / name, project / name)
    generator = REPO / "examples" / "quickstart" / "generate.py"
    subprocess.run([sys.executable, str(generator), "--records", "200", "--dir", str(project)], check=True)
    mapping = str(project / "contacts.yaml")

    with Sandbox(seed=[project / "org.jsonl"]) as org:
        env = {
            **os.environ,
            "SF_INSTANCE_URL": org.instance_url,
            "SF_SESSION_ID": org.session_id,
            "SF_CA_FILE": str(org.ca_file),
        }
        sf = org.client()
        contacts_before = sf.query("SELECT COUNT() FROM Contact")["totalSize"]

        planned = syncmap("plan", mapping, "--format", "json", env=env)
        assert planned.returncode == 0, planned.stderr
        assert org.session_id not in planned.stdout + planned.stderr

        applied = syncmap("apply", mapping, "--format", "json", env=env)
        assert applied.returncode == 0, applied.stderr

        report, plan = json.loads(applied.stdout), json.loads(planned.stdout)
        assert report["counts"] == plan["counts"]
        assert report["counts"]["create"] > 0 and report["counts"]["link"] > 0
        assert report["failed"] == []

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

        # API calls: one collection call per 200 writes and a handful of reads, nowhere near one per record
        writes = report["counts"]["create"] + report["counts"]["update"]
        assert report["api_calls"]["salesforce"] <= writes // 200 + 12

        again = syncmap("plan", mapping, "--detailed-exitcode", env=env)
        assert again.returncode == 0, again.stdout

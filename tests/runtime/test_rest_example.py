"""The shipped REST example, as a customer runs it: a platform API (json-server over the
example's generated db.json) synced both ways with the sandbox org through the real `syncmap`
command. Edits on each side reach the other, every activity becomes one Task on the right
Contact, a second plan has nothing to do, and a run with nothing new costs one list request
per object."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from engine.sandbox import Sandbox
from tests.conftest import REPO, sandbox_env

EXAMPLE = REPO / "examples" / "rest"


def syncmap(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], cwd=cwd, env={**os.environ, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_platform_api_and_salesforce_sync_both_ways(tmp_path: Path, json_server):
    project = tmp_path / "rest"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("db.json", "org.jsonl", ".syncmap"))
    subprocess.run([sys.executable, str(project / "generate.py"), "--dir", str(project)], check=True)
    db = json.loads((project / "db.json").read_text())
    platform = json_server(db)
    api = httpx.Client(base_url=platform.url, headers=platform.headers())
    with Sandbox(seed=[project / "org.jsonl"], describe_file=project / "describe.json") as org:
        env = {
            **sandbox_env(org.instance_url, org.session_id, org.ca_file),
            "PLATFORM_URL": platform.url,
            "PLATFORM_TOKEN": platform.token,
        }
        sf = org.client()
        planned = syncmap("plan", "app.yaml", "--format", "json", cwd=project, env=env)
        assert planned.returncode in (0, 2), planned.stderr
        assert [r["method"] for r in platform.requests()] == ["GET", "GET"]  # a plan only lists
        applied = syncmap("apply", "app.yaml", cwd=project, env=env)
        assert applied.returncode == 0, applied.stderr + applied.stdout

        contacts = platform.records("contacts")
        sf_contacts = sf.query_all("SELECT Id, Email, Phone, LastName FROM Contact")["records"]
        assert len(contacts) == len(sf_contacts) == 30  # 23 on each side, 16 in both
        assert {c["email"] for c in contacts} == {c["Email"].lower() for c in sf_contacts}
        tasks = sf.query_all("SELECT Platform_Activity_Id__c, WhoId, Subject FROM Task")["records"]
        assert len(tasks) == len(db["activities"]) == len({t["Platform_Activity_Id__c"] for t in tasks})
        emails = {c["Id"]: c["Email"].lower() for c in sf_contacts}
        by_id = {str(c["id"]): c["email"] for c in contacts}
        for activity in db["activities"]:
            task = next(t for t in tasks if t["Platform_Activity_Id__c"] == str(activity["id"]))
            assert emails[task["WhoId"]] == by_id[str(activity["contact_id"])]

        # an edit on each side reaches the other
        ana = next(c for c in contacts if c["id"] == 1)
        api.patch("/contacts/1", json={"last_name": "Lopez-Ortiz"}).raise_for_status()
        salesforce_only = next(c for c in sf_contacts if c["Email"] == "dana.okafor3@example.com")
        sf.Contact.update(salesforce_only["Id"], {"Phone": "+14155559999"})
        assert syncmap("apply", "app.yaml", cwd=project, env=env).returncode == 0
        renamed = sf.query(f"SELECT LastName FROM Contact WHERE Email = '{ana['email'].upper()}'")["records"]
        assert renamed[0]["LastName"] == "Lopez-Ortiz"
        dana = api.get("/contacts", params={"email": "dana.okafor3@example.com"}).json()
        assert [c["phone"] for c in dana] == ["+14155559999"]

        again = syncmap("plan", "app.yaml", "--format", "json", cwd=project, env=env)
        assert json.loads(again.stdout)["counts"] == dict.fromkeys(
            ("create", "update", "delete", "skip", "conflict", "link"), 0
        ), again.stdout[:2000]
        # the run after a sync reads back what it wrote to Salesforce (the default); the next
        # run with nothing new asks the platform for each object's changes once, and nothing else
        assert syncmap("apply", "app.yaml", cwd=project, env=env).returncode == 0
        platform.forget_requests()
        assert syncmap("apply", "app.yaml", cwd=project, env=env).returncode == 0
        lists = platform.requests()
        assert sorted(r["url"].split("?")[0] for r in lists) == ["/activities", "/contacts"], lists

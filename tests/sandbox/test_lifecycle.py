"""Starting the sandbox: seeds, persistence in a database file, and the command line."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from engine.errors import UsageError
from engine.sandbox import Sandbox

ROOT = Path(__file__).parents[2]


def test_seed_files_and_records(tmp_path):
    (tmp_path / "Contact.jsonl").write_text(
        '{"LastName": "Jsonl"}\n{"attributes": {"type": "Lead"}, "LastName": "L", "Company": "C"}\n'
    )
    (tmp_path / "accounts.json").write_text(
        json.dumps({"records": [{"attributes": {"type": "Account"}, "Name": "From query result"}]})
    )
    seed = [tmp_path / "Contact.jsonl", tmp_path / "accounts.json", {"type": "Account", "Name": "D"}]
    with Sandbox(seed=seed) as sandbox:
        sf = sandbox.client()
        assert sf.query("SELECT LastName FROM Contact")["records"][0]["LastName"] == "Jsonl"
        assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1
        names = [r["Name"] for r in sf.query("SELECT Name FROM Account ORDER BY Name")["records"]]
        assert names == ["D", "From query result"]


def test_bad_seed_is_a_usage_error(tmp_path):
    (tmp_path / "bad.json").write_text('[{"type": "Lead", "Nope__c": 1}]')
    with pytest.raises(UsageError, match="cannot seed Lead record"), Sandbox(seed=[tmp_path / "bad.json"]):
        pass


def test_database_file_keeps_records_across_restarts_and_seeds_once(tmp_path):
    db = tmp_path / "org.sqlite"
    seed = [{"type": "Account", "Name": "Seeded"}]
    with Sandbox(db_path=db, seed=seed) as sandbox:
        sandbox.client().Account.create({"Name": "Created"})
    with Sandbox(db_path=db, seed=seed) as sandbox:
        records = sandbox.client().query("SELECT Name FROM Account ORDER BY Name")["records"]
        assert [r["Name"] for r in records] == ["Created", "Seeded"]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_command_prints_one_json_line_serves_and_stops_cleanly(stop_signal):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.sandbox",
            "--port",
            "0",
            "--page-size",
            "5",
            "--drop-field",
            "Task.Type",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        info = json.loads(process.stdout.readline())
        assert set(info) >= {"instance_url", "session_id", "ca_file", "admin_url", "version"}
        assert info["instance_url"].startswith("https://127.0.0.1:")
        session = requests.Session()
        session.trust_env = False
        session.verify = info["ca_file"]
        response = session.get(
            f"{info['instance_url']}/services/data/v{info['version']}/sobjects/Task/describe",
            headers={"Authorization": f"Bearer {info['session_id']}"},
        )
        assert "Type" not in {f["name"] for f in response.json()["fields"]}
    finally:
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert stdout == "" and "Traceback" not in stderr
    assert "GET /services/data/v59.0/sobjects/Task/describe 200 describe" in stderr


def test_command_reports_bad_options_without_traceback(tmp_path):
    (tmp_path / "describe.json").write_text('{"sobjects": [{"label": "no name"}]}')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.sandbox",
            "--port",
            "0",
            "--describe",
            str(tmp_path / "describe.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 64
    assert result.stderr.startswith("error: describe file")
    assert "Traceback" not in result.stderr


def test_busy_port_is_a_usage_error_and_leaves_no_ca_file(sandbox):
    second = Sandbox(port=sandbox.port)
    with pytest.raises(UsageError, match=r"cannot listen on 127\.0\.0\.1"):
        second.start()
    assert second.api is None
    with pytest.raises(UsageError, match="not started"):
        second.ca_file  # noqa: B018

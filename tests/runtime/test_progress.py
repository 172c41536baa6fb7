"""Progress while a run reads and writes: bars on a terminal (driven through a real pseudo-terminal),
JSON lines with `--log-format json`, and nothing mixed into a report sent to a pipe."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

from tests.conftest import run_syncmap
from tests.runtime.test_crash import make_project


def test_apply_on_a_terminal_draws_a_bar_per_phase(tmp_path):
    mapping = make_project(tmp_path / "quickstart", 60)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "apply", str(mapping)], cwd=mapping.parent,
        stdout=subprocess.PIPE, stderr=follower, env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )  # fmt: skip
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        drawn += chunk
    report = process.communicate(timeout=60)[0].decode()
    os.close(leader)
    assert process.returncode == 0 and report.startswith("Applied quickstart:")
    screen = drawn.decode(errors="replace")
    for phase in (
        "contacts: read crm",
        "contacts: read platform",
        "contacts: write crm",
        "contacts: write platform",
    ):
        assert phase in screen, screen
    written = json.loads(run_syncmap("runs", "quickstart", "--format", "json", cwd=mapping.parent).stdout)[-1]
    to_crm = written["counts"]["create"]  # every bar ends full: its count is its total
    assert "/" in screen and "\x1b[" in screen and to_crm > 0


def test_apply_logs_progress_as_json_lines_each_phase_known_from_its_start(tmp_path):
    mapping = make_project(tmp_path / "quickstart", 60)
    result = run_syncmap(
        "apply", str(mapping), "--log-format", "json", "--format", "json", cwd=mapping.parent
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    last = {line["phase"]: line for line in lines}
    assert set(last) == {
        "contacts: read crm",
        "contacts: read platform",
        "contacts: write crm",
        "contacts: write platform",
    }
    assert all(line["event"] == "progress" and line["done"] == line["total"] for line in last.values())
    report = json.loads(result.stdout)
    by_connection = report["by_connection"]
    assert (
        last["contacts: write crm"]["total"]
        == by_connection["crm"]["create"] + by_connection["crm"]["update"]
    )
    assert last["contacts: read platform"]["done"] == report["steps"][0]["read"]["source"]
    first = {}
    for line in lines:
        first.setdefault(line["phase"], line)
    read = first["contacts: read platform"]  # a local table is counted before it is read
    assert (read["done"], read["total"]) == (0, report["steps"][0]["read"]["source"])


def test_a_report_to_a_pipe_carries_no_progress(tmp_path):
    mapping = make_project(tmp_path / "quickstart", 40)
    result = run_syncmap("apply", str(mapping), cwd=mapping.parent)
    assert result.returncode == 0 and result.stderr == "" and "\x1b[" not in result.stdout


"""Each customer example, as a consultant runs it: generate its data, start the sandbox on its
org, `syncmap compile` shows the customer's settings on top of the template, `syncmap plan` shows
creates, updates, skips with reasons and conflicts, and after `syncmap apply` nothing is left to
create."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.sandbox import Sandbox
from tests.conftest import REPO

EXAMPLES = {
    "avochato": ("acme.yaml", ["phone_region: GB", "create_as: Contact"]),
    "syncapps": ("brightwave.yaml", ["target: HasOptedOutOfEmail", "normalize: email"]),
    "phoneiq": ("northwind.yaml", ["target: Title", "update: to_source"]),
    "aloware": ("pinecrest.yaml", ["priority: Lead", "create: to_source"]),
}


def syncmap(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], cwd=cwd, env={**os.environ, **(env or {})},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_the_customer_example_plans_every_kind_of_decision(example, tmp_path):
    document, resolved = EXAMPLES[example]
    (tmp_path / "syncmap.toml").write_text("")
    for folder in ("mappings", "rules"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    (tmp_path / "examples" / example).mkdir(parents=True)
    shutil.copy(REPO / "examples" / example / document, tmp_path / "examples" / example / document)
    generator = [sys.executable, str(REPO / "examples" / "customers.py"), example, "--dir", "examples"]
    subprocess.run(generator, cwd=tmp_path, check=True, capture_output=True)
    mapping = f"examples/{example}/{document}"

    compiled = syncmap("compile", mapping, cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    for setting in resolved:
        assert setting in compiled.stdout, f"`syncmap compile` does not show the customer's {setting}"

    describe = REPO / "examples" / example / "describe.json"  # the org's custom fields, if any
    with Sandbox(
        seed=[tmp_path / "examples" / example / "org.jsonl"],
        describe_file=describe if describe.exists() else None,
    ) as org:
        env = {
            "SF_INSTANCE_URL": org.instance_url,
            "SF_SESSION_ID": org.session_id,
            "SF_CA_FILE": str(org.ca_file),
        }
        planned = syncmap("plan", mapping, "--limit", "500", cwd=tmp_path, env=env)
        assert planned.returncode == 0, planned.stderr
        for mark in ("+ create new", "~ update", "! conflict", "  skipped:\n    no "):
            assert mark in planned.stdout, f"the plan of {example} shows no `{mark.strip()}`"

        applied = syncmap("apply", mapping, cwd=tmp_path, env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        again = syncmap("plan", mapping, cwd=tmp_path, env=env)
        assert "Plan: 0 to create, 0 to update," in again.stdout, again.stdout


TOTANGO_JOBS = [
    "tasks-outbound", "tasks-inbound", "touchpoints-outbound", "touchpoints-inbound", "campaign-touches-outbound",
]  # fmt: skip


def test_the_totango_example_jobs_run_one_after_another_on_one_org(tmp_path):
    (tmp_path / "syncmap.toml").write_text("")
    for folder in ("mappings", "rules"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    shutil.copytree(
        REPO / "examples" / "totango",
        tmp_path / "examples" / "totango",
        ignore=shutil.ignore_patterns("*.db", "*.jsonl"),
    )
    generator = [sys.executable, str(REPO / "examples" / "customers.py"), "totango", "--dir", "examples"]
    subprocess.run(generator, cwd=tmp_path, check=True, capture_output=True)
    folder = tmp_path / "examples" / "totango"

    with Sandbox(seed=[folder / "org.jsonl"], describe_file=folder / "describe.json") as org:
        env = {
            "SF_INSTANCE_URL": org.instance_url,
            "SF_SESSION_ID": org.session_id,
            "SF_CA_FILE": str(org.ca_file),
        }
        for job in TOTANGO_JOBS:
            mapping = f"examples/totango/{job}.yaml"
            planned = syncmap("plan", mapping, cwd=tmp_path, env=env)
            assert planned.returncode == 0, planned.stderr
            assert "+ create new" in planned.stdout, f"the {job} example creates nothing"
            applied = syncmap("apply", mapping, cwd=tmp_path, env=env)
            assert applied.returncode == 0, f"{job}: {applied.stdout}{applied.stderr}"
        for job in TOTANGO_JOBS:
            again = syncmap("plan", f"examples/totango/{job}.yaml", cwd=tmp_path, env=env)
            assert "Plan: 0 to create," in again.stdout, f"{job} would create again:\n{again.stdout}"

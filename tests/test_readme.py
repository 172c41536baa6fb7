"""The README is true as written: its first command shows a sync with a Salesforce org from a
copy of the repository, nothing started by hand, and its samples are what the commands print
(`...` stands for lines left out, or in a line for text left out)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text()
SAMPLES = re.findall(r"```text\n(\$ .*?)```", README, re.DOTALL)  # a session: commands and what they print
GENERATED = shutil.ignore_patterns(
    "*.db", "*.db-wal", "*.db-shm", "org.jsonl", ".syncmap", "*.csv", "db.json"
)


def copy_of_the_repository(folder: Path) -> Path:
    """What a fresh clone holds of the project (the package is the installed one)."""
    for name in ("examples", "mappings", "rules"):
        shutil.copytree(REPO / name, folder / name, ignore=GENERATED)
    shutil.copy(REPO / ".gitignore", folder / ".gitignore")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)  # the project's root, as in a clone
    return folder


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_first_command_runs_whole_in_a_fresh_clone_and_a_new_virtual_environment(tmp_path):
    """The install step included: a clone of the repository as committed, a new environment (its
    packages seen from this one, so nothing is downloaded), and the README's first line as written."""
    clone, venv = tmp_path / "clone", tmp_path / "venv"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    first = README.split("```sh\n")[1].splitlines()[0]
    environ = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}  # the clone's alone
    environ.update(PATH=f"{venv / 'bin'}:{os.environ['PATH']}", VIRTUAL_ENV=str(venv))
    result = subprocess.run(["bash", "-c", first], cwd=clone, capture_output=True, text=True, timeout=600,
                            env=environ)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "salesforce.Lead/Contact" in result.stdout and "Applied salesforce-quickstart: 236 created" in result.stdout
    assert result.stdout.rstrip().splitlines()[-2].startswith("Plan: 0 to create, 0 to update")
    installed = subprocess.run([str(venv / "bin" / "python"), "-c", "import engine; print(engine.__file__)"],
                               cwd=tmp_path, env=environ, capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert installed.startswith(str(clone)), "the clone's syncmap ran, installed into the new environment"


def test_the_first_command_syncs_with_a_salesforce_org_and_then_has_nothing_left_to_do(tmp_path):
    first = README.split("```sh\n")[1].splitlines()[0]
    steps = first.split(" && ")
    assert steps[0] == "python -m pip install -e '.[dev]'"  # this suite runs where that is done
    git = ["git", "status", "--porcelain", "--untracked-files=all"]
    before = set(
        subprocess.run(
            git, cwd=copy_of_the_repository(tmp_path), capture_output=True, text=True
        ).stdout.split()
    )
    result = shell(" && ".join(steps[1:]), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    plans = result.stdout.split("syncmap plan ")
    assert "salesforce.Lead/Contact" in plans[1] and "236 to create" in plans[1]
    assert "Applied salesforce-quickstart: 236 created, 95 updated" in result.stdout
    assert "Plan: 0 to create, 0 to update, 0 to delete" in plans[-1]
    after = set(subprocess.run(git, cwd=tmp_path, capture_output=True, text=True).stdout.split())
    assert after - before == set(), "what the run wrote is ignored by git (stores, state, their WAL files)"


def commands(sample: str) -> list[tuple[str, list[str]]]:
    """A sample's commands, each with the lines it prints."""
    session: list[tuple[str, list[str]]] = []
    for line in sample.rstrip("\n").splitlines():
        if line.startswith("$ "):
            session.append((line.removeprefix("$ "), []))
        else:
            session[-1][1].append(line)
    return session


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.splitlines()[0] for sample in SAMPLES])
def test_a_readme_sample_is_what_its_commands_print(sample, tmp_path):
    project = copy_of_the_repository(tmp_path)
    assert shell("python examples/quickstart/generate.py --dir examples/salesforce", project).returncode == 0
    for command, shown in commands(sample):
        result = shell(command, project)
        printed = (result.stdout + result.stderr).splitlines()
        position = 0
        for line in (line for line in shown if line.strip() != "..."):
            pattern = re.compile(".*?".join(map(re.escape, line.split("..."))))  # `...` in a line: any text
            found = next((i for i in range(position, len(printed)) if pattern.fullmatch(printed[i])), None)
            assert found is not None, f"`{command}` does not print {line!r} there:\n" + "\n".join(printed)
            position = found + 1

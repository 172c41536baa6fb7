"""What each shipped customer example shows and does, kept as files (`tests/cases/golden/`): the
plan's text and JSON, the saved plan, and the apply report. A change to the run stage that is
meant to change nothing for users is checked against them byte for byte, once the ids syncmap
draws at random and the fingerprint of the records read are put in place of their values.
`SYNCMAP_GOLDEN=update` writes the files anew, for a change meant to show."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.seeds.test_examples import EXAMPLES, generate, salesforce_env, sandbox_for, syncmap

GOLDEN = REPO / "tests" / "cases" / "golden"
RANDOM_ID = re.compile(r"\b[0-9a-f]{32}\b")  # a planned id: drawn at random for each create
FINGERPRINT = re.compile(r'"fingerprint": "sha256:[0-9a-f]{64}"')  # digests the sandbox's stamps


def steady(text: str) -> str:
    """The output with its random ids numbered in order of appearance, and no fingerprint."""
    numbers: dict[str, int] = {}
    text = FINGERPRINT.sub('"fingerprint": "sha256:..."', text)
    return RANDOM_ID.sub(lambda match: f"<id {numbers.setdefault(match.group(), len(numbers) + 1)}>", text)


def outputs(example: str, project: Path) -> dict[str, str]:
    mapping = generate(example, project)
    with sandbox_for(example, project) as org:
        env = salesforce_env(org)
        made = {
            "plan.txt": syncmap("plan", mapping, "--limit", "500", cwd=project, env=env),
            "plan.json": syncmap("plan", mapping, "--format", "json", cwd=project, env=env),
            "saved.json": syncmap("plan", mapping, "--out", "saved.json", cwd=project, env=env),
            "report.json": syncmap("apply", mapping, "--format", "json", cwd=project, env=env),
        }
    for name, result in made.items():
        assert result.returncode in (0, 1, 2), f"{name}: {result.stderr}"
    texts = {name: result.stdout for name, result in made.items()}
    texts["saved.json"] = (project / "saved.json").read_text()
    return {name: steady(text) for name, text in texts.items()}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_the_example_shows_and_does_what_its_golden_files_say(example, tmp_path):
    made = outputs(example, tmp_path)
    folder = GOLDEN / example
    if os.environ.get("SYNCMAP_GOLDEN") == "update":
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in made.items():
            (folder / name).write_text(text)
    for name, text in made.items():
        kept = (folder / name).read_text()
        if text != kept:
            diff = difflib.unified_diff(
                kept.splitlines(), text.splitlines(), f"golden/{example}/{name}", "now", lineterm=""
            )
            pytest.fail("\n".join(list(diff)[:40]) + "\n(SYNCMAP_GOLDEN=update writes them anew)")

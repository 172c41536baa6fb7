"""Shipped templates and rule sets named `syncmap:NAME`: a customer repository uses them without a
copy, from a checkout and from the built package alike, with the same meaning as the examples
that extend them by path."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO, run_syncmap

ACME = (REPO / "examples" / "avochato" / "acme.yaml").read_text()


def customer_repository(folder: Path) -> Path:
    """A repository of its own (no templates in it) holding Acme's document, by name."""
    folder.mkdir()
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / "acme.yaml").write_text(
        ACME.replace("extends: ../../mappings/avochato.yaml", "extends: syncmap:avochato").replace(
            "  - ../../rules/contact-quality.yaml", "  - syncmap:contact-quality"
        )
    )
    return folder


def plan_hash(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["hash"]


def test_a_customer_repository_extends_a_shipped_template_by_name(tmp_path):
    repository = customer_repository(tmp_path / "acme")
    by_name = run_syncmap("compile", "acme.yaml", "--format", "json", cwd=repository)
    by_path = run_syncmap("compile", "examples/avochato/acme.yaml", "--format", "json", cwd=REPO)
    assert plan_hash(by_name) == plan_hash(by_path)


def test_a_shipped_name_that_does_not_exist_is_located_with_a_did_you_mean(tmp_path):
    repository = customer_repository(tmp_path / "acme")
    (repository / "acme.yaml").write_text(
        (repository / "acme.yaml").read_text().replace("syncmap:avochato", "syncmap:avochto")
    )
    result = run_syncmap("validate", "acme.yaml", cwd=repository)
    assert result.returncode == 1 and "acme.yaml:10:10: error: syncmap ships no template" in result.stderr
    assert "did you mean `avochato`?" in result.stderr


def test_the_built_package_carries_the_shipped_templates(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(REPO), "-w", str(tmp_path / "wheel")],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheel").glob("syncmap-*.whl")
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    repository = customer_repository(tmp_path / "acme")
    result = subprocess.run(
        [sys.executable, "-c", "import engine.shipped as s, engine.cli as c; print(s.root()); c.main()",
         "compile", "acme.yaml", "--format", "json"],
        cwd=repository, capture_output=True, text=True, env={"PYTHONPATH": str(installed), "PATH": ""},
    )  # fmt: skip
    where, _, plan = result.stdout.partition("\n")
    assert Path(where) == installed / "engine" / "shipped"
    assert json.loads(plan)["hash"] == plan_hash(
        run_syncmap("compile", "examples/avochato/acme.yaml", "--format", "json", cwd=REPO)
    )

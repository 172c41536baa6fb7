"""`plan`, `compile`, `diff --data` and `test` change no file: with the stores missing they
refuse with a located error and create nothing, with the stores present they open them
read-only. A typo in an object name is a located error, never a new table to fill."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, run_syncmap
from tests.runtime.test_crash import make_project

COMMANDS = {
    "plan": ("plan", "contacts.yaml"),
    "plan --out elsewhere": ("plan", "contacts.yaml", "--format", "json"),
    "compile": ("compile", "contacts.yaml"),
    "diff --data": ("diff", "contacts.yaml", "changed.yaml", "--data"),
    "test": ("test", "."),
}


def files(folder: Path) -> dict[str, str]:
    """Every file under the project with a digest of its bytes (SQLite's lock files aside: opening
    a store to read makes an empty log and an index of it, which hold no data)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and not path.name.endswith("-shm")
        and not (path.name.endswith("-wal") and not path.stat().st_size)
    }


def project(tmp_path: Path, with_stores: bool) -> Path:
    mapping = make_project(tmp_path / "project", 30)
    folder = mapping.parent
    (folder / "changed.yaml").write_text(mapping.read_text().replace("create_as: Lead", "create_as: Contact"))
    shutil.copy(REPO / "mappings" / "avochato.test.yaml", folder / "avochato.test.yaml")
    shutil.copy(REPO / "mappings" / "avochato.yaml", folder / "avochato.yaml")
    if with_stores:
        assert run_syncmap("apply", str(mapping), cwd=folder).returncode == 0
    else:
        for name in ("platform.db", "crm.db", "org.jsonl"):
            (folder / name).unlink()
    return folder


@pytest.mark.parametrize("with_stores", [False, True], ids=["missing stores", "existing stores"])
def test_no_command_that_only_reads_changes_a_file(tmp_path, with_stores):
    folder = project(tmp_path, with_stores)
    before = files(folder)
    for name, command in COMMANDS.items():
        result = run_syncmap(*command, cwd=folder)
        assert "Traceback" not in result.stderr, name
        if not with_stores and name.startswith(("plan", "diff")):
            assert result.returncode == 1, (name, result.stderr)
            assert "crm.db does not exist" in result.stderr + result.stdout
        else:
            assert result.returncode == 0, (name, result.stderr + result.stdout)
        assert files(folder) == before, f"`syncmap {name}` changed a file"


def test_a_missing_store_is_located_at_its_setting(tmp_path):
    folder = project(tmp_path, with_stores=False)
    result = run_syncmap("plan", "contacts.yaml", cwd=folder)
    first = result.stderr.splitlines()[0]
    assert first.startswith("contacts.yaml:24:22: error: the sqlite database ")  # at `path` itself
    assert first.endswith("crm.db does not exist at connections.crm.settings.path")
    assert not (folder / "crm.db").exists() and not (folder / ".syncmap").exists()


def test_a_misspelled_object_is_a_located_error_not_a_new_table(tmp_path):
    folder = project(tmp_path, with_stores=True)
    mapping = folder / "contacts.yaml"
    mapping.write_text(mapping.read_text().replace("object: contacts}", "object: contact}"))
    for command in ("plan", "apply"):
        result = run_syncmap(command, "contacts.yaml", cwd=folder)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.splitlines()
        assert lines[0].startswith("contacts.yaml:28:44: error: sqlite `")
        assert lines[0].endswith("platform.db` has no table `contact` at objects.contacts.source.object")
        assert "  hint: did you mean `contacts`?" in lines

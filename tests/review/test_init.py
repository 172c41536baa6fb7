"""`syncmap init`: a customer repository that validates, tests, ignores what runs write and shows
no false problem in the editor, from its first minute; and one that is never written over."""

from __future__ import annotations

import json
import subprocess
import tomllib

import pytest

from tests.conftest import run_syncmap
from tests.review.lsp import SERVER, YamlLanguageServer


def test_init_scaffolds_a_repository_that_checks_clean(tmp_path):
    folder = tmp_path / "Globex Corp"
    result = run_syncmap("init", str(folder), "--template", "aloware", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    document = folder / "globex-corp.yaml"
    assert "extends: syncmap:aloware" in document.read_text()
    assert run_syncmap("validate", ".", cwd=folder).returncode == 0
    assert run_syncmap("test", ".", "--if-any", cwd=folder).returncode == 0
    for written in ("platform.db", "platform.db-wal", "platform.db-shm", ".syncmap/state.db"):
        (folder / written).parent.mkdir(exist_ok=True)
        (folder / written).write_text("")
    ignored = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=folder,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert not any(name in ignored for name in ("platform.db", "state.db")), ignored
    hooks = (folder / ".pre-commit-config.yaml").read_text()
    assert "entry: syncmap validate ." in hooks and "entry: syncmap test . --if-any" in hooks
    config = (folder / "syncmap.toml").read_text()  # its settings named, none of them set yet
    assert tomllib.loads(config) == {} and "# state = " in config and "# journal_days = 90" in config


@pytest.mark.skipif(not SERVER.exists(), reason="yaml-language-server is installed by `npm ci`")
def test_the_scaffolds_editor_settings_show_no_false_problem_and_the_real_ones(tmp_path):
    folder = tmp_path / "acme"
    assert run_syncmap("init", str(folder), cwd=tmp_path).returncode == 0
    settings = json.loads((folder / ".vscode" / "settings.json").read_text())["yaml.schemas"]
    (folder / "broken.yaml").write_text(
        (folder / "acme.yaml").read_text().replace("name: acme", "nmae: acme")
    )
    with YamlLanguageServer(
        folder, {schema.removeprefix("./"): globs for schema, globs in settings.items()}
    ) as server:
        assert server.check(folder / "acme.yaml") == []
        assert server.check(folder / ".pre-commit-config.yaml") == []
        assert any("nmae" in d["message"] for d in server.check(folder / "broken.yaml"))


def test_init_never_writes_over_a_repository_and_names_the_shipped_templates(tmp_path):
    assert run_syncmap("init", str(tmp_path), "--name", "acme", cwd=tmp_path).returncode == 0
    before = (tmp_path / "acme.yaml").read_text()
    again = run_syncmap("init", str(tmp_path), "--name", "acme", "--template", "phoneiq", cwd=tmp_path)
    assert again.returncode == 64 and "exists already; nothing was written" in again.stderr
    assert (tmp_path / "acme.yaml").read_text() == before
    unknown = run_syncmap("init", str(tmp_path / "new"), "--template", "avochat", cwd=tmp_path)
    assert unknown.returncode == 64 and "syncmap ships no template `avochat`" in unknown.stderr
    assert "avochato" in unknown.stderr and not (tmp_path / "new" / "new.yaml").exists()

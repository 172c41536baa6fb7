"""Shared fixtures: throwaway projects on disk and the real `syncmap` command as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def write_project(root: Path, files: dict[str, str | bytes]) -> Path:
    """A project folder (marked by `syncmap.toml`) holding the given files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "syncmap.toml").write_text("")
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict], Path]:
    """Write files into a fresh project and make it the working directory."""

    def make(files: dict[str, str | bytes]) -> Path:
        root = write_project(tmp_path / "project", files)
        monkeypatch.chdir(root)
        return root

    return make


def run_syncmap(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run the installed command exactly as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def sandbox_env(instance_url: str, session_id: str, ca_file: Path | str) -> dict[str, str]:
    """The environment the shipped Salesforce connections read, pointing at a sandbox org."""
    return {
        **os.environ,
        "SF_INSTANCE_URL": instance_url,
        "SF_SESSION_ID": session_id,
        "SF_CA_FILE": str(ca_file),
    }

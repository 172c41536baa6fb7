"""A process killed with SIGKILL in the middle of an apply converges on the next run:
no duplicate record, no lost record, the same end state as an uninterrupted run."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, run_syncmap

QUICKSTART = REPO / "examples" / "quickstart"


def make_project(folder: Path, records: int) -> Path:
    folder.mkdir()
    for name in ("contacts.yaml", "syncmap.toml"):
        shutil.copy(QUICKSTART / name, folder / name)
    subprocess.run(
        [sys.executable, str(QUICKSTART / "generate.py"), "--records", str(records), "--dir", str(folder)],
        check=True,
    )
    return folder / "contacts.yaml"


def crm_rows(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / "crm.db") as db:
        rows = db.execute(
            "SELECT json_extract(data, '$.MobilePhone'), json_extract(data, '$.FirstName'), "
            "json_extract(data, '$.Email') FROM Lead WHERE deleted = 0"
        ).fetchall()
    return sorted(rows, key=repr)


def platform_rows(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / "platform.db") as db:
        rows = db.execute(
            "SELECT json_extract(data, '$.first_name'), json_extract(data, '$.last_name'), "
            "json_extract(data, '$.email') FROM contacts WHERE deleted = 0"
        ).fetchall()
    return sorted(rows, key=repr)


def lead_count(folder: Path) -> int:
    try:
        with sqlite3.connect(folder / "crm.db", timeout=1) as db:
            return db.execute("SELECT count(*) FROM Lead").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_sigkill_in_the_middle_of_an_apply_converges(tmp_path, state_backend):
    """On either state store: the project's file, or the PostgreSQL database its syncmap.toml names."""
    reference = make_project(tmp_path / "reference", 3000)
    assert run_syncmap("apply", str(reference)).returncode == 0

    killed = make_project(tmp_path / "killed", 3000)
    if state_backend:
        (killed.parent / "syncmap.toml").write_text(f'state = "{state_backend}"\n')
    before = lead_count(killed.parent)
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "apply", str(killed), "--batch-size", "10"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while lead_count(killed.parent) < before + 150 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the apply finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert before < lead_count(killed.parent)

    resumed = run_syncmap("apply", str(killed))
    assert resumed.returncode == 0, resumed.stderr
    assert crm_rows(killed.parent) == crm_rows(reference.parent)
    assert platform_rows(killed.parent) == platform_rows(reference.parent)
    again = run_syncmap("plan", str(killed), "--detailed-exitcode")
    assert again.returncode == 0, again.stdout

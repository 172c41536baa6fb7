"""A damaged state store is refused by every command, never synced over: exit 4, the path, no
traceback, and nothing written anywhere (a new initial sync would create every record again).
A missing store is created whole, once, even by two processes at the same moment."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from engine.state import MIGRATIONS, StateStore
from tests.conftest import run_syncmap
from tests.runtime.test_crash import make_project


@pytest.fixture(scope="module")
def synced(tmp_path_factory) -> Path:
    """A quickstart project after one apply: its state store holds links, values and history."""
    mapping = make_project(tmp_path_factory.mktemp("synced") / "project", 60)
    assert run_syncmap("apply", str(mapping), cwd=mapping.parent).returncode == 0
    return mapping.parent


def truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64)


def zeroed_page(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    data[page : 2 * page] = bytes(page)  # the second page: the start of the first table
    path.write_bytes(bytes(data))


def emptied(path: Path) -> None:
    path.write_bytes(b"")


def newer_version(path: Path) -> None:
    set_version(path, 99)


def no_version(path: Path) -> None:
    set_version(path, 0)


def set_version(path: Path, version: int) -> None:
    with closing(sqlite3.connect(path)) as db:  # closed: its log is merged into the file
        db.execute(f"PRAGMA user_version = {version}")


CORRUPTIONS = [truncated, garbage, zeroed_page, emptied, newer_version, no_version]
COMMANDS = {
    "apply": ("apply", "contacts.yaml"),
    "plan": ("plan", "contacts.yaml"),
    "status": ("status",),
    "runs": ("runs", "quickstart"),
    "watch": ("watch", "contacts.yaml", "--interval", "1s"),
}


def digests(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*.db*"))
        # SQLite's shared-memory index and an empty log, made by opening to read, hold no data
        if not path.name.endswith("-shm") and not (path.name.endswith("-wal") and not path.stat().st_size)
    }


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda corrupt: corrupt.__name__)
def test_every_command_refuses_a_damaged_state_store(synced, tmp_path, corrupt, command):
    project = tmp_path / "project"
    shutil.copytree(synced, project)
    state = project / ".syncmap" / "state.db"
    corrupt(state)
    before = digests(project)

    result = subprocess.run(
        [sys.executable, "-m", "engine", *COMMANDS[command]],
        cwd=project, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 4, result.stdout + result.stderr
    assert f"error: the state store {state}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "hint: " in result.stderr
    assert digests(project) == before, "nothing was written"


def test_the_messages_say_what_is_wrong(synced, tmp_path):
    expected = {
        truncated: "damaged",
        garbage: "is not an SQLite database",
        zeroed_page: "damaged",
        emptied: "is empty (0 bytes)",
        newer_version: "was written by a newer syncmap (schema 99)",
        no_version: "holds no syncmap state (schema version 0)",
    }
    for corrupt, words in expected.items():
        project = tmp_path / corrupt.__name__
        shutil.copytree(synced, project)
        corrupt(project / ".syncmap" / "state.db")
        result = run_syncmap("status", cwd=project)
        assert words in result.stderr, (corrupt.__name__, result.stderr)


def test_a_missing_store_is_created_by_apply_but_not_by_plan(tmp_path):
    mapping = make_project(tmp_path / "project", 20)
    state = mapping.parent / ".syncmap" / "state.db"
    assert run_syncmap("plan", str(mapping), cwd=mapping.parent).returncode == 0
    assert not state.exists() and not state.parent.exists()
    assert run_syncmap("apply", str(mapping), cwd=mapping.parent).returncode == 0
    assert state.exists()
    assert [path.name for path in state.parent.iterdir() if path.name.endswith(".new")] == []


def open_at_once(path: Path, processes: int = 6) -> None:
    """Open one store from several processes started together; each must succeed."""
    script = "import sys; from pathlib import Path; from engine.state import StateStore; StateStore(Path(sys.argv[1])).close()"
    started = [
        subprocess.Popen([sys.executable, "-c", script, str(path)], stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    for process in started:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err


def test_processes_creating_one_store_at_once_end_with_one(tmp_path):
    """Each builds its store aside and links it into place: one wins, the others open it."""
    path = tmp_path / "shared" / "state.db"
    open_at_once(path)
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    assert [p.name for p in path.parent.iterdir() if not p.name.startswith("state.db")] == []


def schema_2_store(path: Path) -> None:
    """A store as an older syncmap left it, its journal a row per write, one of them pending
    (schema 3 added leases and shared links, 4 held records, 5 which write windows only created
    records, 6 what a failed write was, 7 each job's document, 8 a person's decisions, 9 writes
    found by record (an index 15 dropped), 10 a hold's candidates, 11 the API calls runs
    reserved, 12 when a job runs next, 13 the journal by age, 14 the runs by job, 16 the
    journal by batch, 17 match keys by step side)."""
    StateStore(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("DROP TABLE record_keys")
        db.execute("DROP TABLE key_scopes")
        db.execute(
            "CREATE TABLE match_keys (job TEXT NOT NULL, step TEXT NOT NULL, side TEXT NOT NULL, "
            "record_type TEXT NOT NULL, record_id TEXT NOT NULL, key_index INTEGER NOT NULL, value TEXT NOT NULL, "
            "modified TEXT)"
        )
        db.execute("CREATE INDEX match_keys_lookup ON match_keys (job, step, side, key_index, value)")
        db.execute("CREATE INDEX match_keys_record ON match_keys (job, step, side, record_id)")
        db.executemany("INSERT INTO match_keys VALUES ('job', 's', ?, ?, ?, 0, 'ana@example.org', ?)", [
            ("source", "contacts", "p1", None), ("target", "Lead", "L1", "t1"), ("target", "Lead", "L1", "t1"),
        ])  # fmt: skip
        db.execute("DROP TABLE journal_batches")
        db.execute(
            "CREATE TABLE journal (id INTEGER PRIMARY KEY, job TEXT NOT NULL, step TEXT NOT NULL, run_id INTEGER, "
            "op TEXT NOT NULL, side TEXT NOT NULL, record_type TEXT NOT NULL, origin_id TEXT NOT NULL, "
            "record_id TEXT, payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', created_at TEXT NOT NULL)"
        )
        db.execute("CREATE INDEX journal_pending ON journal (job, state)")
        db.executemany("INSERT INTO journal VALUES (?, 'job', 's', 1, 'create', 'target', 'Lead', ?, ?, ?, ?, ?)", [
            (7, "contacts p1", "L1", '{"source_id": "p1", "planned_id": null, "values": {"n": 1}}', "done", "t1"),
            (9, "contacts p2", None, '{"source_id": "p2", "planned_id": "L2", "values": {"n": 2}}', "pending", "t2"),
        ])  # fmt: skip
        db.commit()
        db.execute("DROP INDEX runs_by_job")
        db.execute("DROP TABLE api_reservations")
        db.execute("ALTER TABLE jobs DROP COLUMN next_run")
        db.execute("ALTER TABLE holds DROP COLUMN candidates")
        db.execute("DROP TABLE decisions")
        db.execute("ALTER TABLE jobs DROP COLUMN mapping")
        db.execute("ALTER TABLE dead_letters DROP COLUMN op")
        db.execute("ALTER TABLE dead_letters DROP COLUMN record_type")
        db.execute("ALTER TABLE own_writes DROP COLUMN creates_only")
        db.execute("DROP TABLE holds")
        db.execute("DROP TABLE leases")
        db.execute("DROP INDEX links_by_target")
        db.execute("CREATE UNIQUE INDEX links_by_target ON links (job, step, target_id)")
        db.execute("PRAGMA user_version = 2")


def test_processes_opening_an_older_store_at_once_migrate_it_once(tmp_path):
    path = tmp_path / "state.db"
    schema_2_store(path)
    open_at_once(path)
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)


def test_an_older_store_keeps_its_match_keys_and_journal_and_the_one_pending_write_is_still_found(tmp_path):
    path = tmp_path / "state.db"
    schema_2_store(path)
    store = StateStore(path)
    assert store.find_keys("job", "s", "target", 0, "ana@example.org") == [("Lead", "L1", "t1")]  # once
    assert store.find_keys("job", "s", "source", 0, "ana@example.org") == [("contacts", "p1", None)]
    assert [(e.origin_id, e.record_id, e.payload) for e in store.pending_journal("job")] == [
        ("contacts p2", None, {"source_id": "p2", "planned_id": "L2", "values": {"n": 2}})
    ]
    assert [(w["record_id"], w["state"]) for w in store.writes_of("job", "L1")] == [("L1", "done")]
    with store.transaction():
        store.journal_settle([(store.pending_journal("job")[0].id, "reconciled", "L2")])
    assert store.pending_journal("job") == []
    assert [(w["record_id"], w["state"]) for w in store.writes_of("job", "p2")] == [("L2", "reconciled")]
    store.close()


def test_a_store_of_an_older_schema_is_read_by_plan_without_being_upgraded(tmp_path):
    path = tmp_path / "state.db"
    schema_2_store(path)
    before = path.read_bytes()
    store = StateStore(path, read_only=True)
    assert store.lease("any job") is None
    store.close()
    assert path.read_bytes() == before
    StateStore(path).close()  # a command that writes upgrades it
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)

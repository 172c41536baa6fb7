"""The state store behaves the same on both of its backends: a SQLite file and a PostgreSQL
database (`--state postgresql://...`). Every table's reads and writes, its schema made once by
any number of processes opening it at once, a dry run's read-only open that leaves no trace, and
writers from two processes serialized as they are on SQLite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from engine.state import MIGRATIONS, Decision, Lease, Link, StateStore, now
from engine.state.location import shown
from tests.conftest import run_syncmap
from tests.runtime.conftest import fresh_state_database


@pytest.fixture
def location(state_backend, tmp_path) -> str | Path:
    return state_backend or tmp_path / "state.db"


def test_every_table_reads_back_what_was_written(location):
    store = StateStore(location)
    with store.transaction():
        store.save_links("job", "s", [Link("contacts", "p1", "Lead", "L1", "key:email"),
                                      Link("contacts", "p2", "Lead", "L2", "created:target")])  # fmt: skip
        store.save_links("job", "s", [Link("contacts", "p3", "Lead", "L1", "key:phone")])  # L1 leaves p1
        store.save_snapshots("job", "s", [("p2", {"LastName": "Ó'Neil", "n": 2}, True), ("p3", {"a": None}, False)])
        store.save_keys("job", "s", "target", [("Lead", "L1", "2026-01-01", [(0, "a@x.org")])], new_records=True)
        refs = store.journal_intents("job", "s", 1, [("create", "target", "Lead", "contacts p9", None, {"v": 1})] * 3)
        store.journal_settle([(refs[0], "done", "L9"), (refs[1], "failed", None)])
        store.dead_letter("job", "s", "source", "p5", "REFUSED: no", "create", "Lead")
        store.save_holds("job", "s", [("source", "contacts", "p6", "duplicate_source_key", "shares", ("Lead L1",))])
        store.decide("job", Decision("s", "source", "p6", "link", "Lead L1", now()))
        store.save_watermark("job", "s", "source", "2026-01-02T00:00:00.000000+00:00", {"p1": "abc"})
        for ended in range(12):
            store.save_own_write("job", "s", "target", f"2026-01-01T00:00:{ended:02d}", f"2026-01-01T00:01:{ended:02d}", False)
        store.take_lease(Lease("job", "me", "apply", "host", 1, now(), now()))
        run = store.start_run("job", "hash")
        store.set_job_status("job", "running")
    assert set(store.links("job", "s")) == {"p2", "p3"}
    assert store.links_of_record("job", "s", "L1") == [Link("contacts", "p3", "Lead", "L1", "key:phone")]
    assert store.snapshots("job", "s", ["p2", "p3"]) == {"p2": {"LastName": "Ó'Neil", "n": 2}, "p3": {"a": None}}
    assert store.snapshots("job", "s", ["p2", "p3"], target_known=True) == {"p2": {"LastName": "Ó'Neil", "n": 2}}
    assert store.find_keys("job", "s", "target", 0, "a@x.org") == [("Lead", "L1", "2026-01-01")]
    assert store.has_keys("job", "s", "target") and not store.has_keys("job", "s", "source")
    assert len(set(refs)) == 3
    assert [entry.id for entry in store.pending_journal("job")] == [refs[2]]
    assert [w["state"] for w in store.writes_of("job", "p9")] == ["done", "failed", "pending"]
    assert store.writes_of("job", "9") == []  # an origin id is compared whole
    assert [d["record_id"] for d in store.dead_letters("job")] == ["p5"]
    store.clear_dead_letters("job", "s", "source", ["p5"])
    assert store.dead_letters("job") == []
    assert [h["candidates"] for h in store.holds("job")] == [["Lead L1"]]
    assert [d.candidate for d in store.decisions("job")] == ["Lead L1"]
    assert store.watermark("job", "s", "source") == "2026-01-02T00:00:00.000000+00:00"
    assert len(store.own_writes("job", "s", "target")) == 10  # the newest windows only
    assert store.renew_lease("job", "me") and not store.renew_lease("job", "someone else")
    store.finish_run(run, "done", {"create": 1})
    assert [r["status"] for r in store.runs("job")] == ["done"]
    assert store.job_status("job")[0] == "running"
    store.close()

    again = StateStore(location)  # opened again: nothing migrated twice, everything still there
    assert set(again.links("job", "s")) == {"p2", "p3"}
    assert not again.ever_done("other job") and again.ever_done("job")
    assert again.start_run("job", "hash") == run + 1
    assert [r["id"] for r in again.runs("job")] == [run, run + 1]
    assert [r["id"] for r in again.runs("job", newest=1)] == [run + 1]
    again.close()


ODD_IDS = ["a_b", "50%", 'o"k', "back\\slash", "Zoë", "tab\tin"]  # LIKE's wildcards, JSON's escapes, not ASCII


def test_a_records_writes_are_found_whatever_its_id_holds(location):
    """`explain` finds a record's writes through its id in the journal's text first: an id
    holding LIKE's wildcards or characters JSON escapes is found all the same, and only its own."""
    store = StateStore(location)
    with store.transaction():
        refs = store.journal_intents(
            "job", "s", 1, [("update", "target", "Lead", f"contacts {odd}", odd, {"v": odd}) for odd in ODD_IDS]
            + [("update", "target", "Lead", "contacts axb", "axb", {}), ("update", "target", "Lead", "contacts 500", "500", {})]
        )  # fmt: skip
        store.journal_settle([(ref, "done", None) for ref in refs])
    for odd in ODD_IDS:
        assert [(w["record_id"], w["state"]) for w in store.writes_of("job", odd)] == [(odd, "done")], odd
    store.close()


def test_a_dry_run_on_a_store_that_does_not_exist_leaves_no_trace(location):
    read_only = StateStore(location, read_only=True)
    assert read_only.links("job", "s") == {} and read_only.runs("job") == []
    read_only.close()
    if isinstance(location, Path):
        assert not location.exists()
    else:
        with psycopg.connect(location) as connection:
            tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
            assert tables.fetchone()[0] == 0


WRITER = """
import sys
from engine.state import StateStore
store = StateStore(sys.argv[1] if "://" in sys.argv[1] else __import__("pathlib").Path(sys.argv[1]))
for n in range(40):
    with store.transaction():
        store.journal_intents("job", "s", 1, [("create", "target", "Lead", f"contacts {sys.argv[2]}{n}", None, {})] * 5)
"""


def test_processes_opening_and_writing_at_once_make_the_schema_once_and_lose_nothing(location):
    """Each transaction gives journal ids from the highest one, so two writers that were not
    serialized would collide on them; four processes also migrate the new store at once."""
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(location), name], stderr=subprocess.PIPE, text=True)
        for name in "abcd"
    ]
    for writer in writers:
        _, error = writer.communicate(timeout=120)
        assert writer.returncode == 0, error
    store = StateStore(location)
    assert len(store.pending_journal("job")) == 4 * 40 * 5
    if not isinstance(location, Path):
        assert store.db.schema_version() == len(MIGRATIONS)
    store.close()


def test_the_password_is_never_shown():
    assert shown("postgresql://ada:s3cret@db.example:5433/syncmap") == "postgresql://ada@db.example:5433/syncmap"


def test_the_commands_name_a_database_store_without_its_password(tmp_path, postgres_server):
    """`--state postgresql://...` on the command line: the status names the database without the
    password given in its URL, and a server that does not answer is exit 4 with a hint, no
    traceback, no password."""
    (tmp_path / "syncmap.toml").write_text("")
    url = fresh_state_database(postgres_server).replace("postgresql://postgres@", "postgresql://postgres:s3cret@")
    listed = run_syncmap("status", "--state", url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "postgresql://postgres@127.0.0.1" in listed.stdout and "s3cret" not in listed.stdout
    gone = run_syncmap("status", "--state", "postgresql://ada:s3cret@127.0.0.1:1/nowhere", cwd=tmp_path)
    assert gone.returncode == 4
    assert gone.stderr.startswith("error: the state store postgresql://ada@127.0.0.1:1/nowhere cannot be opened")
    assert "PGPASSWORD" in gone.stderr and "s3cret" not in gone.stderr and "Traceback" not in gone.stderr

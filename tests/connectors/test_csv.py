"""The csv connector on real files: encodings, dialects, nulls, folders of files, bad files named
by file and line, and rewrites that stay whole when two processes write or one is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.connectors import Declared, Write
from engine.connectors.csvfiles import CsvConnector
from engine.errors import ConnectorError, SettingError

WRITER = """
import sys
from engine.connectors import Write
from engine.connectors.csvfiles import CsvConnector
connector = CsvConnector({"path": sys.argv[1]})
for batch in range(int(sys.argv[3])):
    writes = [Write(f"{i}", "create", "contacts", values={"name": f"{sys.argv[2]}-{batch}-{i}"}) for i in range(50)]
    assert all(r.ok for r in connector.write("contacts", writes))
"""


def write_file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def create(ref: str, **values) -> Write:
    return Write(ref, "create", "contacts", values=values)


def test_a_byte_order_mark_and_crlf_line_ends_are_read_and_kept(tmp_path):
    path = write_file(tmp_path, "contacts.csv", b"\xef\xbb\xbfid,name\r\n1,Ada\r\n")
    connector = CsvConnector({"path": "."}, tmp_path)
    assert [r.values for r in connector.read("contacts")] == [{"id": "1", "name": "Ada"}]
    assert connector.write("contacts", [create("n", id="2", name="Bob")])[0].ok
    assert path.read_bytes() == b"\xef\xbb\xbfid,name\r\n1,Ada\r\n2,Bob\r\n"


def test_latin_1_is_read_and_written_in_latin_1(tmp_path):
    path = write_file(tmp_path, "contacts.csv", "id;name\n1;Zoë\n".encode("latin-1"))
    connector = CsvConnector({"path": ".", "encoding": "latin-1", "delimiter": ";"}, tmp_path)
    assert connector.get("contacts", ["1"])["1"].values["name"] == "Zoë"
    assert connector.write("contacts", [Write("u", "update", "contacts", id="1", values={"name": "Zoë Ø"})])[
        0
    ].ok
    assert path.read_bytes() == "id;name\n1;Zoë Ø\n".encode("latin-1")


def test_a_byte_the_encoding_cannot_read_is_named_by_file_and_line(tmp_path):
    path = write_file(tmp_path, "contacts.csv", "id,name\n1,Ada\n2,Zoë\n".encode("latin-1"))
    with pytest.raises(ConnectorError) as bad:
        list(CsvConnector({"path": "."}, tmp_path).read("contacts"))
    assert bad.value.message == f"{path}:3: byte 0xeb is not utf-8 text"
    assert "encoding" in bad.value.hint and "latin-1" in bad.value.hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,name\n1,Ada\n2,Bob,extra\n", ":3: the row has 3 values and the header 2 columns"),
        ('id,name\n1,Ada\n2,"Bob\n', ":3: unexpected end of data"),
        ("id,name\n1,Ada\n\n1,Bob\n", ":4: id `1` is already used on contacts.csv line 2"),
        ("id,name\n1,Ada\n,Bob\n", ":3: the row has no `id`"),
        ("id,name,name\n1,Ada,A\n", ":1: the header names `name` twice"),
        ("ident,name\n1,Ada\n", ":1: the header has no `id` column"),
        ("", ": the file has no header row"),
    ],
)
def test_a_bad_file_is_named_by_file_and_line(tmp_path, text, message):
    path = write_file(tmp_path, "contacts.csv", text.encode())
    with pytest.raises(ConnectorError) as bad:
        list(CsvConnector({"path": "."}, tmp_path).read("contacts"))
    assert bad.value.message == f"{path}{message}"
    assert bad.value.hint


def test_empty_cells_are_none_unless_the_null_text_is_stated(tmp_path):
    path = write_file(tmp_path, "contacts.csv", b"id,name,email\n1,,NULL\n")
    default = CsvConnector({"path": "."}, tmp_path).get("contacts", ["1"])["1"].values
    assert (default["name"], default["email"]) == (None, "NULL")
    stated = CsvConnector({"path": ".", "null": "NULL"}, tmp_path)
    assert [stated.get("contacts", ["1"])["1"].values[f] for f in ("name", "email")] == ["", None]
    assert stated.write("contacts", [Write("u", "update", "contacts", id="1", values={"name": None})])[0].ok
    assert path.read_text() == "id,name,email\n1,NULL,NULL\n"


def test_a_rewrite_keeps_the_column_order_and_adds_new_columns_at_the_end(tmp_path):
    path = write_file(tmp_path, "contacts.csv", b"name,id,email\nAda,1,a@x.org\n")
    connector = CsvConnector({"path": "."}, tmp_path)
    results = connector.write(
        "contacts",
        [
            Write("u", "update", "contacts", id="1", values={"phone": "+15550100", "vip": True}),
            create("c", id="2", name="Bob", score=1.5, tags=["a", "b"]),
        ],
    )
    assert all(r.ok for r in results)
    assert path.read_text().splitlines() == [
        "name,id,email,phone,vip,score,tags",
        "Ada,1,a@x.org,+15550100,true,,",
        'Bob,2,,,,1.5,"[""a"", ""b""]"',
    ]
    refused = connector.write("contacts", [create("nan", name="x", score=float("nan"))])[0]
    assert not refused.ok and "not a number" in refused.error


def test_a_folder_of_files_reads_as_one_type_and_each_file_keeps_its_rows(tmp_path):
    january = write_file(tmp_path, "contacts/2026-01.csv", b"id,name\n1,Ada\n2,Bob\n")
    february = write_file(tmp_path, "contacts/2026-02.csv", b"id,name,city\n3,Cy,Oslo\n")
    connector = CsvConnector({"path": "."}, tmp_path)
    assert sorted(r.id for r in connector.read("contacts")) == ["1", "2", "3"]
    assert list(connector.describe("contacts").fields) == ["id", "name", "city"]
    results = connector.write(
        "contacts",
        [
            Write("u", "update", "contacts", id="1", values={"name": "Ada L."}),
            create("c", id="4", name="Di"),
            Write("d", "delete", "contacts", id="3"),
        ],
    )
    assert all(r.ok for r in results)
    assert january.read_text() == "id,name\n1,Ada L.\n2,Bob\n"
    assert february.read_text() == "id,name,city\n4,Di,\n"


def test_a_delete_drops_the_row_or_marks_the_declared_column(tmp_path):
    path = write_file(tmp_path, "contacts.csv", b"id,name,removed\n1,Ada,\n2,Bob,\n")
    hard = CsvConnector({"path": "."}, tmp_path)
    assert hard.write("contacts", [Write("d", "delete", "contacts", id="1")])[0].ok
    assert path.read_text() == "id,name,removed\n2,Bob,\n"
    soft = CsvConnector({"path": "."}, tmp_path)
    soft.declare("contacts", Declared(deleted_field="removed"))
    assert soft.write("contacts", [Write("d", "delete", "contacts", id="2")])[0].ok
    assert path.read_text() == "id,name,removed\n2,Bob,true\n"
    assert [(r.id, r.deleted) for r in soft.read("contacts")] == [("2", True)]
    assert soft.write("contacts", [create("again", id="2", name="Bob II")])[0].ok
    assert path.read_text() == "id,name,removed\n2,Bob II,\n"


def test_opened_read_only_nothing_is_written_locked_or_created(tmp_path):
    path = write_file(tmp_path, "contacts.csv", b"id,name\n1,Ada\n")
    connector = CsvConnector({"path": "."}, tmp_path, read_only=True)
    result = connector.write("contacts", [create("c", name="Bob")])[0]
    assert not result.ok and "read-only" in result.error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv"]
    assert path.read_text() == "id,name\n1,Ada\n"


HOLD_LOCK = """\
import fcntl, sys, time
with open(sys.argv[1], "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(60)
"""


def test_settings_mistakes_name_the_setting(tmp_path):
    with pytest.raises(SettingError) as missing:
        CsvConnector({"path": "exports"}, tmp_path)
    assert missing.value.setting == "path" and "exports" in missing.value.message
    for settings, setting in (
        ({"delimiter": ";;"}, "delimiter"),
        ({"encoding": "utf-9"}, "encoding"),
        ({"lock_timeout_seconds": "soon"}, "lock_timeout_seconds"),
    ):
        with pytest.raises(SettingError) as bad:
            CsvConnector({"path": ".", **settings}, tmp_path)
        assert bad.value.setting == setting
    with pytest.raises(ConnectorError) as typo:
        CsvConnector({"path": ".", "delimeter": ";"}, tmp_path)
    assert typo.value.hint == "did you mean `delimiter`?"
    write_file(tmp_path, "leads.csv", b"id\n")
    with pytest.raises(ConnectorError) as unknown:
        CsvConnector({"path": "."}, tmp_path).describe("contacts")
    assert "contacts.csv" in unknown.value.message and "leads" in unknown.value.hint


def test_a_lock_held_past_the_timeout_fails_the_write_and_writes_nothing(tmp_path):
    write_file(tmp_path, "contacts.csv", b"id,name\n1,Ada\n")
    connector = CsvConnector({"path": ".", "lock_timeout_seconds": 0.3}, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(connector.lock_path("contacts"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout and holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    with pytest.raises(ConnectorError) as locked:
        connector.write("contacts", [Write("a", "create", "contacts", values={"name": "Bo"})])
    assert time.monotonic() - started >= 0.3
    assert "stayed locked by another writer for 0.3 s; nothing was written" in locked.value.message
    holder.kill()
    holder.wait(timeout=10)
    assert (tmp_path / "contacts.csv").read_bytes() == b"id,name\n1,Ada\n"
    [written] = connector.write("contacts", [Write("a", "create", "contacts", values={"name": "Bo"})])
    assert written.ok, "a lock dies with the process holding it"


def test_two_processes_writing_one_file_lose_nothing(tmp_path):
    write_file(tmp_path, "contacts.csv", b"id,name\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name, "8"], env=env)
        for name in ("a", "b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    rows = list(CsvConnector({"path": "."}, tmp_path).read("contacts"))
    assert len(rows) == 800
    assert {r.values["name"].split("-")[0] for r in rows} == {"a", "b"}


def test_a_writer_killed_mid_rewrite_leaves_the_old_file_or_the_new_one(tmp_path):
    write_file(tmp_path, "contacts.csv", b"id,name\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), "k", "100000"], env=env)
    deadline = time.monotonic() + 60
    while (tmp_path / "contacts.csv").stat().st_size < 200_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
    connector = CsvConnector({"path": "."}, tmp_path)
    rows = list(connector.read("contacts"))
    assert len(rows) > 0 and len(rows) % 50 == 0  # whole batches only
    # the next write removes what the killed one left beside the file
    assert connector.write("contacts", [Write("n", "create", "contacts", values={"name": "next"})])[0].ok
    assert [p.name for p in tmp_path.iterdir()] == ["contacts.csv"]


def test_writes_leave_nothing_beside_the_file_and_clear_what_was_left(tmp_path):
    write_file(tmp_path, "contacts.csv", b"id,name\n1,Ada\n")
    write_file(tmp_path, ".contacts.csv.k3j9x2", b"id,name\n1,Ad")  # a rewrite killed half-way
    write_file(tmp_path, ".contacts.csv.lock", b"")  # an earlier version's lock file
    write_file(tmp_path, ".other.csv.k3j9x2", b"")  # another record type's: not this writer's to remove
    connector = CsvConnector({"path": "."}, tmp_path)
    assert connector.write("contacts", [Write("n", "create", "contacts", values={"name": "Bo"})])[0].ok
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.csv.k3j9x2", "contacts.csv"]

"""`skip_own_changes` end to end: a job's second run reads none of the Leads its first run wrote,
while a change someone else makes to one of them is still read and synced back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.connectors import Write
from engine.connectors.sqlite import SqliteConnector
from engine.job import Job
from engine.sandbox import Sandbox
from engine.state import KEPT_WRITE_WINDOWS, MIGRATIONS, StateStore

MAPPING = """\
syncmap: 2
name: own-changes
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  salesforce:
    connector: salesforce
    settings:
      instance_url: "${SF_INSTANCE_URL}"
      session_id: "${SF_SESSION_ID}"
      ca_file: "${SF_CA_FILE}"
      username: sandbox@syncmap.local
      skip_own_changes: SKIP
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: salesforce, object: Lead, create_as: Lead}
    direction: both
    match: [{source: phone, target: MobilePhone, normalize: phone}]
    fields:
      FirstName: first_name
      LastName: last_name
      MobilePhone: {source: phone, transform: "phone_e164(@)"}
      Company: {value: "[not provided]", create_only: true}
"""
PEOPLE = [
    {"id": f"p{i}", "first_name": name, "last_name": "Test", "phone": f"+1628555010{i}"}
    for i, name in enumerate(["Ana", "Bo", "Cy"])
]


@pytest.mark.parametrize("skip", [True, False])
def test_a_jobs_own_writes_are_not_read_back_but_someone_elses_change_is(tmp_path: Path, skip: bool):
    (tmp_path / "job.yaml").write_text(MAPPING.replace("SKIP", str(skip).lower()))
    with SqliteConnector({"path": "platform.db"}, tmp_path) as platform:
        platform.seed("contacts", PEOPLE)
    with Sandbox() as org:
        environ = {
            "SF_INSTANCE_URL": org.instance_url,
            "SF_SESSION_ID": org.session_id,
            "SF_CA_FILE": str(org.ca_file),
        }

        def apply():
            with Job.open(tmp_path / "job.yaml", environ=environ) as job:
                report = job.apply()
            [step] = report.changeset.steps
            return report, step

        report, _ = apply()
        assert report.changeset.counts()["create"] == 3
        leads = {
            r["FirstName"]: r["Id"] for r in org.client().query("SELECT Id, FirstName FROM Lead")["records"]
        }

        report, step = apply()  # nothing changed: the three Leads written are syncmap's own
        assert step.read["target"] == (0 if skip else 3)
        assert report.changeset.counts()["update"] == 0
        if skip:  # the platform's newest contact, read again at its watermark, fetches no Lead
            assert report.api_calls == {"platform": 2, "salesforce": 2}  # describe and read each; one query

        colleague = org.client(org.session_for("ana@acme.example"))
        colleague.Lead.update(leads["Ana"], {"FirstName": "Ana María"})
        with SqliteConnector({"path": "platform.db"}, tmp_path) as platform:
            platform.write("contacts", [Write("w", "update", "contacts", "p1", {"first_name": "Bob"})])
        report, step = apply()
        read = step.read["target"]  # the colleague's change; without skip, own writes of the overlap too
        assert read == 1 if skip else read >= 1
        with SqliteConnector({"path": "platform.db"}, tmp_path) as platform:
            assert platform.get("contacts", ["p0"])["p0"].values["first_name"] == "Ana María"
        assert org.client().Lead.get(leads["Bo"])["FirstName"] == "Bob"

        report, step = apply()  # the Lead this run wrote is not read back as a change
        counts = report.changeset.counts()
        assert counts["update"] == counts["create"] == 0
        # the colleague's change, read at the watermark last time, is not read again; without
        # skip_own_changes, syncmap's own update of Bo's Lead comes back
        read = step.read["target"]
        assert read == 0 if skip else read >= 1


def test_write_windows_are_kept_per_step_and_side_newest_ten_and_forgotten_with_the_job(tmp_path: Path):
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as old:  # a store written before write windows were kept
        old.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    state = StateStore(path)
    for minute in range(12):
        state.save_own_write(
            "job", "contacts", "target", f"2026-11-23T10:{minute:02d}:00", f"2026-11-23T10:{minute:02d}:30"
        )
    state.save_own_write("job", "contacts", "source", "2026-11-23T11:00:00", "2026-11-23T11:00:01")
    windows = state.own_writes("job", "contacts", "target")
    assert len(windows) == KEPT_WRITE_WINDOWS == 10
    assert (
        windows[0] == ("2026-11-23T10:02:00", "2026-11-23T10:02:30")
        and windows[-1][0] == "2026-11-23T10:11:00"
    )
    assert state.own_writes("job", "contacts", "source") == [("2026-11-23T11:00:00", "2026-11-23T11:00:01")]
    state.forget("job")
    assert state.own_writes("job", "contacts", "target") == []


DEFAULT = MAPPING.replace("      skip_own_changes: SKIP\n", "")


def _project(tmp_path: Path, document: str = DEFAULT) -> None:
    (tmp_path / "job.yaml").write_text(document)
    with SqliteConnector({"path": "platform.db"}, tmp_path) as platform:
        platform.seed("contacts", PEOPLE)


def _environ(org: Sandbox) -> dict[str, str]:
    return {
        "SF_INSTANCE_URL": org.instance_url,
        "SF_SESSION_ID": org.session_id,
        "SF_CA_FILE": str(org.ca_file),
    }


def _apply(tmp_path: Path, org: Sandbox):
    """One apply of the job: its report, and its one step's changes."""
    with Job.open(tmp_path / "job.yaml", environ=_environ(org)) as job:
        report = job.apply()
    [step] = report.changeset.steps
    return report, step


@pytest.mark.parametrize("username", ["sandbox@syncmap.local", None])
def test_by_default_what_syncmap_created_is_not_read_back_but_its_updates_are(tmp_path: Path, username):
    """Records syncmap created and nobody changed since are left out of reads by default (no one
    can have changed them between syncmap's read and its write: they did not exist); its updates
    come back and are compared. Without `username` nothing can be told apart: all come back."""
    _project(
        tmp_path, DEFAULT if username else DEFAULT.replace("      username: sandbox@syncmap.local\n", "")
    )
    with Sandbox() as org:
        assert _apply(tmp_path, org)[0].changeset.counts()["create"] == 3
        _, step = _apply(tmp_path, org)  # nothing changed: the three Leads are syncmap's own creates
        assert step.read["target"] == (0 if username else 3)

        with SqliteConnector({"path": "platform.db"}, tmp_path) as platform:
            platform.write("contacts", [Write("w", "update", "contacts", "p1", {"first_name": "Bob"})])
        report, step = _apply(tmp_path, org)
        assert report.changeset.counts()["update"] == 1
        report, step = _apply(tmp_path, org)  # syncmap's update of Bo's Lead comes back, changing nothing
        assert step.read["target"] >= 1
        assert report.changeset.counts()["update"] == 0


def test_a_record_arriving_later_with_the_key_of_one_syncmap_created_finds_it(tmp_path: Path):
    """What syncmap created is not read back, so its match keys are remembered from the values
    it wrote: a platform contact arriving after Ana's was deleted, with her phone, finds her
    Lead instead of creating a second one."""
    _project(tmp_path)
    with Sandbox() as org:
        assert _apply(tmp_path, org)[0].changeset.counts()["create"] == 3
        with SqliteConnector({"path": "platform.db"}, tmp_path) as platform:
            twin = {**PEOPLE[0], "id": "p9", "first_name": "Ana B."}
            platform.write("contacts", [Write("gone", "delete", "contacts", "p0")])
            platform.write("contacts", [Write("t", "create", "contacts", "p9", twin)])
        report, step = _apply(tmp_path, org)
        assert step.read["target"] == 0  # the Leads syncmap created were not read back
        assert report.changeset.counts()["create"] == 0
        assert org.client().query("SELECT COUNT() FROM Lead")["totalSize"] == 3


def test_a_quiet_read_moves_the_watermark_on(tmp_path: Path):
    """A Salesforce read that finds nothing new still moves the side's watermark to when it
    started (the connector's overlap covers a clock behind ours), so later reads do not ask for
    every change since the first sync and leave the Leads syncmap created out, again and again."""
    _project(tmp_path)
    with Sandbox() as org:
        marks = []
        for _ in range(3):
            with Job.open(tmp_path / "job.yaml", environ=_environ(org)) as job:
                job.apply()
                marks.append(job.state.watermark(job.name, "contacts", "target"))
        assert marks[0] < marks[1] < marks[2]

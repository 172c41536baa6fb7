"""Incremental runs: a read starts at the watermark itself, where a time may hold more changes
than the last run read, and the records read there already, unchanged, are not decided again. A
linked record not read is decided from its pair's agreed values when they are all it holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

STAMP = "2026-11-23T10:00:00+00:00"  # a platform keeping whole seconds: several changes share it


def test_records_read_at_the_watermark_are_decided_again_only_when_they_changed(stores, open_job):
    platform, crm = stores
    platform.seed(
        "contacts",
        [
            {
                "id": "a",
                "first_name": "Ana",
                "phone": "+14155550101",
                "updated_at": "2026-11-23T09:00:00+00:00",
            },
            {"id": "b", "first_name": "Bo", "phone": "+14155550102", "updated_at": STAMP},
            {"id": "c", "first_name": "Cy", "phone": "+14155550103", "updated_at": STAMP},
        ],
    )
    first = open_job().apply()
    assert first.changeset.counts()["create"] == 3

    job = open_job()
    [step] = job.apply().changeset.steps
    assert step.read["source"] == 0, "b and c, read at the watermark last time, are left out"
    assert job.connectors["crm"].calls["get"] == 0, "so no partner is fetched for them"

    # within the same second, c changed and d arrived: both are read, b still is not
    platform.seed(
        "contacts",
        [
            {"id": "c", "first_name": "Cyril", "phone": "+14155550103", "updated_at": STAMP},
            {"id": "d", "first_name": "Di", "phone": "+14155550104", "updated_at": STAMP},
        ],
    )
    third = open_job().apply()
    [step] = third.changeset.steps
    assert step.read["source"] == 2
    assert third.changeset.counts()["create"] == third.changeset.counts()["update"] == 1
    assert {r.values["FirstName"] for r in crm.read("Lead")} == {"Ana", "Bo", "Cyril", "Di"}

    fourth = open_job().apply()
    assert fourth.changeset.steps[0].read["source"] == 0, "b, c and d are all known at the watermark now"
    assert not fourth.changeset.has_changes()


TWO_WAY = """\
syncmap: 2
name: two-way
connections:
  platform: {connector: memory, settings: {store: platform}}
  crm: {connector: memory, settings: {store: crm}}
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: crm, object: Lead}
    direction: both
    match: [{source: phone, target: MobilePhone, normalize: phone}]
    filters: [{side: source, require: first_name, reason: no first name}]
    fields:
      FirstName: first_name
      LastName: last_name
      MobilePhone: phone
"""


def later(seconds: int) -> str:
    """A modification time after every one the stores gave so far."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def ana(seconds_later: int | None = None, **changes: str) -> list[dict]:
    """Ana's platform contact, changed ``seconds_later`` (or as first seeded)."""
    contact = {"id": "p1", "first_name": "Ana", "last_name": "Lopez", "phone": "+14155550101", **changes}
    return [contact if seconds_later is None else {**contact, "updated_at": later(seconds_later)}]


def test_a_linked_lead_unchanged_since_it_was_agreed_is_not_fetched(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", ana())
    open_job(TWO_WAY).apply()
    [lead] = crm.read("Lead")
    assert open_job(TWO_WAY).apply().changeset.steps[0].read["target"] == 1  # its creation, read back

    platform.seed("contacts", ana(30, first_name="Ana María"))
    job = open_job(TWO_WAY)
    assert job.apply().changeset.counts()["update"] == 1
    assert job.connectors["crm"].calls["get"] == 0, "the values the pair agreed on stand in for the Lead"
    assert crm.get("Lead", [lead.id])[lead.id].values["FirstName"] == "Ana María"


def test_a_lead_read_while_its_pair_could_not_agree_is_fetched_next_time(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", ana())
    open_job(TWO_WAY).apply()
    [lead] = crm.read("Lead")

    # the platform record fails a filter while the Lead changes: the pair cannot agree this run
    platform.seed("contacts", ana(10, first_name=""))
    crm.seed("Lead", [{**lead.values, "LastName": "García", "updated_at": later(20)}])
    open_job(TWO_WAY).apply()
    assert platform.get("contacts", ["p1"])["p1"].values["last_name"] == "Lopez"

    # the Lead is not read again (it has not changed since), but it is fetched, not stood in for
    platform.seed("contacts", ana(30))
    job = open_job(TWO_WAY)
    assert job.apply().changeset.steps[0].read == {"target": 0, "source": 1}
    assert job.connectors["crm"].calls["get"] == 1
    assert platform.get("contacts", ["p1"])["p1"].values["last_name"] == "García"


def test_a_lead_holding_a_value_the_pair_did_not_agree_on_is_fetched(stores, open_job):
    platform, crm = stores
    lead = {
        "id": "L1",
        "FirstName": "Ana",
        "LastName": "Lopez",
        "MobilePhone": "+14155550101",
        "Title": "CEO",
    }
    crm.seed("Lead", [lead])
    platform.seed("contacts", ana())
    one_way_title = TWO_WAY + "      Title: {source: title, direction: to_target}\n"
    open_job(one_way_title).apply()  # a first match never blanks the Title: the platform has none
    open_job(one_way_title).apply()

    platform.seed("contacts", ana(30, first_name="Ana María"))
    job = open_job(one_way_title)
    assert job.apply().changeset.counts()["update"] == 1
    assert job.connectors["crm"].calls["get"] == 1, "the agreed values are not all the Lead holds"
    assert crm.get("Lead", ["L1"])["L1"].values["Title"] == "CEO"

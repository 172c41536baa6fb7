"""Two or three source records with one match key never make two target records: the oldest
syncs and the others are held as a conflict naming them all, in one run or across runs; with
`duplicates: link_all` they all link to the one target and each update reaches every one."""

from __future__ import annotations

from engine.connectors import Write
from tests.runtime.conftest import CONTACTS, lines

LINK_ALL = CONTACTS.replace(
    "conflicts: {duplicate_key: keep_target}", "conflicts: {duplicate_key: keep_target, duplicates: link_all}"
)


def rows(*ids: str, phone: str = "(415) 555-0100") -> list[dict]:
    """Platform rows of one person, oldest first, each typing the phone its own way."""
    forms = [phone, phone.replace("(", "").replace(")", ""), "+1 " + phone]
    return [
        {
            "id": record_id,
            "first_name": "Ana",
            "phone": forms[n % 3],
            "updated_at": f"2026-01-0{n + 1}T00:00:00",
        }
        for n, record_id in enumerate(ids)
    ]


def held(*ids: str, group: str) -> list[str]:
    return [
        f"conflict source contacts {record_id} (phone +14155550100 is shared by {group}: only contacts "
        f"{group.split(', ')[0].split(' ')[1]} syncs with the target; held until resolved (duplicates: hold))"
        for record_id in ids
    ]


CREATED = "create target Lead (new): FirstName='Ana', LastName='Unknown', MobilePhone='+14155550100'"


def test_two_rows_sharing_a_key_in_an_empty_org_make_one_lead(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", rows("p1", "p2"))
    report = open_job().apply()
    assert lines(report.changeset) == [*held("p2", group="contacts p1, contacts p2"), CREATED]
    assert len(crm.records("Lead")) == 1
    assert report.changeset.counts()["conflict"] == 1


def test_three_rows_sharing_a_key_make_one_lead_and_two_held_naming_all_three(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", rows("p7", "p3", "p5"))  # oldest first, whatever the ids
    changes = open_job().apply().changeset
    assert lines(changes) == [*held("p3", "p5", group="contacts p7, contacts p3, contacts p5"), CREATED]
    (lead,) = crm.records("Lead")
    assert open_job().state.links("contacts-job", "contacts")["p7"].target_id == lead.id


def test_a_row_sharing_the_key_of_a_synced_row_in_a_later_run_is_held(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", rows("p1"))
    open_job().apply()
    platform.seed("contacts", [{**rows("p1", "p2")[1], "updated_at": "2026-02-01T00:00:00"}])
    changes = open_job().apply().changeset
    assert lines(changes) == held("p2", group="contacts p1, contacts p2")
    assert len(crm.records("Lead")) == 1


def test_a_row_sharing_a_key_is_held_when_the_target_it_would_match_is_not_read(stores, open_job):
    """The Lead the first row made is not read again (it did not change since the last run), so
    no key finds it on the target side: the source side's keys still tell the rows share it."""
    platform, crm = stores
    platform.seed("contacts", rows("p1"))
    open_job().apply()
    open_job().apply()  # reads the new Lead back once; after this, it is unchanged
    platform.seed("contacts", [{**rows("p1", "p2")[1], "updated_at": "2026-02-01T00:00:00"}])
    changes = open_job().apply().changeset
    assert lines(changes) == held("p2", group="contacts p1, contacts p2")
    assert len(crm.records("Lead")) == 1


def test_link_all_links_every_row_to_one_lead_and_each_update_reaches_all(stores, open_job):
    platform, crm = stores
    platform.seed("contacts", rows("p1", "p2", "p3"))
    first = open_job(LINK_ALL).apply().changeset
    assert CREATED in lines(first) and not [line for line in lines(first) if line.startswith("conflict")]
    open_job(LINK_ALL).apply()  # the rows that waited for the Lead link to it
    (lead,) = crm.records("Lead")
    links = open_job(LINK_ALL).state.links("contacts-job", "contacts")
    assert {source_id: link.target_id for source_id, link in links.items()} == {
        "p1": lead.id, "p2": lead.id, "p3": lead.id,
    }  # fmt: skip
    assert lines(open_job(LINK_ALL).apply().changeset) == []

    platform.seed(
        "contacts",
        [{**rows("p3", "p3", "p3")[2], "first_name": "Anabel", "updated_at": "2026-03-01T00:00:00"}],
    )
    open_job(LINK_ALL).apply()
    assert crm.records("Lead")[0].values["FirstName"] == "Anabel"
    names = {record.id: record.values["first_name"] for record in platform.records("contacts")}
    assert names == {"p1": "Anabel", "p2": "Anabel", "p3": "Anabel"}
    assert lines(open_job(LINK_ALL).apply().changeset) == [], "the rows agree: nothing is left to do"
    assert len(crm.records("Lead")) == 1


def test_link_all_a_deleted_target_unlinks_every_row_and_a_deleted_row_keeps_the_shared_target(
    stores, open_job
):
    platform, crm = stores
    propagating = LINK_ALL.replace("conflicts:", "deletes: propagate\n    conflicts:")
    platform.seed("contacts", rows("p1", "p2", "p3"))
    open_job(propagating).apply()
    open_job(propagating).apply()
    (lead,) = crm.records("Lead")

    platform.write("contacts", [Write("d", "delete", "contacts", "p3")])
    open_job(propagating).apply()
    assert not crm.records("Lead")[0].deleted, "p1 and p2 still share the Lead"
    assert sorted(open_job(propagating).state.links("contacts-job", "contacts")) == ["p1", "p2"]

    crm.write("Lead", [Write("d", "delete", "Lead", lead.id)])
    open_job(propagating).apply()
    assert open_job(propagating).state.links("contacts-job", "contacts") == {}, "both lose their partner"
    assert sorted(r.id for r in platform.records("contacts") if r.deleted) == ["p1", "p2", "p3"]

import pytest

from engine.sandbox import ids


@pytest.mark.parametrize(
    ("id15", "id18"),
    [
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
        ("00300000003T2PG", "00300000003T2PGAA0"),
        # chunks a0XZZ, ZZZ00, 000zz: upper-case bits 0b11100, 0b00111, 0 -> "2", "H", "A"
        ("a0XZZZZZ00000zz", "a0XZZZZZ00000zz2HA"),
    ],
)
def test_checksum_suffix_matches_salesforce(id15, id18):
    assert ids.to18(id15) == id18
    assert ids.is_valid(id18)
    assert ids.to18(id18) == id18


def test_wrong_checksum_is_invalid():
    assert not ids.is_valid("001A0000006Vm9rAAA")
    assert not ids.is_valid("001A0000006Vm9")


def test_created_records_have_18_character_ids_with_their_key_prefix(sf):
    created = {
        "Lead": sf.Lead.create({"LastName": "Id", "Company": "Ids"})["id"],
        "Account": sf.Account.create({"Name": "Ids"})["id"],
        "Foo__c": sf.Foo__c.create({"Name": "ids"})["id"],
    }
    assert created["Lead"].startswith("00Q")
    assert created["Account"].startswith("001")
    assert created["Foo__c"].startswith("a0X")
    for record_id in created.values():
        assert len(record_id) == 18
        assert record_id[15:] == ids.checksum(record_id[:15])


def test_a_15_character_id_reads_the_same_record(sf):
    record_id = sf.Account.create({"Name": "Short id"})["id"]
    assert sf.Account.get(record_id[:15])["Id"] == record_id

"""Incremental reads start at the watermark itself, where a time may hold more changes than the
last run read; records read there already, and unchanged, are not decided again."""

from __future__ import annotations

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

    again = open_job().apply()
    [step] = again.changeset.steps
    assert step.read["source"] == 0, "b and c, read at the watermark last time, are left out"
    assert crm.calls["get"] == 0, "so no partner is fetched for them"

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

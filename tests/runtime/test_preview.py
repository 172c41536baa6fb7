"""What the preview shows a consultant: what each system gains (in text and JSON), `--limit` on
every section (conflicts too), and records waiting for a parent grouped by why, not one line each."""

from __future__ import annotations

from engine.preview import render_text
from tests.runtime.conftest import CONTACTS

HOLD = CONTACTS.replace("conflicts: {duplicate_key: keep_target}", "conflicts: {ambiguous: hold}")


def test_the_counts_of_each_system_are_shown_in_text_and_json(stores, open_job):
    platform, crm = stores
    platform.seed(
        "contacts", [{"id": f"p{i}", "first_name": "Ana", "phone": f"+1415555{i:04d}"} for i in range(3)]
    )
    crm.seed("Contact", [{"id": "c1", "FirstName": "Bo", "LastName": "Chen", "MobilePhone": "+14155559999"}])
    job = open_job()
    changes = job.plan_changes()
    assert changes.to_dict()["by_connection"] == {
        "crm": {"create": 3, "update": 0, "delete": 0},
        "platform": {"create": 1, "update": 0, "delete": 0},
    }
    assert render_text(changes, job.plan).endswith("\ncrm: 3 to create; platform: 1 to create")


def test_limit_applies_to_conflicts_too(stores, open_job):
    platform, crm = stores
    platform.seed(
        "contacts", [{"id": f"p{i}", "first_name": "Ana", "phone": f"+1415555{i:04d}"} for i in range(8)]
    )
    crm.seed("Lead", [  # two Leads per phone: each contact's match is ambiguous, held
        {"id": f"L{i}{twin}", "LastName": "Lopez", "MobilePhone": f"+1415555{i:04d}"} for i in range(8) for twin in "ab"
    ])  # fmt: skip
    job = open_job(HOLD)
    changes = job.plan_changes()
    brief = render_text(changes, job.plan, limit=3)
    assert changes.counts()["conflict"] == 8
    assert (
        brief.count("! conflict") == 3 and "... and 5 more conflicts (use --detailed, or --limit N)" in brief
    )
    assert render_text(changes, job.plan, limit=3, detailed=True).count("! conflict") == 8

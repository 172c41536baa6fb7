"""Compiling: stable content hashes, dependency order, extends semantics, an immutable Plan."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from engine.compile import compile_plan
from engine.errors import DocumentError, RecordError

BASE = textwrap.dedent(
    """\
    syncmap: 1
    name: acme
    connections:
      platform: {connector: sqlite, settings: {path: acme.db}}
      salesforce: {connector: salesforce, settings: {session_id: "${SF_SESSION_ID}"}}
    objects:
      contacts:
        source: {connection: platform, object: contacts}
        target: {connection: salesforce, object: Contact}
        match:
          - {source: phone, target: [MobilePhone, Phone], normalize: phone}
        fields:
          FirstName: first_name
          Email: {source: email, transform: "email(@)"}
    """
)

REORDERED = textwrap.dedent(
    """\
    # the same document with keys in another order, other quoting, and comments
    name: 'acme'
    objects:
      contacts:
        fields:
          Email: {transform: "email(@)", source: email}   # normalized both ways
          FirstName: "first_name"
        match:
          - {normalize: phone, target: [MobilePhone, Phone], source: phone}
        target: {object: Contact, connection: salesforce}
        source: {object: contacts, connection: platform}
    connections:
      salesforce: {settings: {session_id: "${SF_SESSION_ID}"}, connector: salesforce}
      platform: {settings: {path: acme.db}, connector: sqlite}
    syncmap: 1
    """
)


def compiled(project, text: str, **extra: str):
    project({"job.yaml": text, **extra})
    return compile_plan(Path("job.yaml"))


def test_hash_ignores_key_order_quoting_and_comments(project):
    assert compiled(project, BASE).hash == compiled(project, REORDERED).hash


def test_hash_is_the_same_for_a_document_and_its_extends_equivalent(project):
    child = "syncmap: 1\nextends: templates/base.yaml\n"
    assert compiled(project, child, **{"templates/base.yaml": BASE}).hash == compiled(project, BASE).hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("FirstName: first_name", "FirstName: given_name"),
        ('transform: "email(@)"', 'transform: "lower(@)"'),
        ("normalize: phone}", "normalize: none}"),
        ("target: [MobilePhone, Phone]", "target: [Phone, MobilePhone]"),
        ("object: Contact}", "object: Lead}"),
        ("path: acme.db", "path: other.db"),
    ],
)
def test_any_semantic_change_changes_the_hash(project, old, new):
    assert old in BASE
    assert compiled(project, BASE).hash != compiled(project, BASE.replace(old, new)).hash


def test_explicit_defaults_do_not_change_the_hash(project):
    explicit = BASE.replace("    fields:", "    direction: both\n    deletes: ignore\n    fields:")
    assert compiled(project, BASE).hash == compiled(project, explicit).hash


def test_plan_is_frozen(project):
    plan = compiled(project, BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.steps[0].name = "other"
    assert isinstance(plan.steps, tuple)
    assert isinstance(plan.steps[0].fields, tuple)


ACTIVITIES = textwrap.dedent(
    """\
    syncmap: 1
    connections:
      platform: {connector: sqlite}
      salesforce: {connector: salesforce}
    objects:
      touchpoints:
        source: {connection: platform, object: touchpoints}
        target: {connection: salesforce, object: Event}
        parent: accounts
        fields:
          WhoId: {source: contact_id, link: contacts}
          WhatId: {source: account_id, link: accounts}
      contacts:
        source: {connection: platform, object: contacts}
        target: {connection: salesforce, object: Contact}
        fields:
          AccountId: {source: account_id, link: accounts}
      accounts:
        source: {connection: platform, object: accounts}
        target: {connection: salesforce, object: Account}
      users:
        source: {connection: platform, object: users}
        target: {connection: salesforce, object: User}
    """
)


def test_objects_run_after_the_objects_they_depend_on(project):
    plan = compiled(project, ACTIVITIES)
    assert [step.name for step in plan.steps] == ["accounts", "users", "contacts", "touchpoints"]
    assert plan.step("touchpoints").depends_on == ("accounts", "contacts")


def test_a_cycle_is_named_and_located(project):
    cyclic = ACTIVITIES.replace(
        "target: {connection: salesforce, object: Account}",
        "target: {connection: salesforce, object: Account}\n"
        "    parent: touchpoints\n    fields: {LastTouchId: {source: last_touch_id, link: touchpoints}}",
    )
    with pytest.raises(DocumentError) as caught:
        compiled(project, cyclic)
    (diag,) = caught.value.diagnostics
    assert diag.message == "objects depend on each other in a cycle: accounts -> touchpoints -> accounts"
    assert (diag.location.line, diag.location.column) == (21, 13)


def test_extends_merges_mappings_replaces_lists_and_null_removes(project):
    child = textwrap.dedent(
        """\
        syncmap: 1
        extends: templates/base.yaml
        name: acme-uk
        defaults: {phone_region: GB}
        objects:
          contacts:
            match:
              - {source: email, target: Email, normalize: email}
            fields:
              Email: null
              LastName: last_name
        """
    )
    plan = compiled(project, child, **{"templates/base.yaml": BASE})
    step = plan.step("contacts")
    assert plan.name == "acme-uk"
    assert plan.defaults.phone_region == "GB"
    assert [key.target_fields for key in step.match] == [("Email",)]
    assert [field.target for field in step.fields] == ["FirstName", "LastName"]
    assert plan.files == ("templates/base.yaml", "job.yaml")


def test_a_connection_pointed_at_another_connector_leaves_the_templates_settings_behind(project):
    child = textwrap.dedent(
        """\
        syncmap: 1
        extends: templates/base.yaml
        connections:
          platform: {connector: csv, settings: {path: exports}}
          salesforce: {settings: {instance_url: "${SF_INSTANCE_URL}"}}
        """
    )
    plan = compiled(project, child, **{"templates/base.yaml": BASE})
    connections = {c.name: (c.connector, dict(c.settings)) for c in plan.connections}
    assert connections["platform"] == ("csv", {"path": "exports"})
    assert connections["salesforce"] == (
        "salesforce",
        {"session_id": "${SF_SESSION_ID}", "instance_url": "${SF_INSTANCE_URL}"},
    )


def test_a_document_narrowing_its_templates_direction_stops_one_way_fields(project):
    template = BASE.replace(
        "      FirstName: first_name",
        "      FirstName: first_name\n      Phone: {source: phone, direction: to_target}",
    )
    child = "syncmap: 1\nextends: templates/base.yaml\nobjects:\n  contacts:\n    direction: to_source\n"
    plan = compiled(project, child, **{"templates/base.yaml": template})
    rules = {rule.target: rule.directions for rule in plan.step("contacts").fields}
    assert (rules["Phone"].create, rules["Phone"].update) == ("none", "none")
    assert (rules["FirstName"].create, rules["FirstName"].update) == ("to_source", "to_source")

    with pytest.raises(DocumentError) as written_together:  # one file: a contradiction, reported
        compiled(project, template.replace("    fields:", "    direction: to_source\n    fields:"))
    assert "contradicts the object's direction" in written_together.value.diagnostics[0].message


def test_field_directions_follow_the_object_and_what_the_field_is(project):
    text = BASE.replace(
        "    fields:",
        "    direction: {create: both, update: to_source}\n    fields:\n"
        "      LeadSource: {value: Avochato}\n      Account.Name: company\n"
        "      OwnerId: {source: owner_id, create_only: true}",
    )
    step = compiled(project, text).step("contacts")
    directions = {field.target: (field.directions.create, field.directions.update) for field in step.fields}
    assert directions == {
        "Account.Name": ("to_source", "to_source"),
        "Email": ("both", "to_source"),
        "FirstName": ("both", "to_source"),
        "LeadSource": ("to_target", "none"),
        "OwnerId": ("both", "none"),
    }


def test_expressions_are_compiled_once_with_their_location(project):
    step = compiled(project, BASE).step("contacts")
    email = next(field for field in step.fields if field.target == "Email")
    with pytest.raises(RecordError, match=r"`email\(@\)` failed on this record"):
        email.transform({"x": 1})
    assert email.transform(" Ana@Acme.COM ") == "ana@acme.com"
    assert (email.transform.location.line, email.transform.location.column) == (14, 41)

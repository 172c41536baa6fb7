"""The published JSON Schemas: generated from the model, complete, and usable by editors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine.schema import KINDS, schema_for, schema_text
from engine.versions import LATEST
from tests.conftest import REPO, run_syncmap


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_published_schema_matches_the_model(kind):
    published = REPO / "schemas" / f"{kind}.v{LATEST}.json"
    assert published.read_text() == schema_text(kind), "regenerate with `syncmap schema --kind KIND`"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schema_is_draft_2020_12_with_a_stable_id(kind):
    schema = schema_for(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://syncmap.dev/schemas/{kind}.v{LATEST}.json"


def properties(node, where: str = ""):
    """Every (place, property name, property schema) in the schema: definitions, and the schemas
    nested in them (`allOf`, `if`/`then`, items) included."""
    if isinstance(node, list):
        for item in node:
            yield from properties(item, where)
    elif isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            yield where, name, prop
        for key, child in node.items():
            yield from properties(child, f"{where}/{key}")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_property_has_a_description(kind):
    missing = [
        f"{owner}.{name}" for owner, name, prop in properties(schema_for(kind)) if not prop.get("description")
    ]
    assert missing == []


def test_syncmap_schema_prints_the_published_file():
    result = run_syncmap("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads((REPO / "schemas" / f"mapping.v{LATEST}.json").read_text())


def test_shipped_documents_validate_against_the_schema_alone():
    import yaml

    validator = Draft202012Validator(schema_for("mapping"))
    for path in sorted(Path(REPO / "mappings").glob("*.yaml")):
        if path.name.endswith(".test.yaml"):
            continue  # mapping tests, run by `syncmap test`
        document = yaml.safe_load(path.read_text())
        assert list(validator.iter_errors(document)) == [], path.name


@pytest.mark.parametrize(
    ("connection", "message", "hint"),
    [
        ("{connector: sql, settings: {ulr: 'sqlite:///app.db'}}", "unknown key `ulr`", "did you mean `url`?"),
        (
            "{connector: csv, settings: {path: ., delimitter: ';'}}",
            "unknown key `delimitter`",
            "did you mean `delimiter`?",
        ),
        ("{connector: salesforce, settings: {batch_size: 500}}", "500", None),
        (
            "{connector: salesforce, settings: {session_id: abc123}}",
            "a secret is written in the document",
            None,
        ),
        (
            "{connector: sqlite, settings: {id_feild: key, path: a.db}}",
            "unknown key `id_feild`",
            "did you mean `id_field`?",
        ),
    ],
    ids=["sql", "csv", "salesforce-range", "salesforce-secret", "sqlite"],
)
def test_each_built_in_connectors_settings_are_checked_at_their_line(tmp_path, connection, message, hint):
    (tmp_path / "syncmap.toml").write_text("")
    (tmp_path / "job.yaml").write_text(
        "syncmap: 2\nname: job\nconnections:\n"
        f"  app: {connection}\n"
        "  crm: {connector: memory}\n"
        "objects:\n  people:\n    source: {connection: app, object: people}\n"
        "    target: {connection: crm, object: Lead}\n    fields: {LastName: name}\n"
    )
    result = run_syncmap("validate", "job.yaml", cwd=tmp_path)
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("job.yaml:4:") and message in first, result.stderr
    if hint:
        assert f"hint: {hint}" in result.stderr

"""Schema validation: check document data against the published JSON Schema of its version.

The schemas are generated from ``engine.model`` and published in ``schemas/`` for editors. This
stage turns jsonschema's errors into located diagnostics a consultant can act on: the unknown key
with a did-you-mean, the allowed values of an enum, the expected type. It never stops at the first
error.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from engine import model
from engine.connectors import settings
from engine.connectors.rest.settings import RestSettings
from engine.diagnostics import Diagnostic, DocPath, did_you_mean
from engine.source_map import SourceMap
from engine.testfile import TestFile
from engine.versions import LATEST, SUPPORTED, migrate, renamed_keys

SCHEMA_BASE_URL = "https://syncmap.dev/schemas"
# what the published schemas describe: documents, rule sets, documents that `extends:` a template
# (partial: what they leave out comes from it), and mapping tests (`*.test.yaml`)
KINDS = ("mapping", "rules", "mapping-extends", "mapping-test")
CONNECTOR_SETTINGS = {  # each built-in connector's settings, published for a connection naming it
    "sqlite": settings.SqliteSettings,
    "memory": settings.MemorySettings,
    "jsonl": settings.JsonlSettings,
    "csv": settings.CsvSettings,
    "sql": settings.SqlSettings,
    "salesforce": settings.SalesforceSettings,
    "rest": RestSettings,
}

PATTERN_HINTS = {
    model.ENV_REFERENCE_PATTERN: "secrets come from the environment: write `${SF_SESSION_ID}`, never the value",
    model.NAME_PATTERN: "names are lower-case letters, digits, `_` and `-`, starting with a letter",
    model.DURATION_PATTERN: "write a duration such as `30s`, `15m`, `6h` or `30d`",
    model.SCHEDULE_PATTERN: "write an interval such as `5m`, a cron expression such as `0 6 * * 1-5`, or `manual`",
    r"^[A-Z]{2}$": "write a two-letter region code such as `US` or `GB`",
}
JSON_TYPE_NAMES = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}
SCHEMA_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
}
SYNONYMS = {
    "inbound": "to_source",
    "outbound": "to_target",
    "bidirectional": "both",
    "two-way": "both",
    "to_salesforce": "to_target",
    "from_salesforce": "to_source",
}
YAML_BOOLEAN_WORDS = {"yes", "no", "on", "off", "y", "n"}


@cache
def schema_for(kind: str) -> dict:
    """The JSON Schema (draft 2020-12) of one document kind in the newest version, as published
    in ``schemas/`` (older versions' schemas stay there unchanged)."""
    generated = _generated(kind)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE_URL}/{kind}.v{LATEST}.json",
        **generated,
    }


def _generated(kind: str) -> dict:
    if kind == "rules":
        return model.RuleSet.model_json_schema()
    if kind == "mapping-test":
        return TestFile.model_json_schema()
    generated = model.Document.model_json_schema()
    _publish_connector_settings(generated)
    return _partial(generated) if kind == "mapping-extends" else generated


def _partial(schema: dict) -> dict:
    """The schema of a document that `extends:` a template: nothing is required but `syncmap`,
    since what it leaves out comes from the template; keys and values are checked as
    in a whole document. (An `if` keeps its `required`: it tells the connectors apart.)"""

    def loosened(node: Any, in_if: bool = False) -> Any:
        if isinstance(node, list):
            return [loosened(item, in_if) for item in node]
        if not isinstance(node, dict):
            return node
        return {
            key: loosened(value, in_if or key == "if")
            for key, value in node.items()
            if key != "required" or in_if
        }

    partial = loosened(schema)
    partial["required"] = ["syncmap"]
    # a whole document (no `extends:`) beside them still needs what every document needs
    partial.setdefault("allOf", []).append(
        {"if": {"not": {"required": ["extends"]}}, "then": {"required": schema.get("required", [])}}
    )
    return partial


def _publish_connector_settings(schema: dict) -> None:
    """Each built-in connector's settings schema, applied to a connection naming it, so an editor
    completes and checks them as it does the rest of the document."""
    connection = schema["$defs"]["Connection"]
    for name, settings_model in CONNECTOR_SETTINGS.items():
        published = settings_model.model_json_schema(ref_template="#/$defs/{model}")
        for definition_name, definition in {
            **published.pop("$defs", {}),
            settings_model.__name__: published,
        }.items():
            if schema["$defs"].setdefault(definition_name, definition) != definition:
                raise ValueError(f"two schemas define `{definition_name}`: rename one model")
        summary = (settings_model.__doc__ or "").strip().splitlines()[0]
        connection.setdefault("allOf", []).append(
            {
                "if": {
                    "properties": {"connector": {"const": name, "description": f"The `{name}` connector."}},
                    "required": ["connector"],
                },
                "then": {
                    "properties": {
                        "settings": {
                            "$ref": f"#/$defs/{settings_model.__name__}",
                            "description": f"Settings of the `{name}` connector. {summary}",
                        }
                    }
                },
            }
        )


def schema_text(kind: str) -> str:
    return json.dumps(schema_for(kind), indent=2) + "\n"


@cache
def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(schema_for(kind))


def document_kind(data: Any) -> str:
    """Rule set files hold `rules:` and no `objects:`; everything else is a mapping document."""
    if isinstance(data, dict) and "rules" in data and "objects" not in data:
        return "rules"
    return "mapping"


def check_version(data: Any, source: SourceMap) -> list[Diagnostic]:
    supported = ", ".join(str(v) for v in SUPPORTED)
    hint = f"supported versions: {supported}; start the document with `syncmap: {LATEST}`"
    if not isinstance(data, dict):
        return [
            source.diagnostic(
                "not-a-mapping",
                f"a document must be a mapping, not {JSON_TYPE_NAMES.get(type(data), 'a value')}",
                (),
                hint=hint,
            )
        ]
    if "syncmap" not in data:
        return [
            source.diagnostic(
                "missing-version", "the document does not say its version (`syncmap:`)", (), hint=hint
            )
        ]
    version = data["syncmap"]
    if isinstance(version, bool) or version not in SUPPORTED:
        return [
            source.diagnostic(
                "unknown-version", f"unsupported document version `{version}`", ("syncmap",), hint=hint
            )
        ]
    return []


def check(data: Any, source: SourceMap, kind: str = "mapping") -> list[Diagnostic]:
    """Every schema violation of ``data``, located through ``source``; empty when valid."""
    found = check_version(data, source)
    if found:
        return found
    data, source = migrate(data, source)
    schema = schema_for(kind)
    validator = _validator(kind)
    errors = list(validator.iter_errors(data))
    misspelled = _misspelled_required_keys(errors)
    diagnostics = []
    for error in errors:
        if error.validator == "required" and (tuple(error.absolute_path), _missing_key(error)) in misspelled:
            continue  # the unknown-key error next to it already says "did you mean"
        diagnostics.extend(_diagnose(error, schema, source))
    return diagnostics


def _misspelled_required_keys(errors: list[ValidationError]) -> set[tuple[DocPath, str]]:
    """(object path, key) pairs where an unknown key is a likely misspelling of a required one."""
    found = set()
    for error in errors:
        if error.validator == "additionalProperties":
            allowed = list(error.schema.get("properties", {}))
            for key in _extra_keys(error):
                match = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                if match:
                    found.add((tuple(error.absolute_path), match[0]))
    return found


def _missing_key(error: ValidationError) -> str:
    return error.message.split("'")[1]


def _diagnose(error: ValidationError, schema: dict, source: SourceMap) -> Iterator[Diagnostic]:
    """Translate one jsonschema error (descending into the one fitting branch of an anyOf)."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        yield from _diagnose_branches(error, schema, source)
        return
    path: DocPath = tuple(error.absolute_path)
    validator = error.validator
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in _extra_keys(error):
            hint = did_you_mean(key, allowed) or (f"allowed keys: {', '.join(allowed)}" if allowed else None)
            if key in renamed_keys():
                new, version = renamed_keys()[key]
                hint = f"renamed to `{new}` in version {version}; `syncmap upgrade FILE` rewrites older documents"
            yield source.diagnostic(
                "unknown-key", f"unknown key `{key}`", (*path, key), hint=hint, at_key=True
            )
    elif validator == "required":
        missing = _missing_key(error)
        described = _resolve(error.schema, schema).get("properties", {}).get(missing, {})
        what = described.get("description", "").rstrip(".")
        hint = f"add `{missing}:` ({what[:1].lower() + what[1:]})" if what else f"add `{missing}:`"
        yield source.diagnostic(
            "missing-key", f"missing required key `{missing}`", path, hint=hint, at_key=True
        )
    elif validator in ("enum", "const"):
        allowed = error.validator_value if validator == "enum" else [error.validator_value]
        shown = ", ".join(f"`{v}`" for v in allowed)
        synonym = SYNONYMS.get(str(error.instance).lower())
        if synonym in allowed:
            hint = f"write `{synonym}`; allowed values: {shown}"
        else:
            hint = did_you_mean(str(error.instance), [str(v) for v in allowed]) or f"allowed values: {shown}"
        yield source.diagnostic("invalid-value", f"`{error.instance}` is not allowed", path, hint=hint)
    elif validator == "type":
        yield _type_diagnostic(error, path, source)
    elif validator == "pattern" and error.validator_value == model.ENV_REFERENCE_PATTERN:
        hint = PATTERN_HINTS[model.ENV_REFERENCE_PATTERN]
        yield source.diagnostic(
            "secret-in-document", "a secret is written in the document", path, hint=hint, secret=True
        )
    elif validator == "pattern":
        hint = PATTERN_HINTS.get(error.validator_value, f"must match `{error.validator_value}`")
        yield source.diagnostic("invalid-value", f"`{error.instance}` is not a valid value", path, hint=hint)
    elif validator == "propertyNames":
        name = error.instance if isinstance(error.instance, str) else str(error.instance)
        hint = PATTERN_HINTS.get(error.schema.get("pattern", ""))
        yield source.diagnostic(
            "invalid-name", f"`{name}` is not a valid name", (*path, name), hint=hint, at_key=True
        )
    elif validator in ("minItems", "minProperties", "minLength"):
        yield source.diagnostic("empty-value", "must not be empty", path)
    else:
        yield source.diagnostic("invalid-value", error.message, path)


def _diagnose_branches(error: ValidationError, schema: dict, source: SourceMap) -> Iterator[Diagnostic]:
    """An anyOf's errors: the fitting branch's, or the types that would have fitted."""
    branch_errors = _fitting_branch(error)
    if branch_errors:
        for sub in branch_errors:
            yield from _diagnose(sub, schema, source)
        return
    names = [_branch_type(branch, schema) for branch in error.validator_value]
    got = JSON_TYPE_NAMES.get(type(error.instance), "a value")
    expected = " or ".join(dict.fromkeys(n for n in names if n))
    path = tuple(error.absolute_path)
    hint = _yaml_boolean_hint(error.instance, path, source)
    yield source.diagnostic("wrong-type", f"expected {expected}, got {got}", path, hint=hint)


def _fitting_branch(error: ValidationError) -> list[ValidationError]:
    """The errors of the anyOf branch whose type fits the value, if exactly one fits: a branch
    of another type does not, nor one whose tag (a `const` key, such as `type: bearer`) differs."""
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        errors
        for errors in branches.values()
        if not any(
            (e.validator == "type" and not e.relative_path)
            or (e.validator == "const" and len(e.relative_path) == 1)
            for e in errors
        )
    ]
    return fitting[0] if len(fitting) == 1 else []


def _type_diagnostic(error: ValidationError, path: DocPath, source: SourceMap) -> Diagnostic:
    expected = error.validator_value
    names = [SCHEMA_TYPE_NAMES.get(t, t) for t in (expected if isinstance(expected, list) else [expected])]
    got = JSON_TYPE_NAMES.get(type(error.instance), "a value")
    hint = _yaml_boolean_hint(error.instance, path, source)
    return source.diagnostic("wrong-type", f"expected {' or '.join(names)}, got {got}", path, hint=hint)


def _yaml_boolean_hint(instance: Any, path: DocPath, source: SourceMap) -> str | None:
    """YAML 1.1 reads `no`, `yes`, `on`, `off` as booleans: the classic surprise."""
    info = source.info(path)
    if isinstance(instance, bool) and info and info.raw and info.raw.lower() in YAML_BOOLEAN_WORDS:
        return f'YAML reads `{info.raw}` as a boolean; write "{info.raw}" in quotes'
    return None


def _branch_type(branch: dict, root: dict) -> str:
    branch = _resolve(branch, root)
    if "enum" in branch:
        return "one of " + ", ".join(f"`{v}`" for v in branch["enum"])
    return SCHEMA_TYPE_NAMES.get(branch.get("type", ""), "")


def _extra_keys(error: ValidationError) -> list[str]:
    allowed = set(error.schema.get("properties", {}))
    return [key for key in error.instance if key not in allowed]


def _resolve(subschema: dict, root: dict) -> dict:
    ref = subschema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return root["$defs"][ref.split("/")[-1]]
    return subschema

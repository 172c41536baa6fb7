"""The sandbox org's metadata: which objects and fields exist and how describe reports them.

Everything else (validation, SOQL binding, describe endpoints) asks this catalog; it never holds
records. Custom objects and fields come from a describe JSON file in the same shape Salesforce
answers ``sobjects/X/describe`` with, so a consultant can save a real org's describe and reuse it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.sandbox import ids
from engine.sandbox.errors import ApiError, not_found

STRING_TYPES = frozenset(
    {"string", "textarea", "picklist", "multipicklist", "phone", "email", "url", "combobox"}
)
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
ID_TYPES = frozenset({"id", "reference"})
FIELD_TYPES = STRING_TYPES | NUMBER_TYPES | ID_TYPES | {"boolean", "date", "datetime"}

_SOAP_TYPES = {"boolean": "xsd:boolean", "date": "xsd:date", "datetime": "xsd:dateTime"}
_SOAP_TYPES |= {name: "tns:ID" for name in ID_TYPES}
_SOAP_TYPES |= {name: "xsd:double" for name in NUMBER_TYPES} | {"int": "xsd:int"}


@dataclass(frozen=True)
class Field:
    """One field of an sObject, with the properties describe reports and validation uses."""

    name: str
    type: str = "string"
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    external_id: bool = False
    id_lookup: bool = False
    unique: bool = False
    default: Any = None
    filled_by_org: bool = False

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def required(self) -> bool:
        """Whether a saved record must hold a value: not nillable and written by clients
        (defaults and org-filled values are in place before the check)."""
        return not self.nillable and (self.createable or self.updateable)

    def describe(self) -> dict[str, Any]:
        """The field as it appears in ``fields`` of an sObject describe."""
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "byteLength": self.length * 3,
            "precision": 18 if self.type in NUMBER_TYPES - {"int"} else 0,
            "scale": 2 if self.type in NUMBER_TYPES - {"int"} else 0,
            "digits": 9 if self.type == "int" else 0,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.default is not None or self.filled_by_org,
            "defaultValue": self.default,
            "calculated": False,
            "custom": self.custom,
            "unique": self.unique,
            "caseSensitive": False,
            "externalId": self.external_id,
            "idLookup": self.id_lookup,
            "nameField": self.name == "Name",
            "filterable": True,
            "sortable": self.type != "textarea",
            "groupable": self.type != "textarea",
            "aggregatable": True,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "restrictedPicklist": self.restricted,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
        }


@dataclass(frozen=True)
class SObject:
    """One object type of the org: its name, key prefix, flags and fields."""

    name: str
    key_prefix: str
    fields: tuple[Field, ...]
    label: str = ""
    label_plural: str = ""
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    feed_enabled: bool = True
    searchable: bool = True
    activities: bool = True  # "Allow Activities": Tasks and Events may point at it (WhatId)

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @cached_property
    def _fields_by_name(self) -> dict[str, Field]:
        return {f.name.lower(): f for f in self.fields}

    @property
    def field_names(self) -> set[str]:
        """Lower-cased names of every field."""
        return set(self._fields_by_name)

    @cached_property
    def _fields_by_relationship(self) -> dict[str, Field]:
        return {f.relationship_name.lower(): f for f in self.fields if f.relationship_name}

    def field(self, name: str) -> Field | None:
        """The field called name, compared case-insensitively as Salesforce does."""
        return self._fields_by_name.get(name.lower())

    def external_id_field(self, name: str) -> Field:
        """The field an upsert keys on: an External ID or id-lookup field, or the org's error."""
        field = self.field(name)
        if field is None:
            raise ApiError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {name}")
        if not (field.external_id or field.id_lookup):
            raise ApiError(
                400, "INVALID_FIELD",
                f"Field name provided, {field.name} is not an External ID or indexed field for {self.name}",
            )  # fmt: skip
        return field

    def relationship(self, name: str) -> Field | None:
        """The reference field whose relationship is called name (``Account`` -> AccountId)."""
        return self._fields_by_relationship.get(name.lower())

    def urls(self, base: str) -> dict[str, str]:
        url = f"{base}/sobjects/{self.name}"
        return {"sobject": url, "describe": f"{url}/describe", "rowTemplate": f"{url}/{{ID}}"}

    def summary(self, base: str) -> dict[str, Any]:
        """The object as listed by describe-global."""
        return {
            "name": self.name,
            "label": self.label or self.name,
            "labelPlural": self.label_plural or (self.label or self.name) + "s",
            "keyPrefix": self.key_prefix,
            "custom": self.custom,
            "customSetting": False,
            "createable": self.createable,
            "updateable": self.updateable,
            "deletable": self.deletable,
            "undeletable": self.deletable,
            "mergeable": False,
            "queryable": True,
            "retrieveable": True,
            "searchable": self.searchable,
            "layoutable": True,
            "replicateable": True,
            "triggerable": True,
            "feedEnabled": self.feed_enabled,
            "urls": self.urls(base),
        }

    def describe(self, base: str) -> dict[str, Any]:
        """The full ``sobjects/X/describe`` answer."""
        return self.summary(base) | {
            "fields": [f.describe() for f in self.fields],
            "childRelationships": [],
            "recordTypeInfos": [],
        }


@dataclass(frozen=True)
class Schema:
    """The catalog of every sObject in the org, looked up by name or by key prefix."""

    sobjects: tuple[SObject, ...]
    _by_name: dict[str, SObject] = field(init=False, repr=False, compare=False)
    _by_prefix: dict[str, SObject] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {s.name.lower(): s for s in self.sobjects})
        object.__setattr__(self, "_by_prefix", {s.key_prefix: s for s in self.sobjects})

    def __iter__(self) -> Iterator[SObject]:
        return iter(self.sobjects)

    def get(self, name: str) -> SObject | None:
        return self._by_name.get(name.lower())

    def require(self, name: str) -> SObject:
        """The sObject called name, or the 404 a REST URL with an unknown object gets."""
        sobject = self.get(name)
        if sobject is None:
            raise not_found()
        return sobject

    def of_id(self, record_id: str) -> SObject | None:
        """The sObject a record id belongs to, from its key prefix."""
        return self._by_prefix.get(record_id[:3])


def system_fields() -> tuple[Field, ...]:
    """Fields every sObject has, maintained by the org and never written by clients."""
    read_only = {"createable": False, "updateable": False}
    user = {"type": "reference", "reference_to": ("User",), "length": 18, **read_only}
    return (
        Field(
            "Id",
            "id",
            "Record ID",
            18,
            nillable=False,
            id_lookup=True,
            filled_by_org=True,
            **read_only,
        ),
        Field("IsDeleted", "boolean", "Deleted", nillable=False, **read_only),
        Field("CreatedDate", "datetime", "Created Date", nillable=False, **read_only),
        Field("CreatedById", label="Created By ID", relationship_name="CreatedBy", **user),
        Field("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, **read_only),
        Field(
            "LastModifiedById",
            label="Last Modified By ID",
            relationship_name="LastModifiedBy",
            **user,
        ),
        Field("SystemModstamp", "datetime", "System Modstamp", nillable=False, **read_only),
    )


def field_from_describe(entry: dict[str, Any]) -> Field:
    """A Field from one entry of a describe ``fields`` list (unknown keys are ignored)."""
    name = entry["name"]
    kind = entry.get("type", "string").lower()
    if kind not in FIELD_TYPES:
        raise UsageError(f"field {name}: unsupported type {kind!r}", hint=", ".join(FIELD_TYPES))
    relationship = entry.get("relationshipName")
    if kind == "reference" and not relationship:
        relationship = name[:-3] + "__r" if name.endswith("__c") else name.removesuffix("Id")
    return Field(
        name=name,
        type=kind,
        label=entry.get("label", name),
        length=entry.get("length", 255 if kind in STRING_TYPES else 18 * (kind in ID_TYPES)),
        nillable=entry.get("nillable", True),
        createable=entry.get("createable", True),
        updateable=entry.get("updateable", True),
        reference_to=tuple(entry.get("referenceTo", ())),
        relationship_name=relationship,
        picklist=tuple(p["value"] for p in entry.get("picklistValues", ())),
        restricted=entry.get("restrictedPicklist", False),
        external_id=entry.get("externalId", False),
        id_lookup=entry.get("idLookup", entry.get("externalId", False)),
        unique=entry.get("unique", False),
        default=entry.get("defaultValue"),
    )


def custom_object(entry: dict[str, Any], index: int) -> SObject:
    """A new custom object from its describe: system fields, Name and OwnerId come for free."""
    name = entry["name"]
    builtin = (
        *system_fields(),
        Field("Name", label=f"{entry.get('label', name)} Name", length=80, nillable=False),
        Field(
            "OwnerId",
            "reference",
            "Owner ID",
            18,
            nillable=False,
            reference_to=("User",),
            relationship_name="Owner",
            filled_by_org=True,
        ),
    )
    return merge_fields(
        SObject(
            name=name,
            key_prefix=entry.get("keyPrefix") or ids.custom_key_prefix(index),
            fields=builtin,
            label=entry.get("label", name.removesuffix("__c").replace("_", " ")),
            label_plural=entry.get("labelPlural", ""),
            feed_enabled=bool(entry.get("feedEnabled", True)),
            searchable=bool(entry.get("searchable", True)),
            activities=bool(entry.get("allowActivities", True)),
        ),
        entry,
    )


def merge_fields(sobject: SObject, entry: dict[str, Any]) -> SObject:
    """The object with the entry's fields added (or replacing same-named ones) and its
    ``removeFields`` taken away."""
    added = {f.name.lower(): f for f in map(field_from_describe, entry.get("fields", ()))}
    removed = {name.lower() for name in entry.get("removeFields", ())}
    for name in removed - set(sobject.field_names):
        raise UsageError(f"cannot remove field {sobject.name}.{name}: no such field")
    kept = tuple(added.pop(f.name.lower(), f) for f in sobject.fields if f.name.lower() not in removed)
    return dataclasses.replace(sobject, fields=kept + tuple(added.values()))


def read_describe_file(path: Path) -> list[dict[str, Any]]:
    """Describe entries from a file holding one describe, a list of them, or ``{"sobjects": [...]}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read describe file {path}: {e}") from e
    entries = data.get("sobjects", [data]) if isinstance(data, dict) else data
    if not all(isinstance(e, dict) and "name" in e for e in entries):
        raise UsageError(f"describe file {path}: every sObject needs a 'name'")
    return entries


def build_schema(
    standard: Iterable[SObject], entries: Iterable[dict[str, Any]], drop_fields: Iterable[str]
) -> Schema:
    """The org's catalog: standard objects, extended and trimmed by describe entries, plus custom
    objects. ``drop_fields`` names fields to remove as ``Object.Field`` (e.g. ``Task.Type``)."""
    objects = {s.name.lower(): s for s in standard}
    customs = 0
    for entry in entries:
        key = entry["name"].lower()
        if key in objects:
            objects[key] = merge_fields(objects[key], entry)
        else:
            objects[key] = custom_object(entry, customs)
            customs += 1
    for dotted in drop_fields:
        object_name, _, field_name = dotted.partition(".")
        if object_name.lower() not in objects:
            raise UsageError(f"cannot remove field {dotted}: no sObject {object_name}")
        key = object_name.lower()
        objects[key] = merge_fields(objects[key], {"removeFields": [field_name]})
    return Schema(tuple(_link_what_ids(objects.values())))


def _link_what_ids(sobjects: Iterable[SObject]) -> Iterator[SObject]:
    """Activities' WhatId may point at accounts and at every custom object that allows
    activities, as in an org (a describe entry may say `"allowActivities": false`)."""
    sobjects = list(sobjects)
    targets = ("Account", *(s.name for s in sobjects if s.custom and s.activities))
    for sobject in sobjects:
        what = sobject.field("WhatId")
        if what is None:
            yield sobject
            continue
        fields = tuple(
            dataclasses.replace(f, reference_to=targets) if f is what else f for f in sobject.fields
        )
        yield dataclasses.replace(sobject, fields=fields)

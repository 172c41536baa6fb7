"""The sandbox org: records of every sObject, validated and stamped the way Salesforce does.

REST, collections, Bulk API and seeding all write through here, so one set of rules decides
which field may be written, which values are valid and which error a client gets back. The org
speaks in sObjects and records; it knows nothing of HTTP beyond the ApiError it raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from engine.sandbox import ids
from engine.sandbox.derived import derive
from engine.sandbox.errors import ApiError, MultipleChoices, not_found
from engine.sandbox.schema import STRING_TYPES, Field, Schema, SObject
from engine.sandbox.store import Store
from engine.sandbox.values import coerce, format_datetime

SANDBOX_USERNAME = "sandbox@syncmap.local"
SYSTEM_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)


class Org:
    """The records of one org with the rules of creating, updating, upserting and deleting them."""

    def __init__(
        self,
        schema: Schema,
        store: Store,
        api_version: str,
        clock: Callable[[], datetime] | None = None,
    ):
        self.schema = schema
        self.store = store
        self.api_version = api_version
        self.clock = clock or (lambda: datetime.now(UTC))
        self._acting: ContextVar[str | None] = ContextVar("acting_user", default=None)
        self.user_id = ""  # the user every API call acts as unless told otherwise; set just below
        self.user_id = self.ensure_user(SANDBOX_USERNAME)
        self._ensure_lead_statuses()

    def reset(self) -> None:
        """Remove every record; the sandbox user comes back with a new id."""
        self.store.clear()
        self.user_id = ""
        self.user_id = self.ensure_user(SANDBOX_USERNAME)
        self._ensure_lead_statuses()

    # -- users -----------------------------------------------------------------------------

    @contextmanager
    def acting_as(self, username: str) -> Iterator[None]:
        """Stamp what is written meanwhile (in this thread) as that user's change."""
        token = self._acting.set(self.ensure_user(username))
        try:
            yield
        finally:
            self._acting.reset(token)

    @property
    def current_user(self) -> str:
        return self._acting.get() or self.user_id

    def ensure_user(self, username: str) -> str:
        """The id of the user with this username, created on first use."""
        user = self.schema.get("User")
        existing = self.find_by(user, user.field("Username"), username)
        if existing:
            return existing[0]["Id"]
        name = username.partition("@")[0]
        user_id = ids.make_id(user.key_prefix, self.store.next_number(user.name))
        self.user_id = self.user_id or user_id  # the first user creates itself
        values = {
            "Id": user_id,
            "Username": username,
            "Email": username,
            "FirstName": name.capitalize(),
            "LastName": "User",
            "Alias": name[:8],
        }
        return self.create(user, values, trusted=True)

    # -- reading -----------------------------------------------------------------------------

    def url(self, sobject: SObject, record_id: str) -> str:
        return f"/services/data/v{self.api_version}/sobjects/{sobject.name}/{record_id}"

    def lookup(self, record_id: str) -> tuple[SObject, dict[str, Any]] | None:
        """The live (not deleted) record with an id, whatever its sObject."""
        found = self.store.get(ids.to18(record_id)) if ids.is_valid(record_id) else None
        if found is None or found[1].get("IsDeleted"):
            return None
        sobject = self.schema.get(found[0])
        return (sobject, found[1]) if sobject else None

    def read(self, sobject: SObject, record_id: str) -> dict[str, Any]:
        """A record of this sObject, or NOT_FOUND / ENTITY_IS_DELETED as Salesforce answers."""
        found = self.store.get(ids.to18(record_id)) if ids.is_valid(record_id) else None
        if found is None or found[0] != sobject.name:
            raise not_found()
        if found[1].get("IsDeleted"):
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return found[1]

    def render(
        self, sobject: SObject, record: dict[str, Any], names: list[str] | None = None
    ) -> dict[str, Any]:
        """A record as REST returns it: ``attributes`` then the fields in describe order."""
        fields = [self.field(sobject, n) for n in names] if names else sobject.fields
        body: dict[str, Any] = {"attributes": {"type": sobject.name, "url": self.url(sobject, record["Id"])}}
        return body | {f.name: record.get(f.name) for f in fields}

    def field(self, sobject: SObject, name: str) -> Field:
        found = sobject.field(name)
        if found is None:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject.name}")
        return found

    def find_by(self, sobject: SObject, field: Field, value: str) -> list[dict[str, Any]]:
        """Live records whose field equals value (case-insensitively for text, as ids match)."""
        if field.type not in STRING_TYPES:
            value = coerce(field, value)
        return self.store.find(sobject.name, field.name, value, field.type in STRING_TYPES)

    # -- writing -----------------------------------------------------------------------------

    def create(self, sobject: SObject, values: dict[str, Any], trusted: bool = False) -> str:
        """Insert a record and return its id. ``trusted`` (seeding) may set read-only and system
        fields and refer to records that do not exist yet."""
        if not sobject.createable and not trusted:
            raise ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"cannot create {sobject.name}")
        record = self._checked(sobject, values, "createable", trusted)
        for field in sobject.fields:
            if field.default is not None and record.get(field.name) is None:
                record[field.name] = field.default
        if trusted and "Id" in values:
            record["Id"] = _seed_id(sobject, values["Id"])
        else:
            record["Id"] = ids.make_id(sobject.key_prefix, self.store.next_number(sobject.name))
        self._stamp(record, created=True, keep=trusted)
        if sobject.field("OwnerId") and record.get("OwnerId") is None:
            record["OwnerId"] = self.current_user
        with self.store.transaction():
            self._save(sobject, record, trusted)
        return record["Id"]

    def update(self, sobject: SObject, record_id: str, values: dict[str, Any]) -> None:
        values = {k: v for k, v in values.items() if k.lower() != "id"}
        with self.store.transaction():
            record = self.read(sobject, record_id)
            record.update(self._checked(sobject, values, "updateable", trusted=False))
            self._stamp(record, created=False)
            self._save(sobject, record, trusted=False)

    def upsert(
        self, sobject: SObject, field_name: str, value: str, values: dict[str, Any]
    ) -> tuple[str, bool]:
        """Update the record whose external id equals value, or create it; returns (id, created).
        Several matches raise the 300 Salesforce answers with, listing their URLs."""
        field = sobject.external_id_field(field_name)
        with self.store.transaction():
            matches = self.find_by(sobject, field, value)
            if len(matches) > 1:
                raise MultipleChoices([self.url(sobject, r["Id"]) for r in matches])
            if matches:
                self.update(sobject, matches[0]["Id"], values)
                return matches[0]["Id"], False
            return self.create(sobject, {**values, field.name: value}), True

    def delete(self, sobject: SObject, record_id: str) -> None:
        if not sobject.deletable:
            raise ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"cannot delete {sobject.name}")
        with self.store.transaction():
            record = self.read(sobject, record_id)
            record["IsDeleted"] = True
            self._stamp(record, created=False)
            self.store.put(sobject.name, record)

    # -- rules -------------------------------------------------------------------------------

    def _checked(
        self, sobject: SObject, values: dict[str, Any], access: str, trusted: bool
    ) -> dict[str, Any]:
        """The values coerced to stored form, after checking every field exists and is writable."""
        values = {k: v for k, v in values.items() if k != "attributes"}
        fields = {name: self.field(sobject, name) for name in values}
        if not trusted:
            locked = [f.name for f in fields.values() if not getattr(f, access)]
            if locked:
                raise ApiError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {', '.join(locked)}. Please check the "
                    "security settings of this field and verify that it is read/write for your "
                    "profile or permission set.",
                    tuple(locked),
                )
        return {f.name: coerce(f, values[name]) for name, f in fields.items()}

    def _save(self, sobject: SObject, record: dict[str, Any], trusted: bool) -> None:
        derive(sobject, record)
        missing = [f.name for f in sobject.fields if f.required and record.get(f.name) is None]
        if missing:
            raise ApiError(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                tuple(missing),
            )
        if not trusted:
            self._check_references(sobject, record)
        self._check_unique(sobject, record)
        self.store.put(sobject.name, record)

    def _check_references(self, sobject: SObject, record: dict[str, Any]) -> None:
        for field in sobject.fields:
            target_id = record.get(field.name)
            if field.type != "reference" or target_id is None or field.name in SYSTEM_FIELDS:
                continue
            target = self.schema.of_id(target_id)
            if target is None or target.name not in field.reference_to:
                raise ApiError(
                    400,
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"{field.label}: id value of incorrect type: {target_id}",
                    (field.name,),
                )
            if self.lookup(target_id) is None:
                raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", (field.name,))

    def _check_unique(self, sobject: SObject, record: dict[str, Any]) -> None:
        for field in sobject.fields:
            value = record.get(field.name)
            if not field.unique or value is None:
                continue
            for other in self.find_by(sobject, field, value):
                if other["Id"] != record["Id"]:
                    raise ApiError(
                        400,
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {field.name} duplicates value on record with "
                        f"id: {other['Id']}",
                        (field.name,),
                    )

    def _stamp(self, record: dict[str, Any], created: bool, keep: bool = False) -> None:
        """Set the audit fields; ``keep`` leaves values a seed file already gave."""
        now = format_datetime(self.clock())
        user = self.current_user
        stamps = {"LastModifiedDate": now, "SystemModstamp": now, "LastModifiedById": user}
        if created:
            stamps |= {"CreatedDate": now, "CreatedById": user, "IsDeleted": False}
        for name, value in stamps.items():
            if not (keep and record.get(name) is not None):
                record[name] = value

    def _ensure_lead_statuses(self) -> None:
        """The Lead Status picklist as LeadStatus records, as every org has them."""
        lead_status = self.schema.get("LeadStatus")
        lead = self.schema.get("Lead")
        if lead_status is None or lead is None or self.store.scan(lead_status.name):
            return
        statuses = lead.field("Status").picklist
        for position, label in enumerate(statuses, start=1):
            values = {
                "MasterLabel": label, "ApiName": label, "SortOrder": position,
                "IsDefault": position == 1, "IsConverted": label == "Closed - Converted",
            }  # fmt: skip
            self.create(lead_status, values, trusted=True)


def _seed_id(sobject: SObject, value: Any) -> str:
    record_id = ids.normalize(value) if isinstance(value, str) else None
    if record_id is None or record_id[:3] != sobject.key_prefix:
        raise ApiError(
            400, "MALFORMED_ID", f"{sobject.name} id value of incorrect type: {value}", ("Id",)
        )
    return record_id

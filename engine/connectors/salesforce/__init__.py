"""The Salesforce connector: an org's records through the REST API, spoken by simple-salesforce.

Reads are one SOQL queryAll per read, ordered by (SystemModstamp, Id) and paged with queryMore,
so deleted records arrive as tombstones (``IsDeleted``) and a watermark never skips a change. The
read starts ``overlap_seconds`` before the watermark: SystemModstamp is stamped when a transaction
starts, so a slow transaction can become visible after a later one was already read. Rows that a
previous read of this connector delivered with the same stamp are not delivered twice. A read
leaves out the records syncmap created and nobody changed since (last changed by ``username``
within one of the times the engine says it only created records), so a large sync's writes
never come back as changes and cost no queryMore pages; with ``skip_own_changes``, those of its
updates too (a change someone made between syncmap's read and its update of the same record
would then be missed, which cannot happen to a record that did not exist yet).

By concern: ``session`` (signing in, every request counted, retries, failures), ``reads``
(query pages, records, the overlap's window), ``writes`` (Collections and the values they take),
``bulk`` (Bulk API 2.0 jobs) and ``usage`` (the org's daily API calls). This connector must never
put a value into SOQL unescaped (``soql.py`` writes every literal).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.connectors import (
    BaseConnector,
    FieldInfo,
    ObjectInfo,
    Record,
    Write,
    WriteResult,
    soql,
    typed_settings,
)
from engine.connectors.local import unique
from engine.connectors.salesforce import local_org
from engine.connectors.salesforce.reads import (
    MAX_QUERY_LENGTH,
    BulkRead,
    Window,
    as_record,
    in_queries,
    not_own_writes,
    rows,
)
from engine.connectors.salesforce.session import TIMEOUT, ApiFailure, Session
from engine.connectors.salesforce.writes import Writer
from engine.connectors.settings import SalesforceSettings
from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError, SettingError, UnknownObjectError
from engine.times import canonical_time, parse_time

__all__ = ["MAX_QUERY_LENGTH", "SalesforceConnector"]

UNQUERYABLE = frozenset({"address", "location", "base64", "complexvalue"})  # compound or blob fields
TYPES = {"id": "id", "reference": "reference", "boolean": "boolean", "date": "date", "datetime": "datetime"}
TYPES |= {name: "number" for name in soql.NUMBER_TYPES} | {
    "picklist": "picklist",
    "multipicklist": "picklist",
    "phone": "phone",
}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")


def _own_username(settings: SalesforceSettings) -> str | None:
    """The username whose changes within syncmap's own writes are left out of reads: of its
    creates by default, of all its writes with ``skip_own_changes``, of none when that is false."""
    if settings.skip_own_changes and not settings.username:
        raise SettingError(
            "skip_own_changes",
            "salesforce setting `skip_own_changes` needs `username`: the user syncmap's writes are made as",
            hint="add `username: syncmap@acme.com`; with a session id or client credentials it only "
            "names whose changes to skip",
        )
    return settings.username if settings.skip_own_changes is not False else None


class SalesforceConnector(BaseConnector):
    """A Salesforce org through the REST API (see the module docstring)."""

    default_id_field = "Id"
    default_modified_field = "SystemModstamp"
    writes_in_a_thread = True  # each write is its own HTTP requests; nothing is shared with apply

    def __init__(self, settings: Mapping[str, Any], base_dir: Path | None = None):
        typed = typed_settings("salesforce", SalesforceSettings, settings)
        self.local_org = None
        if typed.sandbox:
            self.local_org, settings = local_org.serve(settings, base_dir)
        try:
            self.session = Session(settings, typed, base_dir)
        except BaseException:
            if self.local_org is not None:
                self.local_org.stop()
            raise
        self.calls = self.session.calls
        self.writer = Writer(self.session, typed)
        self.write_batch_size = typed.bulk_job_size  # apply hands over a Bulk job's worth at once
        self.bulk_read_threshold = typed.bulk_read_threshold
        self.overlap = timedelta(seconds=typed.overlap_seconds)
        self.reread_seconds = typed.overlap_seconds  # a read delivers this much before `since` again
        self.extra_fields: dict[str, list[str]] = {}  # object -> parent paths the plan maps
        self.own_username = _own_username(typed)
        self.skip_own_updates = bool(typed.skip_own_changes)
        self._describes: dict[str, dict[str, Any]] = {}
        self._infos: dict[str, ObjectInfo] = {}
        self._object_names: list[str] | None = None
        self._checked_where: set[tuple[str, str]] = set()
        self._tails: dict[tuple[str, str], Window] = {}

    def __repr__(self) -> str:
        return (
            f"SalesforceConnector({{'instance_url': {self.session.where!r}, 'auth': {self.session.auth!r}}})"
        )

    def close(self) -> None:
        self.session.close()
        if self.local_org is not None:
            self.local_org.stop()
            self.local_org = None

    # --- the protocol

    def describe(self, object_type: str) -> ObjectInfo:
        """Fields and flags from the sObject describe, fetched once per connector."""
        if object_type not in self._infos:
            raw = self._describe(object_type)
            fields = {entry["name"]: _field_info(entry) for entry in raw["fields"]}
            modified = next((n for n in ("SystemModstamp", "LastModifiedDate") if n in fields), None)
            self._infos[object_type] = ObjectInfo(
                raw["name"], fields, id_field="Id", modified_field=modified,
                createable=bool(raw.get("createable", True)), updateable=bool(raw.get("updateable", True)),
                deletable=bool(raw.get("deletable", True)),
                flags={key: raw[key] for key in ("searchable", "feedEnabled", "custom", "queryable") if key in raw},
                authoritative=True,
            )  # fmt: skip
        return self._infos[object_type]

    def read(
        self,
        object_type: str,
        since: str | None = None,
        where: str | None = None,
        own_writes: Sequence[tuple[str, ...]] = (),
    ) -> Iterator[Record]:
        """Records modified at or after ``since`` (less the overlap), tombstones included, streamed
        page by page in (SystemModstamp, Id) order; with ``skip_own_changes``, not those whose
        last change was one of ``own_writes``."""
        info = self.describe(object_type)
        conditions, start, floor = [], None, None
        if since is not None and info.modified_field:
            start = parse_time(canonical_time(since, "watermark"))
            floor = (start - self.overlap).replace(microsecond=0)
            conditions.append(f"{info.modified_field} >= {soql.datetime_literal(floor)}")
        if where:
            self.check_where(info.name, where)
            conditions.append(f"({where})")
        skipped = [w[:2] for w in own_writes if self.skip_own_updates or w[2:] == ("create",)]
        if self.own_username and skipped and info.modified_field:
            conditions += not_own_writes(info.modified_field, self.own_username, skipped, floor)
        text = f"SELECT {', '.join(self._columns(object_type))} FROM {info.name}"
        text += f" WHERE {' AND '.join(conditions)}" if conditions else ""
        text += f" ORDER BY {info.modified_field}, Id" if info.modified_field else " ORDER BY Id"
        return self._stream(info, text, start, where or "")

    def get(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        """Live records by id, keyed by the id asked for (15- or 18-character)."""
        info = self.describe(object_type)
        wanted = unique(str(i) for i in ids if soql.is_record_id(str(i)))
        by_prefix = {record_id[:15]: record_id for record_id in reversed(wanted)}  # 15 or 18, once
        records = self._select_in(info, "Id", map(soql.quote, by_prefix.values()))
        found = {record.id[:15]: record for record in records}
        return {record_id: found[record_id[:15]] for record_id in wanted if record_id[:15] in found}

    def find(self, object_type: str, field_name: str, values: Sequence[Any]) -> list[Record]:
        """Live records whose field is one of the values, Salesforce's way: text case-insensitively."""
        info = self.describe(object_type)
        kind = self._filter_type(object_type, field_name)
        literals = (soql.literal(value, kind or soql.kind_of(value)) for value in values if value is not None)
        return self._select_in(info, field_name, (lit for lit in literals if lit is not None))

    def write(self, object_type: str, writes: Sequence[Write]) -> list[WriteResult]:
        """One result per write, in order (see ``writes``)."""
        if not writes:
            return []
        raw = self._describe(object_type)["fields"]
        relationships = {f["relationshipName"] for f in raw if f.get("relationshipName")}
        return self.writer.write(self.describe(object_type), relationships, writes)

    def write_calls(self, counts: Mapping[tuple[str, str], int]) -> int:
        return self.writer.calls(counts)

    def calls_left(self) -> tuple[int, int, int, int] | None:
        return self.session.usage.calls_left()

    def budget_name(self) -> str | None:
        return self.session.instance_url

    def expect_fields(self, paths_by_type: Mapping[str, Sequence[str]]) -> None:
        """Also read the parent-record fields the plan maps: Salesforce returns them only when
        a query names them."""
        for record_type, paths in paths_by_type.items():
            for path in paths:
                if "." not in path or not _PATH.fullmatch(path):
                    raise ConnectorError(
                        f"`{path}` is not a parent field path of `{record_type}`",
                        hint="write relationship and field separated by dots, like `Account.Name` or `Owner.Email`",
                    )
            known = self.extra_fields.setdefault(record_type, [])
            known += [path for path in paths if path not in known]

    # --- describing

    def _describe(self, object_type: str) -> dict[str, Any]:
        if object_type not in self._describes:
            if not _NAME.fullmatch(object_type):
                raise self._unknown_object(object_type)
            try:
                raw = self.session.call(
                    "describe", lambda sf: sf.restful(f"sobjects/{object_type}/describe", timeout=TIMEOUT)
                )
            except ApiFailure as e:
                if e.status == 404 or e.code in ("NOT_FOUND", "INVALID_TYPE"):
                    raise self._unknown_object(object_type) from None
                raise
            self._describes[object_type] = raw
        return self._describes[object_type]

    def _unknown_object(self, name: str) -> UnknownObjectError:
        if self._object_names is None:
            answer = self.session.call("describe_global", lambda sf: sf.restful("sobjects", timeout=TIMEOUT))
            self._object_names = [entry["name"] for entry in (answer or {}).get("sobjects", [])]
        by_lower = {n.lower(): n for n in self._object_names}
        hint = (
            f"did you mean `{by_lower[name.lower()]}`?"
            if name.lower() in by_lower
            else did_you_mean(name, self._object_names)
        )
        return UnknownObjectError(
            f"unknown Salesforce object `{name}`",
            hint=hint or "custom objects end in `__c`, e.g. `Invoice__c`; check the API name in Setup",
        )

    def _columns(self, object_type: str) -> list[str]:
        """Every queryable scalar field, then the parent fields the plan maps on this object."""
        raw = self._describe(object_type)
        columns = [f["name"] for f in raw["fields"] if f.get("type") not in UNQUERYABLE]
        extra = self.extra_fields.get(raw["name"], [])
        return list(dict.fromkeys([*columns, *extra]))

    def _filter_type(self, object_type: str, field_name: str) -> str | None:
        """The describe type of a field ``find`` searches; None for a parent path such as
        ``Account.Name`` (its values are then typed by their Python type)."""
        if not isinstance(field_name, str) or not _PATH.fullmatch(field_name):
            raise ConnectorError(f"`{field_name}` is not a Salesforce field name")
        if "." in field_name:
            return None
        entries = {f["name"].lower(): f for f in self._describe(object_type)["fields"]}
        entry = entries.get(field_name.lower())
        if entry is None:
            names = [f["name"] for f in self._describe(object_type)["fields"]]
            hint = did_you_mean(field_name, names) or f"{object_type} fields: {', '.join(names)}"
            raise ConnectorError(f"no field `{field_name}` on Salesforce object `{object_type}`", hint=hint)
        if entry.get("filterable") is False:
            raise ConnectorError(
                f"`{object_type}.{entry['name']}` cannot be searched in SOQL (it is not filterable)",
                hint="match on another field, such as an email, a phone or an external id",
            )
        return entry.get("type") or "string"

    # --- reading

    def check_where(self, object_type: str, where: str) -> None:
        """A consultant's condition is tried once on a one-row query, so a mistake is reported as a
        mistake in `where`, not as a failed read."""
        if (object_type, where) in self._checked_where:
            return
        if not soql.balanced(where):
            raise ConnectorError(
                f"the `where` of `{object_type}` has unbalanced parentheses or quotes: {where}",
                hint="a `where` is one SOQL condition; it is put in parentheses after the watermark condition",
            )
        text = f"SELECT Id FROM {object_type} WHERE ({where}) LIMIT 1"
        try:
            self.session.call("query", lambda sf: sf.query(text, timeout=TIMEOUT))
        except ApiFailure as e:
            if e.status != 400:
                raise
            raise ConnectorError(
                f"Salesforce rejected the `where` of `{object_type}`: {e.code}: {e.detail}",
                hint="`where` is a SOQL condition, e.g. `LeadSource = 'Web' AND Email != null`: field "
                "names as in describe, text in single quotes",
            ) from e
        self._checked_where.add((object_type, where))

    def _stream(self, info: ObjectInfo, text: str, start: datetime | None, where: str) -> Iterator[Record]:
        key = (info.name, where)
        window = Window(self.overlap)
        previous = self._tails.get(key)
        # Skipping what the last read delivered is safe only once the caller has moved its
        # watermark past that read; a caller retrying an older watermark gets everything again.
        if previous is not None and start is not None and previous.newest and start >= previous.newest:
            window = previous
        try:
            types = {entry["name"]: entry.get("type", "string") for entry in self._describe(info.name)["fields"]}
            bulk = BulkRead(self.bulk_read_threshold, types)
            for row in rows(self.session, text, include_deleted=True, what=f"reading `{info.name}`", bulk=bulk):
                record = as_record(info, row)
                if not window.is_repeat(record.id, record.modified):
                    yield record
        finally:
            self._tails[key] = window

    def _select_in(self, info: ObjectInfo, field_name: str, literals: Iterator[str]) -> list[Record]:
        """Live records whose field is in the literals, as few queries as the URL length allows."""
        head = f"SELECT {', '.join(self._columns(info.name))} FROM {info.name} WHERE {field_name} IN ("
        found: dict[str, Record] = {}
        for text in in_queries(head, ")", unique(literals)):
            for row in rows(self.session, text, include_deleted=False, what=f"searching `{info.name}`"):
                record = as_record(info, row)
                found[record.id] = record
        return sorted(found.values(), key=lambda r: (r.modified or "", r.id))


def _field_info(entry: Mapping[str, Any]) -> FieldInfo:
    return FieldInfo(
        entry["name"],
        TYPES.get(entry.get("type", "string"), "string"),
        createable=bool(entry.get("createable", True)),
        updateable=bool(entry.get("updateable", True)),
        nillable=bool(entry.get("nillable", True)),
        reference_to=tuple(entry.get("referenceTo") or ()),
        defaulted=bool(entry.get("defaultedOnCreate", False)),
    )

"""The Salesforce connector: an org's records through the REST API, spoken by simple-salesforce.

Reads are one SOQL queryAll per read, ordered by (SystemModstamp, Id) and paged with queryMore,
so deleted records arrive as tombstones (``IsDeleted``) and a watermark never skips a change. The
read starts ``overlap_seconds`` before the watermark: SystemModstamp is stamped when a transaction
starts, so a slow transaction can become visible after a later one was already read. Rows that a
previous read of this connector delivered with the same stamp are not delivered twice. With
``skip_own_changes``, a read leaves out the records whose last change was syncmap's own write
(made by ``username`` within one of the times the engine says it wrote), so writes never come
back as changes and cost no queryMore pages.

Writes go through sObject Collections in chunks of up to 200 records, or through one Bulk API 2.0
ingest job when one operation has more writes than ``bulk_threshold``. Every HTTP request is
counted in ``calls`` by endpoint kind (``query``, ``query_more``, ``describe``, ``collections``,
``bulk``...), retries included, and requests refused because the org is busy are retried with
exponential backoff and jitter.

This connector must never: put a value into SOQL unescaped (``soql.py`` writes every literal),
replay a create that Salesforce may already have written, let a requests or simple-salesforce
exception reach the caller, or show a secret (session id, password, security token, client
secret) in its repr, an error, an exception chain or a log line.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import random
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote_plus, urlparse

import requests
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.api import DEFAULT_API_VERSION
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError
from simple_salesforce.util import exception_handler
from urllib3.exceptions import NewConnectionError

from engine.connectors import (
    BaseConnector,
    FieldInfo,
    ObjectInfo,
    Record,
    Write,
    WriteResult,
    not_json,
    soql,
    typed_settings,
)
from engine.connectors.local import resolve_path, unique
from engine.connectors.org_usage import OrgUsage, write_calls
from engine.connectors.settings import SalesforceSettings
from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError, SettingError, UnknownObjectError
from engine.redact import redact, register, shorten
from engine.times import canonical_time, format_time, parse_time

log = logging.getLogger(__name__)
T = TypeVar("T")

SECRETS = ("session_id", "password", "security_token", "client_secret")
MAX_BATCH = 200  # records per sObject Collections call, Salesforce's limit
MAX_QUERY_LENGTH = 16_000  # URL-encoded SOQL per query; REST URIs must stay under 16,384 bytes
TIMEOUT = (10, 300)  # seconds to connect, and to wait for an answer
MAX_BACKOFF_SECONDS = 60.0
BULK_POLL_SECONDS = (0.5, 10.0)  # first and longest wait between Bulk job status checks
BULK_TIMEOUT_SECONDS = 3600
UNQUERYABLE = frozenset({"address", "location", "base64", "complexvalue"})  # compound or blob fields
TYPES = {"id": "id", "reference": "reference", "boolean": "boolean", "date": "date", "datetime": "datetime"}
TYPES |= {name: "number" for name in soql.NUMBER_TYPES} | {
    "picklist": "picklist",
    "multipicklist": "picklist",
    "phone": "phone",
}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")


# --- settings -------------------------------------------------------------------------------------


def _auth_kind(settings: Mapping[str, Any]) -> str:
    """Which of the three ways to sign in the settings give, or a ConnectorError naming what is missing."""
    given = {name for name, value in settings.items() if value not in (None, "")}
    kinds = {
        "session": ("session_id", ("instance_url",)),
        "password": ("username", ("password",)),
        "client credentials": ("client_id", ("client_secret",)),
    }
    for kind, (trigger, needed) in kinds.items():
        if trigger in given:
            missing = [name for name in needed if name not in given]
            if kind == "client credentials" and not given & {"domain", "instance_url"}:
                missing.append("domain")
            if missing:
                raise ConnectorError(
                    f"salesforce setting `{trigger}` needs `{missing[0]}` too",
                    hint=f"add `{missing[0]}: ...` to the connection settings",
                )
            return kind
    raise ConnectorError(
        "the salesforce connector needs credentials",
        hint="give `instance_url` + `session_id`, or `username` + `password` + `security_token`, "
        "or `client_id` + `client_secret` + `domain`, e.g. `session_id: ${SF_SESSION_ID}`",
    )


def _ca_bundle(settings: Mapping[str, Any], base_dir: Path | None) -> str | bool:
    """The CA bundle `ca_file` names, checked now: requests reports a missing one only at the
    first call, as an OSError."""
    if not settings.get("ca_file"):
        return True
    path = resolve_path(base_dir, settings["ca_file"])
    if not path.is_file():
        raise SettingError(
            "ca_file", f"the CA bundle {path} does not exist",
            hint="`syncmap sandbox --ca-file FILE` writes it; point `ca_file` at that file, or leave it out for a real org",
        )  # fmt: skip
    return str(path)


def _own_username(settings: SalesforceSettings) -> str | None:
    """The username whose changes within syncmap's own writes are skipped, when asked to."""
    if settings.skip_own_changes and not settings.username:
        raise SettingError(
            "skip_own_changes",
            "salesforce setting `skip_own_changes` needs `username`: the user syncmap's writes are made as",
            hint="add `username: syncmap@acme.com`; with a session id or client credentials it only "
            "names whose changes to skip",
        )
    return settings.username if settings.skip_own_changes else None


# --- errors -----------------------------------------------------------------------------------------


class ApiFailure(ConnectorError):
    """Salesforce (or the way to it) refused a request; ``code`` is Salesforce's errorCode."""

    def __init__(self, message: str, hint: str | None, status: int | None, code: str, detail: str):
        super().__init__(message, hint)
        self.status, self.code, self.detail = status, code, detail


class OutcomeUnknown(ConnectorError):
    """A write failed in a way that does not tell whether Salesforce applied it."""


class GaveUp(ConnectorError):
    """Salesforce kept refusing a request for every retry."""


@dataclass(frozen=True)
class Failure:
    """One failed request, and what may be done about it."""

    status: int | None
    code: str
    detail: str
    transient: bool  # worth retrying
    unprocessed: bool  # Salesforce refused it before doing anything, so a replay cannot duplicate
    expired: bool = False

    def __str__(self) -> str:
        return f"{self.status or ''} {self.code}: {self.detail}".strip()

    @classmethod
    def of_answer(cls, error: SalesforceError) -> Failure:
        content = error.content
        first = content[0] if isinstance(content, list) and content else content
        if isinstance(first, dict):
            code = str(first.get("errorCode") or first.get("error") or "ERROR")
            detail = shorten(str(first.get("message") or first.get("error_description") or ""))
        else:
            text = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
            code, detail = "ERROR", shorten(text)
        limited = error.status == 403 and code == "REQUEST_LIMIT_EXCEEDED"
        # REQUEST_LIMIT_EXCEEDED and SERVER_UNAVAILABLE (503) are answered before Salesforce runs
        # the request; a 500/502/504 may come after it ran, so only idempotent requests replay it.
        transient = limited or error.status in (500, 502, 503, 504)
        unprocessed = limited or error.status == 503
        return cls(error.status, code, detail, transient, unprocessed, expired=error.status == 401)

    @classmethod
    def of_transport(cls, error: requests.RequestException) -> Failure:
        reason = getattr(error.args[0], "reason", None) if error.args else None
        unconnected = isinstance(error, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)
        lasting = (
            requests.exceptions.SSLError
            | requests.exceptions.InvalidURL
            | requests.exceptions.InvalidJSONError
        )
        transient = not isinstance(error, lasting)
        detail = shorten(str(error))
        return cls(None, type(error).__name__, detail, transient, unprocessed=unconnected)


# --- the connector ---------------------------------------------------------------------------------


class SalesforceConnector(BaseConnector):
    """A Salesforce org through the REST API (see the module docstring)."""

    default_id_field = "Id"
    default_modified_field = "SystemModstamp"

    def __init__(self, settings: Mapping[str, Any], base_dir: Path | None = None):
        typed = typed_settings("salesforce", SalesforceSettings, settings)
        self.auth = _auth_kind(settings)
        self._secrets = {name: str(settings[name]) for name in SECRETS if settings.get(name)}
        for secret in self._secrets.values():
            register(secret)
        self._settings = {k: v for k, v in settings.items() if k not in SECRETS}
        self.instance_url = str(settings.get("instance_url") or "").rstrip("/") or None
        self.api_version = str(typed.api_version or DEFAULT_API_VERSION).removeprefix("v")
        self.bulk_threshold, self.batch_size = typed.bulk_threshold, typed.batch_size
        self.usage = OrgUsage(typed.api_reserve)
        self.max_retries, self.retry_delay = typed.max_retries, typed.retry_delay_seconds
        self.overlap = timedelta(seconds=typed.overlap_seconds)
        self.reread_seconds = typed.overlap_seconds  # a read delivers this much before `since` again
        self.extra_fields: dict[str, list[str]] = {}  # object -> parent paths the plan maps
        self.own_username = _own_username(typed)
        self.calls: Counter[str] = Counter()
        self.session = requests.Session()
        self.session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides `verify`, and proxies leak in
        self.session.verify = _ca_bundle(settings, base_dir)
        self._sf: Salesforce | None = None
        self._random = random.Random()
        self._describes: dict[str, dict[str, Any]] = {}
        self._infos: dict[str, ObjectInfo] = {}
        self._object_names: list[str] | None = None
        self._checked_where: set[tuple[str, str]] = set()
        self._tails: dict[tuple[str, str], Window] = {}

    def __repr__(self) -> str:
        where = self.instance_url or f"{self._settings.get('domain', 'login')}.salesforce.com"
        return f"SalesforceConnector({{'instance_url': {where!r}, 'auth': {self.auth!r}}})"

    def close(self) -> None:
        self.session.close()

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
        own_writes: Sequence[tuple[str, str]] = (),
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
        if self.own_username and own_writes and info.modified_field:
            conditions += self._not_own_writes(info.modified_field, own_writes, floor)
        text = f"SELECT {', '.join(self._columns(object_type))} FROM {info.name}"
        text += f" WHERE {' AND '.join(conditions)}" if conditions else ""
        text += f" ORDER BY {info.modified_field}, Id" if info.modified_field else " ORDER BY Id"
        return self._stream(info, text, start, where or "")

    def _not_own_writes(
        self, stamp: str, own_writes: Sequence[tuple[str, str]], floor: datetime | None
    ) -> list[str]:
        """The condition leaving out records last changed by our user within one of the write
        windows (those ending after the read's floor); the bounds are as precise as SOQL's."""
        outside = [  # Salesforce keeps whole seconds: a write's stamp may precede its window's start
            f"{stamp} < {soql.datetime_literal(parse_time(started).replace(microsecond=0))} OR "
            f"{stamp} > {soql.datetime_literal(parse_time(ended))}"
            for started, ended in own_writes
            if floor is None or parse_time(ended) >= floor
        ]
        if not outside:
            return []
        user = f"LastModifiedBy.Username != {soql.quote(self.own_username)}"
        windows = " AND ".join(f"({window})" for window in outside)  # SOQL wants AND inside OR bracketed
        return [f"({user} OR {windows if len(outside) == 1 else f'({windows})'})"]

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
        """One result per write, in order. Each operation's writes go in Collections of up to
        ``batch_size``, or in one Bulk API 2.0 job when there are more than ``bulk_threshold``."""
        if not writes:
            return []
        info = self.describe(object_type)
        results: list[WriteResult | None] = [None] * len(writes)
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, write in enumerate(writes):
            payload = self._payload(info, write)
            if isinstance(payload, str):
                results[index] = WriteResult(write.ref, ok=False, id=write.id, error=payload)
            elif write.op == "update" and len(payload) == 1:  # only the Id: nothing to change
                results[index] = WriteResult(write.ref, ok=True, id=write.id)
            else:
                groups.setdefault(write.op, []).append((index, payload))
        for op, items in groups.items():
            if len(items) > self.bulk_threshold:
                answers = self._bulk(info.name, op, [payload for _, payload in items])
            else:
                answers = self._collections(info.name, op, [payload for _, payload in items])
            for (index, _), (ok, record_id, error) in zip(items, answers, strict=True):
                write = writes[index]
                results[index] = WriteResult(write.ref, ok, record_id or write.id, None if ok else error)
        return [result for result in results if result is not None]

    def write_calls(self, counts: Mapping[tuple[str, str], int]) -> int:
        return write_calls(counts, self.bulk_threshold, self.batch_size)

    def calls_left(self) -> tuple[int, int, int, int] | None:
        return self.usage.calls_left()

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
                raw = self._call(
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
            answer = self._call("describe_global", lambda sf: sf.restful("sobjects", timeout=TIMEOUT))
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
            self._call("query", lambda sf: sf.query(text, timeout=TIMEOUT))
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
            for row in self._rows(text, include_deleted=True, what=f"reading `{info.name}`"):
                record = _record(info, row)
                if not window.is_repeat(record.id, record.modified):
                    yield record
        finally:
            self._tails[key] = window

    def _select_in(self, info: ObjectInfo, field_name: str, literals: Iterator[str]) -> list[Record]:
        """Live records whose field is in the literals, as few queries as the URL length allows."""
        head = f"SELECT {', '.join(self._columns(info.name))} FROM {info.name} WHERE {field_name} IN ("
        found: dict[str, Record] = {}
        for text in _in_queries(head, ")", unique(literals)):
            for row in self._rows(text, include_deleted=False, what=f"searching `{info.name}`"):
                record = _record(info, row)
                found[record.id] = record
        return sorted(found.values(), key=lambda r: (r.modified or "", r.id))

    def _rows(self, text: str, include_deleted: bool, what: str) -> Iterator[dict[str, Any]]:
        """The rows of one query, a page at a time (queryMore follows nextRecordsUrl)."""
        try:
            page = self._call(
                "query", lambda sf: sf.query(text, include_deleted=include_deleted, timeout=TIMEOUT)
            )
            while True:
                yield from page.get("records", [])
                if page.get("done", True) or not page.get("nextRecordsUrl"):
                    return
                url = page["nextRecordsUrl"]
                page = self._call(
                    "query_more",
                    lambda sf, url=url: sf.query_more(url, identifier_is_url=True, timeout=TIMEOUT),
                )
        except ApiFailure as e:
            if e.status != 400:
                raise
            hint = "check the parent fields the mapping names (`Account.Name`) and `where` against the object's describe"
            if e.code == "INVALID_QUERY_LOCATOR":
                hint = "the query's cursor expired before all its pages were read; read again"
            raise ConnectorError(f"Salesforce rejected the query {what}: {e.code}: {e.detail}", hint) from e

    # --- writing

    def _payload(self, info: ObjectInfo, write: Write) -> dict[str, Any] | str:
        """The JSON record to send for a write, or why this write cannot be sent."""
        if write.op not in ("create", "update", "delete"):
            return f"unknown write operation `{write.op}`"
        if write.op != "create" and not soql.is_record_id(str(write.id or "")):
            return f"an {write.op} of `{info.name}` needs a Salesforce record id, not `{write.id}`"
        if write.op == "delete":
            return {"Id": str(write.id)}
        raw = self._describe(info.name)["fields"]
        relationships = {f["relationshipName"] for f in raw if f.get("relationshipName")}
        payload: dict[str, Any] = {"Id": str(write.id)} if write.op == "update" else {}
        for name, value in write.values.items():
            if name == "attributes" or isinstance(value, dict) or (value is None and name in relationships):
                continue  # parent records as read (`Account: {Name: ...}`), never written through a child
            if name == "Id":
                if write.op == "update" and str(value)[:15] != str(write.id)[:15]:
                    return f"`{info.name}` {write.id}: the Id field cannot change (to `{value}`)"
                continue
            problem = _writable(info, name, write.op)
            if problem:
                return problem
            try:
                payload[name] = _typed(info.fields[name], value)
            except (TypeError, ValueError) as e:
                return f"`{info.name}.{name}`: {e}"
        return not_json(payload) or payload

    def _collections(
        self, sobject: str, op: str, payloads: list[dict[str, Any]]
    ) -> list[tuple[bool, Any, Any]]:
        """sObject Collections calls of up to ``batch_size`` records, allOrNone off. A call that
        fails as a whole fails its own records; after retries ran out or the session was refused,
        the rest are not attempted (they would only meet the same refusal)."""
        answers: list[tuple[bool, Any, Any]] = []
        stop: str | None = None
        for start in range(0, len(payloads), self.batch_size):
            chunk = payloads[start : start + self.batch_size]
            if stop is not None:
                answers += [(False, None, f"not sent: {stop}")] * len(chunk)
                continue
            try:
                answers += self._collection_call(sobject, op, chunk)
            except ConnectorError as e:
                answers += [(False, None, e.message)] * len(chunk)
                if isinstance(e, GaveUp) or (isinstance(e, ApiFailure) and e.status in (401, 403)):
                    stop = f"an earlier call for {sobject} failed: {e.message}"
        return answers

    def _collection_call(
        self, sobject: str, op: str, chunk: list[dict[str, Any]]
    ) -> list[tuple[bool, Any, Any]]:
        if op == "delete":
            params = {"ids": ",".join(p["Id"] for p in chunk), "allOrNone": "false"}
            send: Callable[[Salesforce], Any] = lambda sf: sf.restful(  # noqa: E731
                "composite/sobjects", params=params, method="DELETE", timeout=TIMEOUT
            )
        else:
            records = [{"attributes": {"type": sobject}, **payload} for payload in chunk]
            body = {"allOrNone": False, "records": records}
            method = "POST" if op == "create" else "PATCH"
            send = lambda sf: sf.restful("composite/sobjects", method=method, json=body, timeout=TIMEOUT)  # noqa: E731
        # an update or delete replayed gives the same end state; a create replayed could duplicate
        answer = self._call("collections", send, replay_safe=op != "create") or []
        if len(answer) != len(chunk):
            raise ConnectorError(f"Salesforce answered {len(answer)} results for {len(chunk)} records")
        return [_collection_result(op, result) for result in answer]

    def _bulk(self, sobject: str, op: str, payloads: list[dict[str, Any]]) -> list[tuple[bool, Any, Any]]:
        """One Bulk API 2.0 ingest job; results are matched back to the writes by their CSV row."""
        operation = {"create": "insert", "update": "update", "delete": "delete"}[op]
        header = list(dict.fromkeys(name for payload in payloads for name in payload))
        rows = [
            [_csv_cell(payload[name]) if name in payload else "" for name in header] for payload in payloads
        ]
        try:
            return BulkJob(self, sobject, operation, header).run(rows)
        except ConnectorError as e:
            return [(False, None, e.message)] * len(payloads)

    # --- HTTP: every request counted, refused ones retried, failures turned into ConnectorError

    def _call(self, kind: str, send: Callable[[Salesforce], T], replay_safe: bool = True) -> T:
        attempt, signed_in_again = 0, False
        while True:
            sf = self._client()
            self.calls[kind] += 1
            try:
                answer = send(sf)
                self.usage.note(sf)
                return answer
            except SalesforceError as e:
                failure = Failure.of_answer(e)
            except requests.RequestException as e:
                failure = Failure.of_transport(e)
            except ValueError as e:  # an answer that is not JSON
                failure = Failure(None, "INVALID_ANSWER", shorten(str(e)), transient=False, unprocessed=False)
            if failure.expired and self.auth != "session" and not signed_in_again:
                self._sf, signed_in_again = None, True
                continue
            if not failure.transient:
                raise self._failure_error(kind, failure)
            if not (failure.unprocessed or replay_safe):
                raise OutcomeUnknown(
                    redact(
                        f"outcome unknown: Salesforce answered {failure} while creating; not sent again "
                        "so that no duplicate is made (if it was created, the next run finds it by its keys)"
                    )
                )
            attempt += 1
            if attempt > self.max_retries:
                unreached = failure.status is None and failure.unprocessed  # no connection was made
                raise GaveUp(
                    redact(f"Salesforce {kind} still failing after {attempt} attempts: {failure}"),
                    hint=f"nothing answers at {self.instance_url or 'the login domain'}: check `instance_url` "
                    "and that the org (or `syncmap sandbox`) is up"
                    if unreached
                    else "the org is busy or over its API limits; try again later, or raise `max_retries`",
                )
            delay = min(MAX_BACKOFF_SECONDS, self.retry_delay * 2 ** (attempt - 1))
            delay = delay / 2 + self._random.uniform(0, delay / 2)
            log.info(redact(f"{kind}: {failure}; retry {attempt}/{self.max_retries} in {delay:.2f} s"))
            time.sleep(delay)

    def _failure_error(self, kind: str, failure: Failure) -> ApiFailure:
        hint = None
        if failure.expired:
            hint = "the session id is expired or invalid (its value is not shown); get a new one"
        elif failure.code == "SSLError":
            hint = (
                "set `ca_file` to the CA bundle that signed the server's certificate (the sandbox prints it)"
            )
        elif failure.status is None:
            hint = "check `instance_url` and the network"
        where = f" at {self._sf.base_url}" if failure.status is None and self._sf else ""
        message = redact(f"Salesforce {kind} failed{where}: {failure}")
        return ApiFailure(message, hint, failure.status, failure.code, redact(failure.detail))

    def _client(self) -> Salesforce:
        if self._sf is None:
            if self.auth == "session":
                token, instance = self._secrets["session_id"], urlparse(self.instance_url).netloc
            else:
                token, instance = self._login()
            self._sf = Salesforce(
                instance=instance, session_id=token, session=self.session, version=self.api_version,
                object_pairs_hook=dict,
            )  # fmt: skip
        return self._sf

    def _login(self) -> tuple[str, str]:
        """A session from a password or from client credentials, through simple-salesforce."""
        domain = self._settings.get("domain") or "login"
        if self.auth == "client credentials" and self.instance_url and not self._settings.get("domain"):
            host = urlparse(self.instance_url).hostname or ""
            domain = host.removesuffix(".salesforce.com")
            if domain == host:
                raise ConnectorError(
                    "client credentials need the org's My Domain",
                    hint="set `domain` to the part before .salesforce.com, e.g. `acme.my`",
                )
        self.calls["login"] += 1
        try:
            if self.auth == "password":
                return SalesforceLogin(
                    username=self._settings["username"], password=self._secrets["password"],
                    security_token=self._secrets.get("security_token"), domain=domain,
                    sf_version=self.api_version, session=self.session, scratch_url=self.instance_url,
                )  # fmt: skip
            return SalesforceLogin(
                consumer_key=self._settings["client_id"], consumer_secret=self._secrets["client_secret"],
                domain=domain, session=self.session,
            )  # fmt: skip
        except SalesforceAuthenticationFailed as e:
            detail = f"{e.code}: {e.auth_message}"
        except Exception as e:  # a login must fail as a ConnectorError, never with a secret in a chain
            detail = f"{type(e).__name__}: {e}"
        # `from None`: the login request carried the secrets, so no exception from it is chained
        raise ConnectorError(
            shorten(f"Salesforce login ({self.auth}) failed: {detail}", 500),
            hint="check the credential settings (their values are not shown) and `domain`/`instance_url`",
        ) from None


# --- Bulk API 2.0 ---------------------------------------------------------------------------------


class BulkJob:
    """One ingest job: create, upload the CSV, close, wait, read both result files. Every request is
    counted as ``bulk``. Nothing is written before the job is closed, so an upload that fails in
    doubt is abandoned (the job aborted) rather than repeated."""

    def __init__(self, connector: SalesforceConnector, sobject: str, operation: str, header: list[str]):
        self.connector, self.sobject, self.operation, self.header = connector, sobject, operation, header
        self.id = ""

    def run(self, rows: list[list[str]]) -> list[tuple[bool, Any, Any]]:
        spec = {"object": self.sobject, "operation": self.operation, "contentType": "CSV", "lineEnding": "LF"}
        # a replayed job creation leaves an empty open job behind, which Salesforce expires
        job = self._json("POST", "jobs/ingest", json=spec)
        self.id = job["id"]
        try:
            self._send(
                "PUT", f"jobs/ingest/{self.id}/batches", _csv_text(self.header, rows), replay_safe=False
            )
        except OutcomeUnknown as e:
            self._abort()
            raise ConnectorError(
                f"the upload to Bulk API job {self.id} failed; the job was aborted, nothing written"
            ) from e
        try:
            self._json("PATCH", f"jobs/ingest/{self.id}", json={"state": "UploadComplete"})
        except ApiFailure as e:  # a replayed close after the first one went through
            if e.code != "INVALIDJOBSTATE":
                raise
        state = self._wait()
        if state["state"] != "JobComplete":
            reason = state.get("errorMessage") or state["state"]
            raise ConnectorError(f"Bulk API job {self.id} on {self.sobject} ended {state['state']}: {reason}")
        return self._results(rows)

    def _wait(self) -> dict[str, Any]:
        delay, deadline = BULK_POLL_SECONDS[0], time.monotonic() + BULK_TIMEOUT_SECONDS
        while True:
            state = self._json("GET", f"jobs/ingest/{self.id}")
            if state.get("state") in ("JobComplete", "Failed", "Aborted") or time.monotonic() > deadline:
                return state
            time.sleep(delay)
            delay = min(BULK_POLL_SECONDS[1], delay * 2)

    def _results(self, rows: list[list[str]]) -> list[tuple[bool, Any, Any]]:
        """Result rows matched back to the writes: by all their cells (identical rows are
        interchangeable), then, for updates and deletes, by record id. A write with no result
        row fails as not processed."""
        waiting: dict[tuple[str, ...], deque[int]] = {}
        for index, row in enumerate(rows):
            waiting.setdefault(tuple(row), deque()).append(index)
        answers: list[tuple[bool, Any, Any] | None] = [None] * len(rows)
        unmatched: list[tuple[str, dict[str, str]]] = []
        for kind in ("successfulResults", "failedResults"):
            for result in csv.DictReader(io.StringIO(self._send("GET", f"jobs/ingest/{self.id}/{kind}"))):
                queue = waiting.get(tuple(result.get(name) or "" for name in self.header))
                if queue:
                    answers[queue.popleft()] = _bulk_answer(kind, result)
                else:
                    unmatched.append((kind, result))
        if unmatched and "Id" in self.header:
            column = self.header.index("Id")
            by_id = {rows[i][column][:15]: i for i, answer in enumerate(answers) if answer is None}
            for kind, result in unmatched:
                index = by_id.pop((result.get("Id") or result.get("sf__Id") or "")[:15], None)
                if index is not None:
                    answers[index] = _bulk_answer(kind, result)
        missing = (False, None, f"not processed by Bulk API job {self.id}")
        return [answer or missing for answer in answers]

    def _abort(self) -> None:
        try:
            self._json("PATCH", f"jobs/ingest/{self.id}", json={"state": "Aborted"})
        except ConnectorError as e:
            log.warning("could not abort Bulk API job %s: %s", self.id, e.message)

    def _json(self, method: str, path: str, json: Any = None) -> Any:
        return self.connector._call(
            "bulk", lambda sf: sf.restful(path, method=method, json=json, timeout=TIMEOUT) or {}
        )

    def _send(self, method: str, path: str, text: str | None = None, replay_safe: bool = True) -> str:
        """A CSV request or answer, which simple-salesforce's JSON helpers do not handle."""

        def send(sf: Salesforce) -> str:
            headers = {**sf.headers, "Content-Type": "text/csv", "Accept": "text/csv"}
            data = text.encode("utf-8") if text is not None else None
            answer = sf.session.request(
                method, sf.base_url + path, headers=headers, data=data, timeout=TIMEOUT
            )
            if limit_info := answer.headers.get("Sforce-Limit-Info"):
                sf.api_usage = Salesforce.parse_api_usage(limit_info)
            if answer.status_code >= 300:
                exception_handler(answer, path)
            return answer.content.decode("utf-8")

        return self.connector._call("bulk", send, replay_safe=replay_safe)


# --- values -----------------------------------------------------------------------------------------


class Window:
    """The (id, stamp) pairs a read delivered within the overlap before its newest stamp, so
    the overlap of the next read does not deliver them again."""

    def __init__(self, overlap: timedelta):
        self.overlap = overlap
        self.stamps: dict[str, datetime] = {}
        self.order: deque[tuple[datetime, str]] = deque()
        self.newest: datetime | None = None

    def is_repeat(self, record_id: str, modified: str | None) -> bool:
        if modified is None:
            return False
        stamp = parse_time(modified)
        seen = self.stamps.get(record_id)
        if seen is not None and seen >= stamp:
            return True
        self.stamps[record_id] = stamp
        self.order.append((stamp, record_id))
        self.newest = stamp if self.newest is None else max(self.newest, stamp)
        while self.order and self.order[0][0] < self.newest - self.overlap:
            old, old_id = self.order.popleft()
            if self.stamps.get(old_id) == old:
                del self.stamps[old_id]
        return False


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


def _plain(value: Any) -> Any:
    """A row as Salesforce sent it, without the ``attributes`` of it or its parent records."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "attributes"}
    return value


def _record(info: ObjectInfo, row: dict[str, Any]) -> Record:
    values = _plain(row)
    stamp = values.get(info.modified_field) if info.modified_field else None
    modified = format_time(parse_time(stamp)) if stamp else None
    return Record(info.name, values["Id"], values, modified=modified, deleted=bool(values.get("IsDeleted")))


def _in_queries(head: str, tail: str, literals: list[str]) -> Iterator[str]:
    """``head + literals + tail`` split into queries whose URL-encoded text stays under
    MAX_QUERY_LENGTH (at least one literal each)."""
    budget = MAX_QUERY_LENGTH - len(quote_plus(head)) - len(quote_plus(tail))
    comma = len(quote_plus(","))
    chunk: list[str] = []
    used = 0
    for lit in literals:
        cost = len(quote_plus(lit)) + (comma if chunk else 0)
        if chunk and used + cost > budget:
            yield head + ",".join(chunk) + tail
            chunk, used, cost = [], 0, cost - comma
        chunk.append(lit)
        used += cost
    if chunk:
        yield head + ",".join(chunk) + tail


def _writable(info: ObjectInfo, name: str, op: str) -> str | None:
    """Why a field cannot be written by this operation, or None."""
    field = info.fields.get(name)
    if field is None:
        hint = did_you_mean(name, list(info.fields))
        return f"no field `{name}` on `{info.name}`" + (f" ({hint})" if hint else "")
    if op == "create" and not field.createable:
        return f"`{info.name}.{name}` cannot be set on create: Salesforce marks it read-only"
    if op == "update" and not field.updateable:
        return f"`{info.name}.{name}` cannot be changed by an update: Salesforce marks it not updateable"
    return None


def _typed(field: FieldInfo, value: Any) -> Any:
    """A value as JSON for its field. A value Salesforce could not read as the field's type is
    refused here: in a Collections call it would fail the whole call, not just its record."""
    if value is None or value == "" or field.type in ("string", "picklist", "phone"):
        return _json_value(value)
    literal = {
        "number": soql.number_literal,
        "boolean": soql.boolean_literal,
        "date": soql.date_literal,
        "datetime": soql.moment_literal,
    }.get(field.type, lambda v: v if soql.is_record_id(v) else None)(value)
    if literal is None:
        raise ValueError(f"`{value}` is not a {field.type} value")
    if field.type == "number":
        return int(literal) if literal.lstrip("-").isdigit() else float(literal)
    return literal == "true" if field.type == "boolean" else literal


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise TypeError(f"{value} is not a number Salesforce can store")
        return float(value)
    if isinstance(value, datetime):
        return soql.datetime_literal(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"a {type(value).__name__} value cannot be sent to Salesforce")


def _csv_cell(value: Any) -> str:
    """A value as a Bulk API CSV cell: ``#N/A`` empties a field, an empty cell leaves it alone."""
    if value is None or value == "":
        return "#N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _collection_result(op: str, result: Mapping[str, Any]) -> tuple[bool, Any, Any]:
    errors = result.get("errors") or []
    if result.get("success"):
        return True, result.get("id"), None
    if op == "delete" and errors and all(e.get("statusCode") == "ENTITY_IS_DELETED" for e in errors):
        return True, result.get("id"), None  # already in the recycle bin: the wanted end state
    text = "; ".join(f"{e.get('statusCode', 'ERROR')}: {e.get('message', '')}" for e in errors)
    return False, result.get("id"), text or "failed without an error message"


def _bulk_answer(kind: str, result: Mapping[str, str]) -> tuple[bool, Any, Any]:
    if kind == "successfulResults":
        return True, result.get("sf__Id") or None, None
    return False, result.get("sf__Id") or None, _bulk_error(result.get("sf__Error") or "")


_BULK_ERROR = re.compile(r"(?P<code>[A-Z_]+):(?P<message>.*?)(?::(?P<fields>[\w,]*))?\s*--\s*$", re.S)


def _bulk_error(text: str) -> str:
    """``REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --`` in the
    shape collections errors have: ``REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]``."""
    match = _BULK_ERROR.fullmatch(text.strip())
    if not match:
        return text.strip() or "failed without an error message"
    return f"{match['code']}: {match['message'].strip()}"

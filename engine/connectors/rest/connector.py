"""The rest connector itself (see the package's docstring)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jmespath

from engine.connectors import (
    BaseConnector,
    Declared,
    FieldInfo,
    ObjectInfo,
    Record,
    Write,
    WriteResult,
    keep_declaration,
    not_json,
    typed_settings,
)
from engine.connectors.local import infer_fields, lookup, refuse_where, resolve_path
from engine.connectors.rest.http import Answer, CredentialsRefused, Http, Unanswered, excerpt
from engine.connectors.rest.pages import pages
from engine.connectors.rest.settings import BatchCall, ObjectSettings, RestSettings, Since, WriteCall
from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError, SettingError, UnknownObjectError
from engine.records import batched
from engine.redact import shorten
from engine.times import canonical_time, parse_time

EPOCH_MS_FROM = 100_000_000_000  # a number this large is milliseconds since 1970, not seconds


class RestConnector(BaseConnector):
    opens_read_only = True
    takes_declarations = True

    def __init__(self, settings: Mapping[str, Any], base_dir: Path | None = None, read_only: bool = False):
        self.settings = typed_settings("rest", RestSettings, settings)
        self.read_only = read_only
        self.calls: Counter[str] = Counter()
        self.declared: dict[str, Declared] = {}
        self.http = Http(self.settings, _verify(self.settings, base_dir))

    def close(self) -> None:
        self.http.close()

    # -- what each record type is ---------------------------------------------------------------

    def declare(self, object_type: str, declared: Declared) -> None:
        hint = "describe the endpoint under the connection's `objects` and name it as `object:`"
        keep_declaration(self.declared, "rest", object_type, declared, hint)

    def _object(self, object_type: str) -> ObjectSettings:
        spec = self.settings.objects.get(object_type)
        if spec is None:
            known = sorted(self.settings.objects)
            hint = did_you_mean(object_type, known) or f"the objects of this connection: {', '.join(known)}"
            raise UnknownObjectError(f"the API has no object `{object_type}` in its settings", hint=hint)
        return spec

    def _fields(self, object_type: str) -> tuple[str, str | None, str | None]:
        """The id, modified and soft-delete fields: the side's declaration over the settings."""
        spec, declared = self._object(object_type), self.declared.get(object_type, Declared())
        modified = declared.modified_field or spec.modified_field
        return declared.id_field or spec.id_field, modified, declared.deleted_field

    def describe(self, object_type: str) -> ObjectInfo:
        self.calls["describe"] += 1
        spec = self._object(object_type)
        id_field, modified, deleted = self._fields(object_type)
        if spec.fields:
            fields = {name: FieldInfo(name, kind) for name, kind in spec.fields.items()}
        else:
            sample = next(pages(self.http, object_type, spec.list, dict(spec.list.params), id_field), [])
            fields = infer_fields(sample, id_field, modified or "updated_at")
        # the API gives a new record its id: syncmap never plans one
        fields[id_field] = FieldInfo(id_field, "id", createable=False, updateable=False, nillable=False)
        if deleted:
            fields[deleted] = FieldInfo(deleted, "datetime")
        return ObjectInfo(
            object_type, fields, id_field=id_field, modified_field=modified, createable=spec.create is not None,
            updateable=spec.update is not None, deletable=spec.delete is not None or deleted is not None,
        )  # fmt: skip

    # -- reading --------------------------------------------------------------------------------

    def read(
        self,
        object_type: str,
        since: str | None = None,
        where: str | None = None,
        own_writes: Sequence[tuple[str, ...]] = (),
    ) -> Iterator[Record]:
        refuse_where("rest", object_type, where)
        self.calls["read"] += 1
        spec = self._object(object_type)
        params: dict[str, Any] = dict(spec.list.params)
        if since is not None and spec.list.since is not None:
            params[spec.list.since.param] = since_value(since, spec.list.since)
        for page in self._pages(object_type, params):
            for values in page:
                record = _record(object_type, values, self._fields(object_type))
                if since is None or record.modified is None or record.modified >= since:
                    yield record

    def get(self, object_type: str, ids: Sequence[str]) -> dict[str, Record]:
        self.calls["get"] += 1
        spec = self._object(object_type)
        wanted = list(dict.fromkeys(str(i) for i in ids))
        if spec.get is None:  # no endpoint for one record: list them and keep the ones asked for
            found = (r for page in self._pages(object_type, dict(spec.list.params)) for r in page)
            records, asked = [_record(object_type, values, self._fields(object_type)) for values in found], set(wanted)
            return {r.id: r for r in records if r.id in asked and not r.deleted}
        with ThreadPoolExecutor(self.settings.concurrency) as pool:
            fetched = list(pool.map(lambda record_id: self._get_one(object_type, spec, record_id), wanted))
        return {record.id: record for record in fetched if record is not None and not record.deleted}

    def _get_one(self, object_type: str, spec: ObjectSettings, record_id: str) -> Record | None:
        assert spec.get is not None
        answer = self.http.call("GET", _with_id(spec.get.path, record_id))
        if answer.status == 404:
            return None
        if answer.status >= 400:
            raise ConnectorError(
                f"GET {answer.response.request.url} answered {answer.status}: {excerpt(answer.response)}"
            )
        values = jmespath.search(spec.get.record, answer.body)
        return _record(object_type, values, self._fields(object_type)) if isinstance(values, dict) else None

    def find(self, object_type: str, field_name: str, values: Sequence[Any]) -> list[Record]:
        self.calls["find"] += 1
        spec = self._object(object_type)
        wanted = list(dict.fromkeys(v for v in values if v is not None))
        if not wanted:
            return []
        param = spec.find.params.get(field_name)
        if param is None:  # the API cannot filter by it: list every record and index them
            batches = [dict(spec.list.params)]
        else:
            batches = [[*spec.list.params.items(), *((param, value) for value in batch)]
                       for batch in batched(wanted, spec.find.batch)]  # fmt: skip
        found: dict[str, Record] = {}
        for query in batches:
            for page in self._pages(object_type, query):
                for raw in page:
                    record = _record(object_type, raw, self._fields(object_type))
                    if not record.deleted and _equals_any(lookup(record.values, field_name), wanted):
                        found[record.id] = record
        return list(found.values())

    def _pages(self, object_type: str, params: Any) -> Iterator[list[dict[str, Any]]]:
        spec = self._object(object_type)
        id_field = self._fields(object_type)[0]
        return pages(self.http, object_type, spec.list, params, id_field)

    # -- writing --------------------------------------------------------------------------------

    def write(self, object_type: str, writes: Sequence[Write]) -> list[WriteResult]:
        self.calls["write"] += 1
        if self.read_only:
            raise ConnectorError("this connection was opened read-only (a dry run) and writes nothing")
        spec = self._object(object_type)
        batch_calls = {"create": spec.create_batch, "update": spec.update_batch}
        refused = {write.ref: WriteResult(write.ref, False, error=error) for write in writes
                   if (error := not_json(write.values))}  # fmt: skip
        chunks: list[tuple[BatchCall | None, list[Write]]] = []
        for op in ("create", "update", "delete"):
            of_op = [write for write in writes if write.op == op and write.ref not in refused]
            call = batch_calls.get(op)
            if call is None:
                chunks += [(None, [write]) for write in of_op]
            else:
                chunks += [(call, batch) for batch in batched(of_op, call.size)]
        with ThreadPoolExecutor(self.settings.concurrency) as pool:
            answered = pool.map(
                lambda chunk: (
                    self._write_batch(object_type, *chunk)
                    if chunk[0]
                    else [self._write_one(object_type, spec, chunk[1][0])]
                ),
                chunks,
            )
            by_ref = refused | {result.ref: result for results in answered for result in results}
        return [by_ref[write.ref] for write in writes]

    def _write_batch(self, object_type: str, call: BatchCall, writes: list[Write]) -> list[WriteResult]:
        """One request for the chunk; each record's result read from the answer, in order."""
        id_field, creating = self._fields(object_type)[0], writes[0].op == "create"
        records = [dict(w.values) if creating else {id_field: w.id, **w.values} for w in writes]
        headers = {call.idempotency_header: str(uuid.uuid4())} if call.idempotency_header else None
        unknown = creating  # a batch of creates that may have happened is looked for, not resent

        def every(error: str, maybe_done: bool = False) -> list[WriteResult]:
            return [WriteResult(w.ref, False, error=error, unknown=maybe_done and unknown) for w in writes]

        try:
            answer = self.http.call(
                call.method, call.path, body={call.wrap: records} if call.wrap else records,
                headers=headers, replayable=not creating or headers is not None,
            )  # fmt: skip
        except CredentialsRefused:
            raise
        except Unanswered as e:
            return every(e.message, maybe_done=True)
        except ConnectorError as e:
            return every(e.message)
        if answer.status >= 400:
            return every(_refusal(answer))
        results = jmespath.search(call.results, answer.body) if isinstance(answer.body, dict | list) else None
        if not isinstance(results, list) or len(results) != len(writes):
            where = f"{call.method} {answer.response.request.url}"
            return every(
                f"{where} answered without one result per record at `{call.results}`", maybe_done=True
            )
        return [
            _batch_result(call, write, result, creating)
            for write, result in zip(writes, results, strict=True)
        ]

    def _write_one(self, object_type: str, spec: ObjectSettings, write: Write) -> WriteResult:
        deleted_field = self._fields(object_type)[2]
        values: Mapping[str, Any] = write.values
        call = {"create": spec.create, "update": spec.update, "delete": spec.delete}[write.op]
        if write.op == "delete" and deleted_field:  # a soft delete: mark the record instead
            call, values = spec.update, {deleted_field: datetime.now(UTC).isoformat(timespec="milliseconds")}
        if call is None:
            what = "update" if write.op == "delete" and deleted_field else write.op
            return WriteResult(
                write.ref,
                False,
                error=f"the API's settings have no `{what}` for `{object_type}` (objects.{object_type}.{what})",
            )
        try:
            if write.op == "create":
                return self._create(object_type, spec, call, write)
            answer = self.http.call(
                call.method, _with_id(call.path, write.id or ""), body=_body(call, values, write.op)
            )
        except CredentialsRefused:
            raise  # every other record would be refused too: the run stops
        except ConnectorError as e:  # retried as far as allowed, or never answered: it failed
            return WriteResult(write.ref, False, error=e.message)
        if answer.status == 404:
            return WriteResult(write.ref, False, error=f"no {object_type} {write.id} (the API answered 404)")
        if answer.status >= 400:
            return WriteResult(write.ref, False, error=_refusal(answer))
        return WriteResult(write.ref, True, id=write.id)

    def _create(self, object_type: str, spec: ObjectSettings, call: WriteCall, write: Write) -> WriteResult:
        headers = {call.idempotency_header: str(uuid.uuid4())} if call.idempotency_header else None
        try:
            answer = self.http.call(
                call.method, call.path, body=_body(call, write.values, "create"),
                headers=headers, replayable=headers is not None,
            )  # fmt: skip
        except Unanswered as e:
            return WriteResult(write.ref, False, error=e.message, unknown=True)
        if answer.status >= 400:
            return WriteResult(write.ref, False, error=_refusal(answer))
        new_id = (
            jmespath.search(call.id or self._fields(object_type)[0], answer.body)
            if isinstance(answer.body, dict | list)
            else None
        )
        if new_id in (None, ""):
            return WriteResult(
                write.ref, False, unknown=True,
                error=f"{call.method} {answer.response.request.url} answered {answer.status} without the new id "
                f"at `{call.id or self._fields(object_type)[0]}`: {excerpt(answer.response)}",
            )  # fmt: skip
        return WriteResult(write.ref, True, id=str(new_id))


def _verify(settings: RestSettings, base_dir: Path | None) -> str | bool:
    if not settings.ca_file:
        return True
    path = resolve_path(base_dir, settings.ca_file)
    if not path.is_file():
        raise SettingError("ca_file", f"the CA bundle {path} does not exist", hint="check `ca_file`")
    return str(path)


def since_value(since: str, spec: Since) -> str | int:
    """The watermark as the API's `since` parameter wants it, never later than the watermark
    (a coarser unit is rounded down: reading a little more is safe, less is not)."""
    moment = parse_time(since).astimezone(UTC)
    if spec.format == "iso":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if spec.format == "epoch":
        return int(moment.timestamp())
    if spec.format == "epoch_ms":
        return int(moment.timestamp() * 1000)
    return moment.strftime(spec.format)


def _modified_time(value: Any, what: str) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value >= EPOCH_MS_FROM else value
        try:
            return canonical_time(datetime.fromtimestamp(seconds, UTC).isoformat(), what)
        except (OverflowError, OSError, ValueError):
            raise ConnectorError(f"{what} `{value}` is no time syncmap can read") from None
    return canonical_time(value, what)


def _with_id(path: str, record_id: str) -> str:
    return path.replace("{id}", quote(record_id, safe=""))


def _body(call: WriteCall, values: Mapping[str, Any], op: str) -> Any:
    if call.method in ("GET", "DELETE") and op == "delete":
        return None
    return {call.wrap: dict(values)} if call.wrap else dict(values)


def _refusal(answer: Answer) -> str:
    request = answer.response.request
    return f"{request.method} {request.url} answered {answer.status}: {excerpt(answer.response)}"


def _equals_any(found: Any, wanted: list[Any]) -> bool:
    """Exact equality as the API stored it; a number and its text are the same (a query string
    carries only text)."""
    return (
        found is not None
        and not isinstance(found, dict | list)
        and (found in wanted or str(found) in map(str, wanted))
    )


def _record(object_type: str, values: dict[str, Any], fields: tuple[str, str | None, str | None]) -> Record:
    """A record of the API from its values and the type's (id, modified, soft-delete) fields."""
    id_field, modified_field, deleted_field = fields
    record_id = values.get(id_field)
    if record_id in (None, ""):
        raise ConnectorError(
            f"a `{object_type}` record from the API has no `{id_field}`: {str(values)[:120]}",
            hint="set the object's `id_field` (or the side's `id:`) to the field holding its id",
        )
    modified, unreadable = values.get(modified_field) if modified_field else None, None
    try:
        modified = _modified_time(modified, f"`{modified_field}`")
    except ConnectorError as e:  # that record alone: the others still sync
        modified, unreadable = None, e.message
    deleted = bool(values.get(deleted_field)) if deleted_field else False
    return Record(object_type, str(record_id), values, modified, deleted, unreadable)


def _batch_result(call: BatchCall, write: Write, result: Any, creating: bool) -> WriteResult:
    error = jmespath.search(call.error, result) if isinstance(result, dict) else None
    if error:
        return WriteResult(write.ref, False, error=f"the API refused it: {shorten(str(error), 300)}")
    new_id = jmespath.search(call.id, result) if isinstance(result, dict) else None
    if creating and new_id in (None, ""):
        return WriteResult(write.ref, False, error=f"its result holds no id at `{call.id}`", unknown=True)
    return WriteResult(write.ref, True, id=str(new_id) if creating else write.id)

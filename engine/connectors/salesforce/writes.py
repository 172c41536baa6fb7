"""Writes to one org: each operation's records in sObject Collections calls of up to
``batch_size`` (allOrNone off), or in Bulk API 2.0 jobs of up to ``bulk_job_size`` when there are
more than ``bulk_threshold``. A value Salesforce could not take fails its own record before any
request."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from simple_salesforce import Salesforce

from engine.connectors import FieldInfo, ObjectInfo, Write, WriteResult, soql
from engine.connectors.salesforce.bulk import Answer, bulk_write
from engine.connectors.salesforce.session import TIMEOUT, ApiFailure, GaveUp, OutcomeUnknown, Session
from engine.connectors.salesforce.usage import write_calls
from engine.connectors.settings import SalesforceSettings
from engine.diagnostics import did_you_mean
from engine.errors import ConnectorError
from engine.records import batched


class Writer:
    """One org's writes (see the module docstring)."""

    def __init__(self, session: Session, typed: SalesforceSettings):
        self.session = session
        self.bulk_threshold, self.batch_size, self.job_size = (
            typed.bulk_threshold,
            typed.batch_size,
            typed.bulk_job_size,
        )

    def write(self, info: ObjectInfo, relationships: set[str], writes: Sequence[Write]) -> list[WriteResult]:
        """One result per write, in order; ``relationships`` are the object's parent-record
        names, which a write never sends."""
        results: list[WriteResult | None] = [None] * len(writes)
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        writable: dict[tuple[str, str], str | None] = {}  # (field, op) -> why not, worked out once
        for index, write in enumerate(writes):
            payload = _payload(info, relationships, write, writable)
            if isinstance(payload, str):
                results[index] = WriteResult(write.ref, ok=False, id=write.id, error=payload)
            elif write.op == "update" and len(payload) == 1:  # only the Id: nothing to change
                results[index] = WriteResult(write.ref, ok=True, id=write.id)
            else:
                groups.setdefault(write.op, []).append((index, payload))
        for op, items in groups.items():
            payloads = [payload for _, payload in items]
            if len(items) > self.bulk_threshold:  # a job per `bulk_job_size` records
                answers = [
                    a for part in batched(payloads, self.job_size) for a in self._bulk(info.name, op, part)
                ]
            else:
                answers = self._collections(info.name, op, payloads)
            for (index, _), answer in zip(items, answers, strict=True):
                write = writes[index]
                error = None if answer.ok else answer.error
                results[index] = WriteResult(
                    write.ref, answer.ok, answer.id or write.id, error, answer.unknown
                )
        return [result for result in results if result is not None]

    def _bulk(self, sobject: str, op: str, payloads: list[dict[str, Any]]) -> list[Answer]:
        """One Bulk job's answers; what the job did not process goes through Collections, and
        the creates of a job whose end cannot be learned are answered unknown (the journal keeps
        them, and the next run looks for them before creating any again)."""
        try:
            answers = bulk_write(self.session, sobject, op, payloads)
        except OutcomeUnknown as e:
            return [Answer(False, None, e.message, unknown=op == "create")] * len(payloads)
        again = [index for index, answer in enumerate(answers) if answer is None]
        resent = self._collections(sobject, op, [payloads[index] for index in again]) if again else []
        for index, answer in zip(again, resent, strict=True):
            answers[index] = answer
        return answers

    def calls(self, counts: Mapping[tuple[str, str], int]) -> int:
        """The API calls writes of these counts would make."""
        return write_calls(counts, self.bulk_threshold, self.batch_size, self.job_size)

    def _collections(self, sobject: str, op: str, payloads: list[dict[str, Any]]) -> list[Answer]:
        """sObject Collections calls of up to ``batch_size`` records, allOrNone off. A call that
        fails as a whole fails its own records; after retries ran out or the session was refused,
        the rest are not attempted (they would only meet the same refusal)."""
        answers: list[Answer] = []
        stop: str | None = None
        for chunk in batched(payloads, self.batch_size):
            if stop is not None:
                answers += [Answer(False, None, f"not sent: {stop}")] * len(chunk)
                continue
            try:
                answers += self._collection_call(sobject, op, chunk)
            except ConnectorError as e:
                answers += [
                    Answer(False, None, e.message, unknown=op == "create" and isinstance(e, OutcomeUnknown))
                ] * len(chunk)
                if isinstance(e, GaveUp) or (isinstance(e, ApiFailure) and e.status in (401, 403)):
                    stop = f"an earlier call for {sobject} failed: {e.message}"
        return answers

    def _collection_call(self, sobject: str, op: str, chunk: list[dict[str, Any]]) -> list[Answer]:
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
        answer = self.session.call("collections", send, replay_safe=op != "create") or []
        if len(answer) != len(chunk):
            raise ConnectorError(f"Salesforce answered {len(answer)} results for {len(chunk)} records")
        return [_collection_result(op, result) for result in answer]


def _payload(
    info: ObjectInfo, relationships: set[str], write: Write, writable: dict[tuple[str, str], str | None]
) -> dict[str, Any] | str:
    """The record to send for a write (as JSON or a CSV row), or why this write cannot be sent;
    ``writable`` remembers why each field cannot be written by an operation, or None."""
    if write.op not in ("create", "update", "delete"):
        return f"unknown write operation `{write.op}`"
    if write.op != "create" and not soql.is_record_id(str(write.id or "")):
        return f"an {write.op} of `{info.name}` needs a Salesforce record id, not `{write.id}`"
    if write.op == "delete":
        return {"Id": str(write.id)}
    payload: dict[str, Any] = {"Id": str(write.id)} if write.op == "update" else {}
    for name, value in write.values.items():
        if name == "attributes" or isinstance(value, dict) or (value is None and name in relationships):
            continue  # parent records as read (`Account: {Name: ...}`), never written through a child
        if name == "Id":
            if write.op == "update" and str(value)[:15] != str(write.id)[:15]:
                return f"`{info.name}` {write.id}: the Id field cannot change (to `{value}`)"
            continue
        if (name, write.op) not in writable:
            writable[name, write.op] = _writable(info, name, write.op)
        if problem := writable[name, write.op]:
            return problem
        try:
            payload[name] = _typed(info.fields[name], value)
        except (TypeError, ValueError) as e:
            return f"`{info.name}.{name}`: {e}"
    return write.values if payload == write.values else payload  # one copy fewer of a Bulk job's records


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
    """A value JSON and UTF-8 hold (a lone surrogate fails its record, not its whole request)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"character {e.start + 1} is a lone surrogate, which no request can carry") from None
        return value
    if value is None or isinstance(value, bool | int):
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


def _collection_result(op: str, result: Mapping[str, Any]) -> Answer:
    errors = result.get("errors") or []
    if result.get("success"):
        return Answer(True, result.get("id"))
    if op == "delete" and errors and all(e.get("statusCode") == "ENTITY_IS_DELETED" for e in errors):
        return Answer(True, result.get("id"))  # already in the recycle bin: the wanted end state
    text = "; ".join(f"{e.get('statusCode', 'ERROR')}: {e.get('message', '')}" for e in errors)
    return Answer(False, result.get("id"), text or "failed without an error message")

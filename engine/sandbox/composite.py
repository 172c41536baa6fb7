"""sObject Collections: create, update, upsert, retrieve and delete up to 200 records per call.

With ``allOrNone`` every record is written in one transaction: if any fails, all are rolled back
and each result carries an error (its own, or ALL_OR_NONE_OPERATION_ROLLED_BACK). Without it,
each record succeeds or fails alone. Injected UNABLE_TO_LOCK_ROW failures land here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.sandbox import ids
from engine.sandbox.errors import ApiError, invalid_type
from engine.sandbox.schema import SObject
from engine.sandbox.wire import Request, Response, Route, json_response

if TYPE_CHECKING:
    from engine.sandbox.state import ApiState

MAX_RECORDS = 200
ROLLED_BACK = ApiError(
    400,
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)
Operation = Callable[[Any], dict[str, Any]]


class _RollBack(Exception):
    """Raised inside the transaction of an allOrNone call to undo every write."""


def create(api: ApiState, request: Request) -> Response:
    def operation(values: dict[str, Any]) -> dict[str, Any]:
        return {"id": api.org.create(_sobject(api, values), values)}

    return _collection(api, request, operation)


def update(api: ApiState, request: Request) -> Response:
    def operation(values: dict[str, Any]) -> dict[str, Any]:
        record_id = values.get("Id")
        if not record_id:
            raise ApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call", ("Id",))
        api.org.update(_sobject(api, values), record_id, values)
        return {"id": record_id}

    return _collection(api, request, operation, id_of=lambda values: values.get("Id"))


def upsert(api: ApiState, request: Request, sobject: str, field: str) -> Response:
    target = api.org.schema.require(sobject)
    external = target.external_id_field(field)

    def operation(values: dict[str, Any]) -> dict[str, Any]:
        key = values.get(external.name)
        if key in (None, ""):
            raise ApiError(400, "MISSING_ARGUMENT", f"{external.name} not specified", (external.name,))
        rest = {k: v for k, v in values.items() if k != external.name}
        record_id, created = api.org.upsert(target, external.name, str(key), rest)
        return {"id": record_id, "created": created}

    return _collection(api, request, operation)


def delete(api: ApiState, request: Request) -> Response:
    record_ids = [i for i in request.params.get("ids", "").split(",") if i]

    def operation(record_id: str) -> dict[str, Any]:
        found = api.org.store.get(ids.to18(record_id)) if ids.is_valid(record_id) else None
        if found is None:
            raise ApiError(400, "MALFORMED_ID", f"malformed id {record_id}")
        api.org.delete(api.org.schema.require(found[0]), record_id)
        return {"id": found[1]["Id"]}

    all_or_none = request.params.get("allOrNone", "false").lower() == "true"
    results = _run(api, record_ids, all_or_none, operation, id_of=lambda i: i)
    return json_response(results)


def retrieve(api: ApiState, request: Request, sobject: str) -> Response:
    target = api.org.schema.require(sobject)
    names = [n for n in request.params.get("fields", "").split(",") if n]
    if not names:
        raise ApiError(400, "MISSING_ARGUMENT", "fields is a required parameter")
    records = []
    for record_id in request.params.get("ids", "").split(","):
        found = api.org.lookup(record_id)
        matches = found is not None and found[0] is target
        records.append(api.org.render(target, found[1], names) if matches else None)
    return json_response(records)


def _collection(
    api: ApiState,
    request: Request,
    operation: Operation,
    id_of: Callable[[Any], str | None] = lambda _: None,
) -> Response:
    body = request.json_object()
    records = body.get("records")
    if not isinstance(records, list):
        raise ApiError(400, "INVALID_FIELD", "records is a required field")
    return json_response(_run(api, records, bool(body.get("allOrNone")), operation, id_of))


def _run(
    api: ApiState,
    items: list[Any],
    all_or_none: bool,
    operation: Operation,
    id_of: Callable[[Any], str | None],
) -> list[dict[str, Any]]:
    """One result per item in order; with all_or_none, any failure undoes every write."""
    if len(items) > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )
    results: list[dict[str, Any]] = []
    try:
        # one transaction either way: a failing record writes nothing, and commits are few
        with api.org.store.transaction():
            results = [_attempt(api, item, operation, id_of) for item in items]
            if all_or_none and not all(r["success"] for r in results):
                raise _RollBack
    except _RollBack:
        return [_rolled_back(r, id_of(item)) for item, r in zip(items, results, strict=True)]
    return results


def _attempt(
    api: ApiState, item: Any, operation: Operation, id_of: Callable[[Any], str | None]
) -> dict[str, Any]:
    try:
        api.faults.check_record_lock(id_of(item))
        return operation(item) | {"success": True, "errors": []}
    except ApiError as error:
        result: dict[str, Any] = {"id": id_of(item)} if id_of(item) else {}
        return result | {"success": False, "errors": [error.record_error()]}


def _rolled_back(result: dict[str, Any], given_id: str | None) -> dict[str, Any]:
    """A success undone by the rollback: ids the call created are gone, given ones stay."""
    if not result["success"]:
        return result
    kept = {"id": given_id} if given_id else {}
    return kept | {"success": False, "errors": [ROLLED_BACK.record_error()]}


def _sobject(api: ApiState, values: Any) -> SObject:
    if not isinstance(values, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "each record must be a JSON object")
    name = (values.get("attributes") or {}).get("type")
    if not name:
        raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    sobject = api.org.schema.get(name)
    if sobject is None:
        raise invalid_type(name)
    return sobject


ROUTES = [
    Route("POST", r"composite/sobjects", "collections_create", create),
    Route("PATCH", r"composite/sobjects", "collections_update", update),
    Route("DELETE", r"composite/sobjects", "collections_delete", delete),
    Route("GET", r"composite/sobjects/(?P<sobject>\w+)", "collections_get", retrieve),
    Route(
        "PATCH",
        r"composite/sobjects/(?P<sobject>\w+)/(?P<field>\w+)",
        "collections_upsert",
        upsert,
    ),
]

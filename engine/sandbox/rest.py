"""The REST resources of one API version: versions, resources, limits, describe, records, SOQL.

Each handler answers with the JSON shape and status code Salesforce uses for that resource, so
simple-salesforce cannot tell the sandbox from an org.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from engine.sandbox import ids
from engine.sandbox.errors import ApiError, MultipleChoices, not_found
from engine.sandbox.query import QueryRun, compile_query
from engine.sandbox.values import format_datetime, parse_datetime
from engine.sandbox.wire import Request, Response, Route, json_response, no_content

if TYPE_CHECKING:
    from engine.sandbox.state import ApiState

API_VERSIONS = {
    "55.0": "Summer '22",
    "56.0": "Winter '23",
    "57.0": "Spring '23",
    "58.0": "Summer '23",
    "59.0": "Winter '24",
    "60.0": "Spring '24",
    "61.0": "Summer '24",
    "62.0": "Winter '25",
}
DEFAULT_API_VERSION = "59.0"
DAILY_API_REQUESTS = 15000
MIN_BATCH_SIZE, MAX_BATCH_SIZE = 200, 2000
RECYCLE_BIN_RETENTION = timedelta(days=15)


def versions() -> list[dict[str, str]]:
    return [
        {"label": label, "url": f"/services/data/v{version}", "version": version}
        for version, label in API_VERSIONS.items()
    ]


def resources(api: ApiState, request: Request) -> Response:
    names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs")
    return json_response({name: f"{request.base}/{name}" for name in names})


def limits(api: ApiState, request: Request) -> Response:
    most = api.daily_api_requests
    used = min(api.stats.total() + 1, most)  # this call is one of them
    records = api.org.store.count()
    return json_response(
        {
            "DailyApiRequests": {"Max": most, "Remaining": most - used},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - api.bulk.query_jobs()},
            "DataStorageMB": {"Max": 5, "Remaining": 5 - records * 2 // 1024 // 1024},
        }
    )


def describe_global(api: ApiState, request: Request) -> Response:
    return json_response(
        {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [s.summary(request.base) for s in api.org.schema],
        }
    )


def sobject_info(api: ApiState, request: Request, sobject: str) -> Response:
    summary = api.org.schema.require(sobject).summary(request.base)
    return json_response({"objectDescribe": summary, "recentItems": []})


def describe(api: ApiState, request: Request, sobject: str) -> Response:
    return json_response(api.org.schema.require(sobject).describe(request.base))


def create(api: ApiState, request: Request, sobject: str) -> Response:
    record_id = api.org.create(api.org.schema.require(sobject), request.json_object())
    return json_response({"id": record_id, "success": True, "errors": []}, 201)


def get_record(api: ApiState, request: Request, sobject: str, record_id: str) -> Response:
    target = api.org.schema.require(sobject)
    record = api.org.read(target, _record_id(record_id))
    names = request.params.get("fields")
    return json_response(api.org.render(target, record, names.split(",") if names else None))


def update_record(api: ApiState, request: Request, sobject: str, record_id: str) -> Response:
    target = api.org.schema.require(sobject)
    api.org.update(target, _record_id(record_id), request.json_object())
    return no_content()


def delete_record(api: ApiState, request: Request, sobject: str, record_id: str) -> Response:
    api.org.delete(api.org.schema.require(sobject), _record_id(record_id))
    return no_content()


def get_by_external_id(api: ApiState, request: Request, sobject: str, field: str, value: str) -> Response:
    target = api.org.schema.require(sobject)
    return json_response(api.org.render(target, _one_by_external_id(api, target, field, value)))


def upsert(api: ApiState, request: Request, sobject: str, field: str, value: str) -> Response:
    target = api.org.schema.require(sobject)
    record_id, created = api.org.upsert(target, field, value, request.json_object())
    if not created:
        return no_content()
    return json_response({"id": record_id, "success": True, "errors": [], "created": True}, 201)


def delete_by_external_id(
    api: ApiState, request: Request, sobject: str, field: str, value: str
) -> Response:
    target = api.org.schema.require(sobject)
    api.org.delete(target, _one_by_external_id(api, target, field, value)["Id"])
    return no_content()


def updated(api: ApiState, request: Request, sobject: str) -> Response:
    """Ids of records created or changed between ``start`` and ``end`` (Get Updated)."""
    target = api.org.schema.require(sobject)
    start, end = _window(request)
    changed = [r["Id"] for r in api.org.store.scan(target.name) if start <= r["SystemModstamp"] < end]
    return json_response({"ids": changed, "latestDateCovered": end})


def deleted(api: ApiState, request: Request, sobject: str) -> Response:
    """Records deleted between ``start`` and ``end`` with their deletion dates (Get Deleted)."""
    target = api.org.schema.require(sobject)
    start, end = _window(request)
    gone = [
        {"id": r["Id"], "deletedDate": r["SystemModstamp"]}
        for r in api.org.store.scan(target.name, include_deleted=True)
        if r["IsDeleted"] and start <= r["SystemModstamp"] < end
    ]
    earliest = format_datetime(api.org.clock() - RECYCLE_BIN_RETENTION)
    return json_response(
        {"deletedRecords": gone, "earliestDateAvailable": earliest, "latestDateCovered": end}
    )


def _window(request: Request) -> tuple[str, str]:
    """The ``start`` and ``end`` parameters in stored datetime form, so they compare as text."""
    bounds = [parse_datetime(request.params.get(name, "")) for name in ("start", "end")]
    if None in bounds:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "start and end must be ISO 8601 datetimes")
    return format_datetime(bounds[0]), format_datetime(bounds[1])


def query(api: ApiState, request: Request) -> Response:
    return _run_query(api, request, include_deleted=False, endpoint="query")


def query_all(api: ApiState, request: Request) -> Response:
    return _run_query(api, request, include_deleted=True, endpoint="queryAll")


def query_more(api: ApiState, request: Request, endpoint: str, locator: str) -> Response:
    return json_response(api.pages.next_page(locator, f"{request.base}/{endpoint}"))


def _run_query(api: ApiState, request: Request, include_deleted: bool, endpoint: str) -> Response:
    text = request.params.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    run = QueryRun(compile_query(text, api.org.schema), api.org, include_deleted)
    page = api.pages.first_page(
        run.json_records(), run.total_size, f"{request.base}/{endpoint}", _batch_size(api, request)
    )
    return json_response(page)


def _batch_size(api: ApiState, request: Request) -> int:
    """The page size: the sandbox's, or the ``Sforce-Query-Options: batchSize=N`` header's."""
    options = request.headers.get("Sforce-Query-Options", "")
    for option in options.split(","):
        name, _, value = option.strip().partition("=")
        if name == "batchSize" and value.isdigit():
            return max(MIN_BATCH_SIZE, min(MAX_BATCH_SIZE, int(value)))
    return api.pages.page_size


def _record_id(text: str) -> str:
    if not ids.is_valid(text):
        raise ApiError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {text}",
        )
    return text


def _one_by_external_id(api: ApiState, sobject: Any, field: str, value: str) -> dict[str, Any]:
    matches = api.org.find_by(sobject, sobject.external_id_field(field), value)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        raise MultipleChoices([api.org.url(sobject, r["Id"]) for r in matches])
    return matches[0]


SOBJECT = r"sobjects/(?P<sobject>\w+)"
ROUTES = [
    Route("GET", r"", "resources", resources),
    Route("GET", r"limits", "limits", limits),
    Route("GET", r"sobjects", "describe_global", describe_global),
    Route("GET", SOBJECT, "describe", sobject_info),
    Route("POST", SOBJECT, "create", create),
    Route("GET", SOBJECT + r"/describe", "describe", describe),
    Route("GET", SOBJECT + r"/updated", "updated", updated),
    Route("GET", SOBJECT + r"/deleted", "deleted", deleted),
    Route("GET", SOBJECT + r"/(?P<record_id>\w+)", "get", get_record),
    Route("PATCH", SOBJECT + r"/(?P<record_id>\w+)", "update", update_record),
    Route("DELETE", SOBJECT + r"/(?P<record_id>\w+)", "delete", delete_record),
    Route("GET", SOBJECT + r"/(?P<field>\w+)/(?P<value>[^/]+)", "get", get_by_external_id),
    Route("PATCH", SOBJECT + r"/(?P<field>\w+)/(?P<value>[^/]+)", "upsert", upsert),
    Route("DELETE", SOBJECT + r"/(?P<field>\w+)/(?P<value>[^/]+)", "delete", delete_by_external_id),
    Route("GET", r"query", "query", query),
    Route("GET", r"queryAll", "query", query_all),
    Route("GET", r"(?P<endpoint>query|queryAll)/(?P<locator>[\w-]+)", "query_more", query_more),
]

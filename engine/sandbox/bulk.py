"""Bulk API 2.0: ingest jobs (CSV in, per-record results out) and query jobs (CSV pages out).

Jobs live in memory. An ingest job is processed as an org does, after the request that closes
it has been answered: a thread of its own writes its rows in chunks (other requests go on between
them), and clients poll its state until it reads JobComplete. A query job runs when it is created.
Records go through the same Org rules as REST, one at a time, so a bad row fails alone and shows
up in ``failedResults`` with its Salesforce error; rows an aborted or failed job never reached
are its ``unprocessedrecords``.
"""

from __future__ import annotations

import base64
import csv
import io
import threading
from typing import TYPE_CHECKING, Any

from engine.sandbox.errors import ApiError, invalid_type
from engine.sandbox.jobs import DELIMITERS, INGEST_CHUNK, INGEST_OPERATIONS, Job
from engine.sandbox.query import QueryRun, compile_query
from engine.sandbox.values import from_csv
from engine.sandbox.wire import CSV_TYPE, Request, Response, Route, json_response, no_content

if TYPE_CHECKING:
    from engine.sandbox.state import ApiState

def create_ingest(api: ApiState, request: Request) -> Response:
    body = request.json_object()
    sobject = api.org.schema.get(str(body.get("object", "")))
    if sobject is None:
        raise invalid_type(str(body.get("object")))
    operation = body.get("operation")
    if operation not in INGEST_OPERATIONS:
        raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
    external = body.get("externalIdFieldName")
    if operation == "upsert":
        external = sobject.external_id_field(external or "").name
    job = api.bulk.add(api.org, "ingest", operation, sobject.name, body)
    job.external_id_field = external
    return json_response(job.info(api.org, request.api_version))


def upload(api: ApiState, request: Request, job_id: str) -> Response:
    job = api.bulk.get(job_id, "ingest")
    if job.state != "Open":
        raise ApiError(409, "INVALIDJOBSTATE", f"Job {job.id} is not open for uploads")
    job.uploads.append(request.body.decode("utf-8"))
    return Response(201)


def set_ingest_state(api: ApiState, request: Request, job_id: str) -> Response:
    job = api.bulk.get(job_id, "ingest")
    state = request.json_object().get("state")
    if state == "UploadComplete" and job.state == "Open":
        job.state = "UploadComplete"
        answer = job.info(api.org, request.api_version)
        threading.Thread(target=_process, args=(api, job), name=f"bulk {job.id}", daemon=True).start()
        return json_response(answer)
    if state == "Aborted" and job.state in ("Open", "UploadComplete", "InProgress"):
        job.state = "Aborted"
        return json_response(job.info(api.org, request.api_version))
    raise ApiError(409, "INVALIDJOBSTATE", f"Cannot change the state of job {job.id} to {state}")


def ingest_results(api: ApiState, request: Request, job_id: str, results: str) -> Response:
    job = api.bulk.get(job_id, "ingest")
    if results == "successfulResults":
        body = job.csv(["sf__Id", "sf__Created", *job.columns], job.successes)
    elif results == "failedResults":
        body = job.csv(["sf__Id", "sf__Error", *job.columns], job.failures)
    else:
        body = job.csv(job.columns, job.unprocessed)
    return Response(200, body, CSV_TYPE)


def _process(api: ApiState, job: Job) -> None:
    """Write every uploaded row, a chunk per transaction (failing rows write nothing, commits
    stay few, and the store is free between chunks); the job fails as a whole only when its
    header is wrong, and stops where it is when aborted."""
    sobject = api.org.schema.require(job.object)
    job.state = "InProgress"
    pending: list[tuple[list[str], list[str]]] = []
    for upload_text in job.uploads:
        rows = list(
            csv.reader(io.StringIO(upload_text, newline=""), delimiter=DELIMITERS[job.column_delimiter])
        )
        if not rows:
            continue
        header, *records = rows
        unknown = [name for name in header if sobject.field(name) is None]
        if unknown:
            job.columns, job.unprocessed = header, records
            job.state, job.error_message = "Failed", f"InvalidBatch : Field name not found : {unknown[0]}"
            return
        job.columns = header
        pending += [(header, cells) for cells in records]
    fail_after = api.faults.settings.bulk_fail_after
    try:
        for start in range(0, len(pending), INGEST_CHUNK):
            if job.state == "Aborted":
                job.unprocessed = [cells for _, cells in pending[start:]]
                return
            if fail_after and start >= fail_after:  # as a job that met an org limit or an internal error
                job.unprocessed = [cells for _, cells in pending[start:]]
                job.state, job.error_message = "Failed", "InternalError : the job stopped partway"
                return
            with api.org.store.transaction():
                for header, cells in pending[start : start + INGEST_CHUNK]:
                    _write_row(api, job, sobject, dict(zip(header, cells, strict=False)), cells)
    except Exception as e:  # the sandbox stopped under the job: it fails, as an org's would
        job.state, job.error_message = "Failed", f"InternalError : {e}"
        return
    job.state = "JobComplete"


def _write_row(api: ApiState, job: Job, sobject: Any, row: dict[str, str], cells: list[str]) -> None:
    values = {name: from_csv(sobject.field(name), text) for name, text in row.items() if text != ""}
    record_id = values.get("Id")
    try:
        api.faults.check_record_lock(record_id)
        if job.operation == "insert":
            record_id, created = api.org.create(sobject, values), True
        elif job.operation == "upsert":
            key = str(values.pop(job.external_id_field, ""))
            record_id, created = api.org.upsert(sobject, job.external_id_field, key, values)
        elif job.operation == "update":
            api.org.update(sobject, record_id or "", values)
            created = False
        else:
            api.org.delete(sobject, record_id or "")
            created = False
        job.successes.append([record_id, "true" if created else "false", *cells])
    except ApiError as error:
        reason = f"{error.code}:{error.message}:{','.join(error.fields)} --"
        job.failures.append([record_id or "", reason, *cells])


# -- query -----------------------------------------------------------------------------------


def create_query(api: ApiState, request: Request) -> Response:
    body = request.json_object()
    operation = body.get("operation", "query")
    if operation not in ("query", "queryAll"):
        raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
    compiled = compile_query(str(body.get("query", "")), api.org.schema)
    job = api.bulk.add(api.org, "query", operation, compiled.sobject.name, body)
    job.state = "UploadComplete"
    answer = job.info(api.org, request.api_version)
    run = QueryRun(compiled, api.org, include_deleted=operation == "queryAll")
    job.columns, job.rows, job.state = compiled.columns, run.flat_records(), "JobComplete"
    return json_response(answer)


def query_results(api: ApiState, request: Request, job_id: str) -> Response:
    job = api.bulk.get(job_id, "query")
    start = _locator_position(request.params.get("locator"))
    size = request.params.get("maxRecords", "")
    end = start + int(size) if size.isdigit() and int(size) > 0 else len(job.rows)
    page = job.rows[start:end]
    locator = _locator(end) if end < len(job.rows) else "null"
    headers = {"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(len(page))}
    return Response(200, job.csv(job.columns, page), CSV_TYPE, headers)


def _locator(position: int) -> str:
    return base64.b64encode(str(position).encode()).decode()


def _locator_position(locator: str | None) -> int:
    if not locator:
        return 0
    try:
        return int(base64.b64decode(locator).decode())
    except ValueError:
        raise ApiError(400, "INVALID_LOCATOR", f"Invalid locator: {locator}") from None


def set_query_state(api: ApiState, request: Request, job_id: str) -> Response:
    job = api.bulk.get(job_id, "query")
    if request.json_object().get("state") != "Aborted":
        raise ApiError(400, "INVALIDJOBSTATE", "A query job can only be aborted")
    if job.state != "JobComplete":
        job.state = "Aborted"
    return json_response(job.info(api.org, request.api_version))


# -- both --------------------------------------------------------------------------------------


def get_job(api: ApiState, request: Request, kind: str, job_id: str) -> Response:
    if api.faults.settings.bulk_status_unavailable:
        raise ApiError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
    return json_response(api.bulk.get(job_id, kind).info(api.org, request.api_version))


def list_jobs(api: ApiState, request: Request, kind: str) -> Response:
    jobs = [job.info(api.org, request.api_version) for job in api.bulk.of_kind(kind)]
    return json_response({"done": True, "records": jobs, "nextRecordsUrl": None})


def delete_job(api: ApiState, request: Request, kind: str, job_id: str) -> Response:
    api.bulk.remove(api.bulk.get(job_id, kind))
    return no_content()


JOB = r"jobs/(?P<kind>ingest|query)/(?P<job_id>\w+)"
ROUTES = [
    Route("POST", r"jobs/ingest", "bulk_ingest", create_ingest),
    Route("POST", r"jobs/query", "bulk_query", create_query),
    Route("GET", r"jobs/(?P<kind>ingest|query)", "bulk_jobs", list_jobs),
    Route("GET", JOB, "bulk_job", get_job),
    Route("DELETE", JOB, "bulk_job", delete_job),
    Route("PUT", r"jobs/ingest/(?P<job_id>\w+)/batches", "bulk_ingest", upload),
    Route("PATCH", r"jobs/ingest/(?P<job_id>\w+)", "bulk_ingest", set_ingest_state),
    Route("PATCH", r"jobs/query/(?P<job_id>\w+)", "bulk_query", set_query_state),
    Route(
        "GET",
        r"jobs/ingest/(?P<job_id>\w+)/(?P<results>successfulResults|failedResults|unprocessedrecords)",
        "bulk_results",
        ingest_results,
    ),
    Route("GET", r"jobs/query/(?P<job_id>\w+)/results", "bulk_results", query_results),
]

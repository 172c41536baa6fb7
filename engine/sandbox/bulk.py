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
import itertools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.sandbox import ids
from engine.sandbox.errors import ApiError, invalid_type, not_found
from engine.sandbox.query import QueryRun, compile_query
from engine.sandbox.values import format_datetime, from_csv, to_csv
from engine.sandbox.wire import CSV_TYPE, Request, Response, Route, json_response, no_content

if TYPE_CHECKING:
    from engine.sandbox.api import SandboxApi
    from engine.sandbox.org import Org

JOB_PREFIX = "750"
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_CHUNK = 2_000  # rows an ingest job writes per store transaction


@dataclass
class Job:
    """One Bulk API 2.0 job; ``rows`` are its results (ingest) or its records (query)."""

    id: str
    kind: str
    operation: str
    object: str
    created: str
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    external_id_field: str | None = None
    state: str = "Open"
    error_message: str | None = None
    uploads: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    successes: list[list[str]] = field(default_factory=list)
    failures: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)

    def info(self, org: Org, api_version: str) -> dict[str, Any]:
        info = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": org.user_id,
            "createdDate": self.created,
            "systemModstamp": self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(api_version),
            "jobType": "V2Ingest" if self.kind == "ingest" else "V2Query",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": len(self.successes) + len(self.failures) + len(self.rows),
            "retries": 0,
            "totalProcessingTime": 0,
        }
        if self.kind == "ingest":
            info["numberRecordsFailed"] = len(self.failures)
            info["contentUrl"] = f"services/data/v{api_version}/jobs/ingest/{self.id}/batches"
            info["externalIdFieldName"] = self.external_id_field
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info

    def csv(self, header: list[str], rows: list[list[Any]]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(
            out,
            delimiter=DELIMITERS[self.column_delimiter],
            lineterminator=LINE_ENDINGS[self.line_ending],
            quoting=csv.QUOTE_ALL,
        )
        writer.writerow(header)
        writer.writerows([[to_csv(value) for value in row] for row in rows])
        return out.getvalue().encode()


class BulkJobs:
    """Every job of this sandbox run, by id."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, org: Org, kind: str, operation: str, sobject: str, options: dict) -> Job:
        with self._lock:
            job_id = ids.make_id(JOB_PREFIX, next(self._numbers))
            job = Job(job_id, kind, operation, sobject, format_datetime(org.clock()))
            self._jobs[job_id] = job
        job.column_delimiter = _option(options, "columnDelimiter", DELIMITERS, "COMMA")
        job.line_ending = _option(options, "lineEnding", LINE_ENDINGS, "LF")
        return job

    def get(self, job_id: str, kind: str) -> Job:
        job = self._jobs.get(ids.normalize(job_id) or job_id)
        if job is None or job.kind != kind:
            raise not_found()
        return job

    def remove(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)

    def of_kind(self, kind: str) -> list[Job]:
        return [job for job in self._jobs.values() if job.kind == kind]

    def query_jobs(self) -> int:
        return len(self.of_kind("query"))


def _option(options: dict, name: str, allowed: dict[str, str], default: str) -> str:
    value = options.get(name) or default
    if value not in allowed:
        raise ApiError(400, "INVALIDJOB", f"Invalid {name}: {value}")
    return value


# -- ingest ----------------------------------------------------------------------------------


def create_ingest(api: SandboxApi, request: Request) -> Response:
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


def upload(api: SandboxApi, request: Request, job_id: str) -> Response:
    job = api.bulk.get(job_id, "ingest")
    if job.state != "Open":
        raise ApiError(409, "INVALIDJOBSTATE", f"Job {job.id} is not open for uploads")
    job.uploads.append(request.body.decode("utf-8"))
    return Response(201)


def set_ingest_state(api: SandboxApi, request: Request, job_id: str) -> Response:
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


def ingest_results(api: SandboxApi, request: Request, job_id: str, results: str) -> Response:
    job = api.bulk.get(job_id, "ingest")
    if results == "successfulResults":
        body = job.csv(["sf__Id", "sf__Created", *job.columns], job.successes)
    elif results == "failedResults":
        body = job.csv(["sf__Id", "sf__Error", *job.columns], job.failures)
    else:
        body = job.csv(job.columns, job.unprocessed)
    return Response(200, body, CSV_TYPE)


def _process(api: SandboxApi, job: Job) -> None:
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


def _write_row(api: SandboxApi, job: Job, sobject: Any, row: dict[str, str], cells: list[str]) -> None:
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


def create_query(api: SandboxApi, request: Request) -> Response:
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


def query_results(api: SandboxApi, request: Request, job_id: str) -> Response:
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


def set_query_state(api: SandboxApi, request: Request, job_id: str) -> Response:
    job = api.bulk.get(job_id, "query")
    if request.json_object().get("state") != "Aborted":
        raise ApiError(400, "INVALIDJOBSTATE", "A query job can only be aborted")
    if job.state != "JobComplete":
        job.state = "Aborted"
    return json_response(job.info(api.org, request.api_version))


# -- both --------------------------------------------------------------------------------------


def get_job(api: SandboxApi, request: Request, kind: str, job_id: str) -> Response:
    if api.faults.settings.bulk_status_unavailable:
        raise ApiError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
    return json_response(api.bulk.get(job_id, kind).info(api.org, request.api_version))


def list_jobs(api: SandboxApi, request: Request, kind: str) -> Response:
    jobs = [job.info(api.org, request.api_version) for job in api.bulk.of_kind(kind)]
    return json_response({"done": True, "records": jobs, "nextRecordsUrl": None})


def delete_job(api: SandboxApi, request: Request, kind: str, job_id: str) -> Response:
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

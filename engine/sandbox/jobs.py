"""Bulk API 2.0 jobs as an org keeps them: each job's options, state and results, and every job
of a sandbox run by id. What the Bulk endpoints do with them is `bulk.py`."""

from __future__ import annotations

import csv
import io
import itertools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.sandbox import ids
from engine.sandbox.errors import ApiError, not_found
from engine.sandbox.values import format_datetime, to_csv

if TYPE_CHECKING:
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

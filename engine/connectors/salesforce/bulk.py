"""Bulk API 2.0 ingest jobs: many writes of one operation as one CSV upload, their per-record
outcomes read back from the job's successful and failed results.

A row the job did not process (the upload failed and the job was aborted, or the job failed
before reaching it) is answered None: nothing was written for it, so it may be sent again
another way. When the job's end cannot be learned (polling failed or timed out, its results
could not be read), ``OutcomeUnknown`` is raised: its creates may have happened."""

from __future__ import annotations

import csv
import io
import logging
import operator
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from simple_salesforce import Salesforce
from simple_salesforce.util import exception_handler
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay

from engine.connectors.salesforce.session import TIMEOUT, ApiFailure, OutcomeUnknown, Session
from engine.errors import ConnectorError

log = logging.getLogger(__name__)

BULK_POLL_SECONDS = (0.2, 10.0)  # shortest and longest wait before a Bulk job status check
BULK_TIMEOUT_SECONDS = 3600
BULK_PACE_SECONDS = 0.5  # between the first look finding rows done and the next: the job's pace
BULK_PAST_END_SECONDS = 0.1  # a look is timed for this long after the end the pace foresees


class Answer(NamedTuple):
    """Salesforce's answer for one record: written or not, its id, why not; ``unknown`` when it
    may have been written though no answer says so."""

    ok: bool
    id: str | None = None
    error: str | None = None
    unknown: bool = False


def bulk_write(
    session: Session, sobject: str, op: str, payloads: list[dict[str, Any]]
) -> list[Answer | None]:
    """One Bulk API 2.0 ingest job; results are matched back to the writes by their CSV row."""
    operation = {"create": "insert", "update": "update", "delete": "delete"}[op]
    header = list(dict.fromkeys(name for payload in payloads for name in payload))
    rows = [
        tuple(_csv_cell(payload[name]) if name in payload else "" for name in header) for payload in payloads
    ]
    return BulkJob(session, sobject, operation, header).run(rows)


class BulkJob:
    """One ingest job: create, upload the CSV, close, wait, read both result files. Every request is
    counted as ``bulk``. Nothing is written before the job is closed, so an upload that fails in
    doubt is abandoned (the job aborted) rather than repeated."""

    def __init__(self, session: Session, sobject: str, operation: str, header: list[str]):
        self.session, self.sobject, self.operation, self.header = session, sobject, operation, header
        self.id = ""

    def run(self, rows: list[tuple[str, ...]]) -> list[Answer | None]:
        """Each row's (ok, id, error), or None when the job did not process it."""
        spec = {"object": self.sobject, "operation": self.operation, "contentType": "CSV", "lineEnding": "LF"}
        # a replayed job creation leaves an empty open job behind, which Salesforce expires
        try:
            self.id = self._json("POST", "jobs/ingest", json=spec)["id"]
        except ConnectorError as e:
            log.warning("no Bulk API job for %s: %s", self.sobject, e.message)
            return [None] * len(rows)
        try:
            self._send(
                "PUT", f"jobs/ingest/{self.id}/batches", _csv_text(self.header, rows), replay_safe=False
            )
        except ConnectorError as e:  # nothing is written before the job is closed
            log.warning("the upload to Bulk API job %s failed (%s); the job is aborted", self.id, e.message)
            self._abort()
            return [None] * len(rows)
        try:
            self._json("PATCH", f"jobs/ingest/{self.id}", json={"state": "UploadComplete"})
        except ApiFailure as e:  # a replayed close after the first one went through
            if e.code != "INVALIDJOBSTATE":
                raise self._unknown(e) from e
        except ConnectorError as e:
            raise self._unknown(e) from e
        state = self._wait(len(rows))
        if state["state"] != "JobComplete":
            log.warning("Bulk API job %s ended %s: %s", self.id, state["state"], state.get("errorMessage"))
        try:
            return self._results(rows, state)
        except ConnectorError as e:
            raise self._unknown(e) from e

    def _wait(self, rows: int) -> dict[str, Any]:
        """The job's state once it ended. The pace is measured from the first look that finds
        rows done (the job's start, which can take a while, would make it look slow), and each
        later look is timed for just after the end that pace foresees, within BULK_POLL_SECONDS;
        while a look finds nothing new, the wait doubles. A job of any size is followed in a
        handful of status requests, and its end noticed soon after it comes."""
        shortest, longest = BULK_POLL_SECONDS
        first: tuple[float, int] | None = None  # when rows were first seen done, and how many

        def next_look(retry: RetryCallState) -> float:
            nonlocal first
            state, seen = retry.outcome.result(), time.monotonic()  # type: ignore[union-attr]
            done = int(state.get("numberRecordsProcessed") or 0)
            if done and first is None:
                first = (seen, done)
                return BULK_PACE_SECONDS
            if first is None or done <= first[1]:
                return min(longest, max(shortest, (retry.upcoming_sleep or shortest) * 2))
            left = (rows - done) * (seen - first[0]) / (done - first[1])
            return min(longest, max(shortest, left + BULK_PAST_END_SECONDS))

        def timed_out(retry: RetryCallState) -> dict[str, Any]:
            state = retry.outcome.result()  # type: ignore[union-attr]
            raise self._unknown(ConnectorError(f"still {state.get('state')} after {BULK_TIMEOUT_SECONDS} s"))

        time.sleep(shortest)  # a job just closed has not ended yet
        try:
            return Retrying(
                retry=retry_if_result(lambda state: state.get("state") not in ("JobComplete", "Failed", "Aborted")),
                wait=next_look, stop=stop_after_delay(BULK_TIMEOUT_SECONDS), retry_error_callback=timed_out,
            )(self._json, "GET", f"jobs/ingest/{self.id}")  # fmt: skip
        except ConnectorError as e:
            raise self._unknown(e) from e

    def _unknown(self, error: ConnectorError) -> OutcomeUnknown:
        return OutcomeUnknown(
            f"outcome unknown: Bulk API job {self.id} on {self.sobject} could not be followed to its end "
            f"({error.message}); its creates are looked for before any is sent again"
        )

    def _results(self, rows: list[tuple[str, ...]], state: dict[str, Any]) -> list[Answer | None]:
        """Result rows matched back to the writes: by all their cells (identical rows are
        interchangeable), then, for updates and deletes, by record id. Only the result files the
        job's counts say hold rows are read. When the job processed fewer rows than it was given,
        its unprocessed records name those it never reached (None); a row found in no result is
        a ConnectorError, since it may have been written."""
        waiting: dict[tuple[str, ...], int | list[int]] = {}  # a row's cells -> the write(s) holding them
        for index, row in enumerate(rows):
            if (held := waiting.setdefault(row, index)) != index:
                waiting[row] = [*held, index] if isinstance(held, list) else [held, index]
        answers: list[Answer | None] = [None] * len(rows)
        found: set[int] = set()
        unmatched: list[tuple[str, dict[str, str]]] = []
        processed = int(state.get("numberRecordsProcessed") or 0)
        failed = int(state.get("numberRecordsFailed", processed) or 0)  # unsaid: maybe all of them
        kinds = (
            *(("successfulResults",) if failed < processed else ()),
            *(("failedResults",) if failed else ()),
            *(("unprocessedrecords",) if processed < len(rows) else ()),
        )
        for kind in kinds:
            answer = io.BytesIO(self._send("GET", f"jobs/ingest/{self.id}/{kind}"))
            results = csv.reader(io.TextIOWrapper(answer, encoding="utf-8", newline=""))  # decoded as read
            columns = {name: position for position, name in enumerate(next(results, []))}
            cells, id_at, error_at = _row_cells(columns, self.header), columns.get("sf__Id"), columns.get("sf__Error")
            for result in results:
                index = _take(waiting, cells(result))
                if index is not None:
                    found.add(index)
                    answers[index] = _bulk_answer(kind, _cell(result, id_at), _cell(result, error_at))
                else:
                    unmatched.append((kind, dict(zip(columns, result, strict=False))))
        if unmatched and "Id" in self.header:
            column = self.header.index("Id")
            by_id = {rows[i][column][:15]: i for i in range(len(rows)) if i not in found}
            for kind, result in unmatched:
                index = by_id.pop((result.get("Id") or result.get("sf__Id") or "")[:15], None)
                if index is not None:
                    found.add(index)
                    answers[index] = _bulk_answer(kind, result.get("sf__Id", ""), result.get("sf__Error", ""))
        if len(found) < len(rows):
            raise ConnectorError(
                f"the results of Bulk API job {self.id} leave out {len(rows) - len(found)} of its rows"
            )
        return answers

    def _abort(self) -> None:
        try:
            self._json("PATCH", f"jobs/ingest/{self.id}", json={"state": "Aborted"})
        except ConnectorError as e:
            log.warning("could not abort Bulk API job %s: %s", self.id, e.message)

    def _json(self, method: str, path: str, json: Any = None) -> Any:
        return self.session.call(
            "bulk", lambda sf: sf.restful(path, method=method, json=json, timeout=TIMEOUT) or {}
        )

    def _send(self, method: str, path: str, text: str | None = None, replay_safe: bool = True) -> bytes:
        """A CSV request or answer, which simple-salesforce's JSON helpers do not handle."""

        def send(sf: Salesforce) -> bytes:
            headers = {**sf.headers, "Content-Type": "text/csv", "Accept": "text/csv"}
            data = text.encode("utf-8") if text is not None else None
            answer = sf.session.request(
                method, sf.base_url + path, headers=headers, data=data, timeout=TIMEOUT
            )
            if limit_info := answer.headers.get("Sforce-Limit-Info"):
                sf.api_usage = Salesforce.parse_api_usage(limit_info)
            if answer.status_code >= 300:
                exception_handler(answer, path)
            return answer.content

        return self.session.call("bulk", send, replay_safe=replay_safe)


def _csv_cell(value: Any) -> str:
    """A value as a Bulk API CSV cell: ``#N/A`` empties a field, an empty cell leaves it alone."""
    if value is None or value == "":
        return "#N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_text(header: list[str], rows: list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _row_cells(columns: Mapping[str, int], header: list[str]) -> Callable[[list[str]], tuple[str, ...]]:
    """What picks a result row's cells of the uploaded columns, in the upload's order (a column
    the results leave out reads empty)."""
    positions = [columns.get(name) for name in header]
    if len(positions) > 1 and None not in positions:
        return operator.itemgetter(*positions)  # type: ignore[return-value]
    return lambda row: tuple(row[p] if p is not None else "" for p in positions)


def _take(waiting: dict[tuple[str, ...], int | list[int]], cells: tuple[str, ...]) -> int | None:
    """The write a result row answers, no longer waiting; None when no write holds its cells."""
    held = waiting.get(cells)
    if isinstance(held, list):
        return held.pop() if held else None
    waiting.pop(cells, None)
    return held


def _cell(row: list[str], position: int | None) -> str:
    return row[position] if position is not None and position < len(row) else ""


def _bulk_answer(kind: str, record_id: str, error: str) -> Answer | None:
    if kind == "unprocessedrecords":
        return None
    if kind == "successfulResults":
        return Answer(True, record_id or None)
    return Answer(False, record_id or None, _bulk_error(error))


_BULK_ERROR = re.compile(r"(?P<code>[A-Z_]+):(?P<message>.*?)(?::(?P<fields>[\w,]*))?\s*--\s*$", re.S)


def _bulk_error(text: str) -> str:
    """``REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --`` in the
    shape collections errors have: ``REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]``."""
    match = _BULK_ERROR.fullmatch(text.strip())
    if not match:
        return text.strip() or "failed without an error message"
    return f"{match['code']}: {match['message'].strip()}"

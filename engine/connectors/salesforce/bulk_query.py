"""Bulk API 2.0 query jobs: a large read in a few calls (create the job, wait for it, read its
CSV results up to ``RESULTS_PAGE`` rows a call) instead of a call per 2,000 records.

A CSV cell is text; each is given the value a REST read gives its field (by the describe's field
types), so a record reads the same either way: empty is null, booleans and numbers are typed,
datetimes are written as REST writes them, and parent fields (`Owner.Name`) are nested. A parent
whose fields are all empty reads as no parent. A query job cannot sort: its rows come in any order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from simple_salesforce import Salesforce
from simple_salesforce.util import exception_handler
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_exponential

from engine.connectors import soql
from engine.connectors.salesforce.session import TIMEOUT, Session
from engine.errors import ConnectorError

RESULTS_PAGE = 100_000  # rows per results call (`maxRecords`)
QUERY_TIMEOUT_SECONDS = 3600


def query_rows(
    session: Session, text: str, include_deleted: bool, types: Mapping[str, str]
) -> Iterator[dict[str, Any]]:
    """The rows of a SOQL query (without ORDER BY) as a REST read gives them, read by one query
    job; ``types`` are the queried object's field types, from its describe."""
    body = {"operation": "queryAll" if include_deleted else "query", "query": text}
    job = session.call(
        "bulk_query", lambda sf: sf.restful("jobs/query", method="POST", json=body, timeout=TIMEOUT)
    )
    path = f"jobs/query/{job['id']}"
    state = Retrying(
        retry=retry_if_result(lambda state: state.get("state") in ("UploadComplete", "InProgress")),
        wait=wait_exponential(multiplier=0.2, max=10), stop=stop_after_delay(QUERY_TIMEOUT_SECONDS),
        retry_error_callback=lambda retry: retry.outcome.result(),  # type: ignore[union-attr]
    )(session.call, "bulk_query", lambda sf: sf.restful(path, timeout=TIMEOUT))  # fmt: skip
    if state.get("state") != "JobComplete":
        raise ConnectorError(
            f"the Bulk API query job {job['id']} ended {state.get('state')}: {state.get('errorMessage') or ''}",
            hint="try again; a read of fewer records than `bulk_read_threshold` goes through REST pages",
        )
    locator: str | None = None
    while True:
        params = {"maxRecords": RESULTS_PAGE, **({"locator": locator} if locator else {})}
        content, locator = session.call(
            "bulk_results", lambda sf, params=params: _results(sf, f"{path}/results", params)
        )
        cells = csv.reader(io.TextIOWrapper(io.BytesIO(content), encoding="utf-8", newline=""))
        header = next(cells, [])
        convert = [_converter(types.get(name, "string") if "." not in name else "string") for name in header]
        for row in cells:
            yield _nested({name: to_value(cell) for name, to_value, cell in zip(header, convert, row, strict=True)})
        if not locator or locator == "null":
            return


def _results(sf: Salesforce, path: str, params: Mapping[str, Any]) -> tuple[bytes, str | None]:
    answer = sf.session.get(
        sf.base_url + path, headers={**sf.headers, "Accept": "text/csv"}, params=params, timeout=TIMEOUT
    )
    if limit_info := answer.headers.get("Sforce-Limit-Info"):
        sf.api_usage = Salesforce.parse_api_usage(limit_info)
    if answer.status_code >= 300:
        exception_handler(answer, path)
    return answer.content, answer.headers.get("Sforce-Locator")


def _converter(kind: str) -> Callable[[str], Any]:
    """A cell's value as a REST read gives a field of this describe type."""
    if kind == "boolean":
        return lambda cell: None if cell == "" else cell.lower() == "true"
    if kind in ("int", "long"):
        return lambda cell: None if cell == "" else int(cell)
    if kind in soql.NUMBER_TYPES:
        return lambda cell: None if cell == "" else float(cell)
    if kind == "datetime":  # Bulk writes `...000Z` where REST writes `...000+0000`
        return lambda cell: None if cell == "" else cell[:-1] + "+0000" if cell.endswith("Z") else cell
    return lambda cell: None if cell == "" else cell


def _nested(row: dict[str, Any]) -> dict[str, Any]:
    """Parent fields (`Owner.Name`) as REST nests them; a parent with no value read is none."""
    if not any("." in name for name in row):
        return row
    nested: dict[str, Any] = {}
    for name, value in row.items():
        *parents, field = name.split(".")
        place = nested
        for parent in parents:
            place = place.setdefault(parent, {})
        place[field] = value
    return {name: None if isinstance(value, dict) and _empty(value) else value for name, value in nested.items()}


def _empty(value: Any) -> bool:
    return all(_empty(v) for v in value.values()) if isinstance(value, dict) else value is None

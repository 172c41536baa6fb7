"""Reading an org: the pages of a SOQL query, rows as records, and what keeps an incremental read
from delivering a record twice (the overlap's window) or delivering syncmap's own writes."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import quote_plus

from engine.connectors import ObjectInfo, Record, soql
from engine.connectors.salesforce.bulk_query import query_rows
from engine.connectors.salesforce.session import TIMEOUT, ApiFailure, Session
from engine.errors import ConnectorError
from engine.times import format_time, parse_time

MAX_QUERY_LENGTH = 16_000  # URL-encoded SOQL per query; REST URIs must stay under 16,384 bytes


def rows(
    session: Session, text: str, include_deleted: bool, what: str, bulk: BulkRead | None = None
) -> Iterator[dict[str, Any]]:
    """The rows of one query, a page at a time (queryMore follows nextRecordsUrl); with ``bulk``,
    a query whose first page says it has more rows than its threshold is read by a Bulk API
    query job instead, in a few calls (that page is let go)."""
    try:
        page = session.call(
            "query", lambda sf: sf.query(text, include_deleted=include_deleted, timeout=TIMEOUT)
        )
        if bulk and not page.get("done", True) and page.get("totalSize", 0) > bulk.threshold:
            unsorted = text.rpartition(" ORDER BY ")[0] or text  # a query job cannot sort
            yield from query_rows(session, unsorted, include_deleted, bulk.types)
            return
        while True:
            yield from page.get("records", [])
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            url = page["nextRecordsUrl"]
            page = session.call(
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


class BulkRead(NamedTuple):
    threshold: int  # more rows than this are read by a Bulk API query job
    types: Mapping[str, str]  # the object's field types, as its describe names them


def not_own_writes(
    stamp: str, username: str, own_writes: Sequence[tuple[str, ...]], floor: datetime | None
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
    user = f"LastModifiedBy.Username != {soql.quote(username)}"
    windows = " AND ".join(f"({window})" for window in outside)  # SOQL wants AND inside OR bracketed
    return [f"({user} OR {windows if len(outside) == 1 else f'({windows})'})"]


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


def plain(value: Any) -> Any:
    """A row as Salesforce sent it, without the ``attributes`` of it or its parent records."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "attributes"}
    return value


def as_record(info: ObjectInfo, row: dict[str, Any]) -> Record:
    values = plain(row)
    stamp = values.get(info.modified_field) if info.modified_field else None
    modified = format_time(parse_time(stamp)) if stamp else None
    return Record(info.name, values["Id"], values, modified=modified, deleted=bool(values.get("IsDeleted")))


def in_queries(head: str, tail: str, literals: list[str]) -> Iterator[str]:
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

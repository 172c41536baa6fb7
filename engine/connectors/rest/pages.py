"""Reading a list endpoint page by page, in each pagination style an API may use, and refusing
what would read forever or read nothing: the same next page twice, a body that is not JSON, a
`records:` expression that selects nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jmespath

from engine.connectors.rest.http import Answer, Http, NotJson
from engine.connectors.rest.settings import ListCall
from engine.errors import ConnectorError, SettingError
from engine.redact import shorten


def pages(
    http: Http, object_type: str, call: ListCall, params: dict[str, Any], id_field: str
) -> Iterator[list[dict[str, Any]]]:
    """The records of each page in order, following the pagination until its last page."""
    paginate = call.paginate
    url: str = call.path
    query: dict[str, Any] | None = dict(params)
    if paginate.style in ("offset", "page") and paginate.size_param:
        query[paginate.size_param] = paginate.size
    position = paginate.first_page if paginate.style == "page" else 0
    followed: set[str] = set()
    previous_ids: list[Any] | None = None
    while True:
        if paginate.style in ("offset", "page") and query is not None:
            query[paginate.param or ("_start" if paginate.style == "offset" else "_page")] = position
        answer = http.call("GET", url, query)
        records = _records(answer, object_type, call, url)
        ids = [record.get(id_field) for record in records]
        if records and ids == previous_ids:
            raise _loop(answer, f"the same {len(records)} records came twice")
        previous_ids = ids
        yield records
        if paginate.style == "none":
            return
        if paginate.style in ("offset", "page"):
            if len(records) < paginate.size:
                return
            position += len(records) if paginate.style == "offset" else 1
            continue
        following = _following(answer, paginate.style, paginate.next)
        if not following:
            return
        if following in followed:
            raise _loop(answer, f"it gave the next page `{shorten(following, 120)}` a second time")
        followed.add(following)
        if paginate.style == "cursor":
            query = {**params, paginate.param or "cursor": following}
        else:
            url, query = following, None  # a next link carries its own query


def _records(answer: Answer, object_type: str, call: ListCall, url: str) -> list[dict[str, Any]]:
    where = f"GET {answer.response.request.url}"
    if answer.status == 404:
        raise SettingError(
            f"objects.{object_type}.list.path",
            f"{where} answered 404: the API has no `{url}`",
            hint="check `list.path` against the API's documentation",
        )
    if answer.status >= 400:
        raise ConnectorError(f"{where} answered {answer.status}: {_first_bytes(answer)}")
    if answer.body is NotJson:
        raise ConnectorError(
            f"{where} did not answer JSON: {_first_bytes(answer)}",
            hint="check `base_url` and `list.path`: they may name a web page, not the API",
        )
    selected = jmespath.search(call.records, answer.body)
    if not isinstance(selected, list) or not all(isinstance(record, dict) for record in selected):
        raise ConnectorError(
            f"`records: {call.records}` selects no list of records in the body of {where}: {_first_bytes(answer)}",
            hint="point `records` at the list in the body, e.g. `data` or `results`",
        )
    return selected


def _following(answer: Answer, style: str, next_path: str | None) -> str | None:
    """The next page's link or cursor, or None on the last page."""
    if style == "link_header":
        return answer.response.links.get("next", {}).get("url") or None
    found = jmespath.search(next_path or "next", answer.body)
    return str(found) if found not in (None, "") else None


def _loop(answer: Answer, why: str) -> ConnectorError:
    return ConnectorError(
        f"the pages of GET {answer.response.request.url} loop: {why}; the read stopped",
        hint="check `paginate`: the style and where the next page is",
    )


def _first_bytes(answer: Answer) -> str:
    return repr(shorten(answer.response.text, 120)) if answer.response.content else "(empty body)"

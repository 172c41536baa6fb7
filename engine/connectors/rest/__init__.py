"""The rest connector: a platform's HTTP JSON API, described in the connection's settings, read
and written both ways with no code.

Per record type (`objects:`), the settings say how to list records (path, query parameters,
`records:` in the body, the pagination, the `since:` parameter for incremental reads), how to get
one by id, find by a field, and create, update and delete (see ``settings``). A side may name the
id (`id:`), modification time (`modified:`) and soft-delete (`deleted:`) fields; with `deleted:`,
a delete sets that field to the current time instead of calling `delete`.

- A read without `since:` lists every record each run; syncmap's digests of the records read at
  the watermark still tell the unchanged ones apart. Records come in the API's order.
- Writes go out ``concurrency`` at a time, one request per record; each gets its own result,
  carrying the API's status and message. A create whose answer was lost, or that answered
  without an id, is reported as unknown: the journal looks for it on the next run instead of
  creating it again.
- Describe gives the declared `fields`, or the fields of a sample page; never authoritative.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """`RestConnector` is imported when asked for: the connection settings the mapping schema
    reads (``settings``) need no HTTP client, and every command starts sooner without one."""
    if name == "RestConnector":
        from engine.connectors.rest.connector import RestConnector

        return RestConnector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The settings of the `rest` connector, typed: the single source of what a connection may say,
checked when it opens and published in the mapping schema (so an editor completes them).

Everything a platform's API needs is described here, per record type under `objects`: how to
list records (the path, the records in the body, the pagination, the incremental parameter), how
to get one, find by a field, and create, update and delete. Nothing here runs code.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from engine.connectors.settings import Settings, secret

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class Bearer(Settings):
    """`Authorization: Bearer <token>` on every request."""

    type: Literal["bearer"] = Field(description="`bearer`")
    token: str = secret("The token")


class ApiKey(Settings):
    """A key sent in a header (`header: X-Api-Key`, the default) or the query (`query: api_key`)."""

    type: Literal["api_key"] = Field(description="`api_key`")
    key: str = secret("The key")
    header: str | None = Field(None, description="The header that carries the key (`X-Api-Key`).")
    query: str | None = Field(None, description="The query parameter that carries it, instead of a header.")


class Basic(Settings):
    """HTTP basic authentication."""

    type: Literal["basic"] = Field(description="`basic`")
    username: str = Field(description="The user name.")
    password: str = secret("The password")


class ClientCredentials(Settings):
    """OAuth 2 client credentials: a token fetched from `token_url`, renewed before it expires."""

    type: Literal["oauth2_client_credentials"] = Field(description="`oauth2_client_credentials`")
    token_url: str = Field(description="The token endpoint, e.g. `https://api.example.com/oauth/token`.")
    client_id: str = Field(description="The client id.")
    client_secret: str = secret("The client secret")
    scope: str | None = Field(None, description="The scope asked for, when the API wants one.")


Auth = Annotated[Bearer | ApiKey | Basic | ClientCredentials, Field(discriminator="type")]


class Paginate(Settings):
    """How the next page is found."""

    style: Literal["none", "link_header", "next_link", "cursor", "offset", "page"] = Field(
        "none",
        description=(
            "`link_header`: the `Link` header's `rel=next`; `next_link`: a URL in the body at `next`; "
            "`cursor`: a token in the body at `next`, sent back as `param`; `offset`: `param` is the "
            "first record's index; `page`: `param` is the page number; `none`: one page."
        ),
    )
    next: str | None = Field(
        None, description="JMESPath to the next link or cursor in the body (`links.next`)."
    )
    param: str | None = Field(
        None,
        description="The query parameter of the cursor, offset or page number (`cursor`, `_start`, `_page`).",
    )
    size_param: str | None = Field(
        None, description="The query parameter of the page size (`_limit`, `per_page`)."
    )
    size: int = Field(
        100, ge=1, le=10_000, description="Records asked for per page; a shorter page is the last."
    )
    first_page: int = Field(1, description="The number of the first page (`page` style).")


class Since(Settings):
    """The query parameter that asks for records changed at or after a time."""

    param: str = Field(description="The query parameter, e.g. `updated_at_gte` or `modified_since`.")
    format: str = Field(
        "iso",
        description=(
            "`iso` (2026-11-23T10:00:00.123Z), `epoch` (seconds), `epoch_ms`, or a strftime "
            "pattern such as `%Y-%m-%d %H:%M:%S` (UTC); rounded down, never later than the watermark."
        ),
    )


class ListCall(Settings):
    """How records are listed: the read of every run."""

    path: str = Field(description="The list endpoint, relative to `base_url` (`/contacts`).")
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Query parameters sent on every list request (a sort order)."
    )
    records: str = Field(
        "@", min_length=1, description="JMESPath to the list of records in the body (`data`)."
    )
    paginate: Paginate = Field(Paginate(), description="The pagination: how the next page is found.")
    since: Since | None = Field(
        None, description="The incremental parameter; without it every run lists all."
    )


class GetCall(Settings):
    """How one record is fetched by its id."""

    path: str = Field(description="With `{id}` for the record's id, e.g. `/contacts/{id}`.")
    record: str = Field("@", min_length=1, description="JMESPath to the record in the body.")


class FindCall(Settings):
    """How records are found by a field; a field not named here is found by listing every record."""

    params: dict[str, str] = Field(
        default_factory=dict, description="Field -> the query parameter that filters by it (`email: email`)."
    )
    batch: int = Field(
        20, ge=1, le=500, description="Values asked for in one request (a repeated parameter)."
    )


class WriteCall(Settings):
    """How a record is created, updated or deleted."""

    method: Method = Field(description="The HTTP method: POST, PUT, PATCH or DELETE.")
    path: str = Field(description="The endpoint; `{id}` is the record's id (`/contacts/{id}`).")
    wrap: str | None = Field(None, description="Send the values as `{<wrap>: values}` instead of bare.")
    id: str | None = Field(
        None, description="JMESPath to the new id in a create's answer (`data.id`); the id field by default."
    )
    idempotency_header: str | None = Field(
        None,
        description="The header taking an idempotency key (`Idempotency-Key`): a create is then retried.",
    )


class BatchCall(Settings):
    """One request carrying many records of one kind, where the API has such an endpoint; its
    answer holds one result per record, in the order sent."""

    method: Method = Field(description="The HTTP method, usually POST.")
    path: str = Field(description="The batch endpoint (`/contacts/batch`).")
    size: int = Field(100, ge=1, le=10_000, description="Records per request, the API's limit.")
    wrap: str | None = Field(None, description="Send `{<wrap>: [records]}` instead of a bare list.")
    results: str = Field("@", min_length=1, description="JMESPath to the list of results in the answer.")
    id: str = Field("id", min_length=1, description="JMESPath to the record's id in its result.")
    error: str = Field("error", min_length=1, description="JMESPath to the error in a result that failed.")
    idempotency_header: str | None = Field(
        None, description="The header taking an idempotency key: with it, a batch of creates is retried."
    )


class ObjectSettings(Settings):
    """One record type of the API."""

    list: ListCall = Field(description="How records are listed.")
    get: GetCall | None = Field(None, description="How one record is fetched; without it, by listing.")
    find: FindCall = Field(FindCall(), description="How records are found by a field.")
    create: WriteCall | None = Field(None, description="How a record is created; without it, none is.")
    update: WriteCall | None = Field(None, description="How a record is updated (and soft-deleted).")
    delete: WriteCall | None = Field(None, description="How a record is deleted.")
    create_batch: BatchCall | None = Field(
        None, description="Creates many records in one request; else one each."
    )
    update_batch: BatchCall | None = Field(
        None, description="Updates many records in one request (each carries its id); else one each."
    )
    id_field: str = Field("id", description="The field holding a record's id.")
    modified_field: str | None = Field(
        "updated_at", description="The field holding when a record last changed."
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Field -> type (string, number, boolean, datetime, ...); inferred from a page when empty.",
    )


class RestSettings(Settings):
    """The `rest` connector's settings."""

    base_url: str = Field(
        pattern=r"^(https?://|\$\{)", description="The API's root, e.g. `https://api.example.com/v2`."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Headers sent on every request.")
    auth: Auth | None = Field(None, description="How requests authenticate; none when left out.")
    timeout_seconds: float = Field(30, gt=0, description="How long to wait for an answer.")
    max_requests_per_second: float | None = Field(
        None, gt=0, description="A ceiling on requests started per second."
    )
    concurrency: int = Field(4, ge=1, le=64, description="Requests in flight at once (writes and gets).")
    retries: int = Field(
        5, ge=0, le=20, description="Tries again after a 429, a 502-504 or a lost connection."
    )
    max_retry_wait_seconds: float = Field(60, ge=0, description="The longest wait before trying again.")
    ca_file: str | None = Field(
        None, description="A CA bundle for a server with its own certificate authority."
    )
    objects: dict[str, ObjectSettings] = Field(description="The API's record types, by the name sides use.")

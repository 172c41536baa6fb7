"""The settings of the built-in connectors, typed: each connector checks its settings with its
model when it opens (``typed_settings``), and the mapping schema publishes every model for the
connection naming that connector, so an editor completes and checks them.

The rest connector's settings, larger, live beside it in ``engine.connectors.rest.settings``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from engine.model import ENV_REFERENCE_PATTERN


class Settings(BaseModel):
    """Unknown settings are errors (they are usually typos); settings never change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def secret(what: str, default: Any = ...) -> Any:
    """A secret setting: the document must write an environment reference (the published schema
    says so); the connector gets the value it names."""
    return Field(
        default,
        description=f"{what}: an environment reference such as `${{SECRET}}`, never the value.",
        json_schema_extra={"pattern": ENV_REFERENCE_PATTERN},
    )


ID_FIELD = Field("id", description="The field holding a record's id.")
MODIFIED_FIELD = Field("updated_at", description="The field holding when a record last changed.")


class SqliteSettings(Settings):
    """syncmap's own store: one table per record type in a SQLite file."""

    path: str = Field(
        description="The database file, relative to the mapping document (`:memory:` for none)."
    )
    id_field: str = ID_FIELD
    modified_field: str = MODIFIED_FIELD


class MemorySettings(Settings):
    """Records in this process's memory (tests and `syncmap test`)."""

    store: str | None = Field(
        None, description="A named store shared by connections; a private one when left out."
    )
    id_field: str = ID_FIELD
    modified_field: str = MODIFIED_FIELD


class JsonlSettings(Settings):
    """Read-only fixture files: `<path>/<record type>.jsonl`."""

    path: str = Field(description="The folder of the files, relative to the mapping document.")
    id_field: str = ID_FIELD
    modified_field: str = MODIFIED_FIELD


class CsvSettings(Settings):
    """CSV files: `<path>/<record type>.csv`, or a folder of them per record type."""

    path: str = Field(description="The folder of the files, relative to the mapping document.")
    delimiter: str = Field(",", description='One character between cells (`";"`, `"\\t"`).')
    quote: str = Field('"', description="One character around cells holding the delimiter.")
    encoding: str = Field(
        "utf-8", description="`utf-8` (a byte order mark read and kept), `latin-1`, any codec."
    )
    null: str = Field("", description="The cell text that means no value (an empty cell by default).")
    id_field: str = ID_FIELD
    lock_timeout_seconds: float = Field(60, ge=0, description="How long a writer waits for another's lock.")


class SqlSettings(Settings):
    """A customer's database through SQLAlchemy: PostgreSQL, SQLite, any dialect with a driver."""

    url: str = Field(
        description="A database url; its password from the environment: `postgresql://app:${APP_DB_PASSWORD}@db/app`."
    )
    schema_: str | None = Field(
        None, alias="schema", description="The schema holding the tables (PostgreSQL)."
    )


class SalesforceSettings(Settings):
    """A Salesforce org through its REST API. Sign in with `instance_url` + `session_id`,
    `username` + `password` + `security_token`, `client_id` + `client_secret` + `domain`, or
    `client_id` + `username` + `private_key_file` (the JWT bearer flow)."""

    instance_url: str | None = Field(
        None, description="The org's URL, e.g. `https://acme.my.salesforce.com`."
    )
    session_id: str | None = secret("A session id (or access token)", None)
    username: str | None = Field(None, description="The user syncmap signs in and writes as.")
    password: str | None = secret("The user's password", None)
    security_token: str | None = secret("The user's security token", None)
    domain: str | None = Field(None, description="`login` (production), `test` (sandboxes) or a My Domain.")
    client_id: str | None = Field(None, description="A connected app's consumer key (client credentials).")
    client_secret: str | None = secret("The connected app's consumer secret", None)
    private_key_file: str | None = Field(
        None,
        description="The PEM private key the JWT bearer flow signs with (the app holds its certificate).",
    )
    login_url: str | None = Field(
        None,
        description="Where to sign in (default `https://<domain>.salesforce.com`), e.g. a My Domain URL.",
    )
    api_version: str | None = Field(None, description="The REST API version, e.g. `59.0`.")
    sandbox: str | None = Field(
        None,
        description="A local org file (`syncmap sandbox --db FILE` makes one), served over loopback HTTPS "
        "for the run: no credentials, nothing to start by hand.",
    )
    ca_file: str | None = Field(
        None, description="A CA bundle: only for `syncmap sandbox`'s local certificate."
    )
    bulk_threshold: int = Field(
        2000, ge=0, description="More writes than this of one kind go through Bulk API 2.0."
    )
    bulk_read_threshold: int = Field(
        10_000, ge=0,
        description="A read of more records than this goes through a Bulk API 2.0 query job (a few calls) "
        "instead of pages of 2,000 (a call each).",
    )  # fmt: skip
    batch_size: int = Field(200, ge=1, le=200, description="Records per sObject Collections call.")
    bulk_job_size: int = Field(
        100_000, ge=1, description="Most records in one Bulk API 2.0 job: apply hands over this many at once."
    )
    api_reserve: int | None = Field(
        None, ge=0,
        description="Daily API calls kept for the org's other integrations: a run whose writes would use "
        "them stops before writing (default: a tenth of the org's daily limit).",
    )  # fmt: skip
    max_retries: int = Field(
        5, ge=0, le=100, description="Tries again when the org is busy or over its limits."
    )
    overlap_seconds: float = Field(
        60, ge=0, le=86400, description="A read starts this long before the watermark (late transactions)."
    )
    retry_delay_seconds: float = Field(1.0, ge=0, le=600, description="The first wait before trying again.")
    skip_own_changes: StrictBool | None = Field(
        None,
        description="Leave out of reads what `username` changed while syncmap was writing: `true` all of "
        "it, `false` none; by default the records it created, unchanged since.",
    )

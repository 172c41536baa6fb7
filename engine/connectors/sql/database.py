"""The database behind a sql connection: its url (psycopg 3 for PostgreSQL, a SQLite path from
the mapping's folder, read-only for a dry run), its engine and connections, and its errors as
ConnectorErrors naming it, never with its password."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from engine.errors import ConnectorError, SettingError
from engine.redact import register


class Database:
    """One database, opened once per connection."""

    def __init__(self, url_text: str, base_dir: Path | None, read_only: bool):
        self.url, self.read_only = database_url(url_text, base_dir, read_only), read_only
        if self.url.password:
            register(str(self.url.password))
        self.where = shown(self.url)  # the database, as messages name it
        self.engine = self._engine()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _engine(self) -> sa.Engine:
        options: dict[str, Any] = {}
        if self.url.get_backend_name() == "postgresql":
            options["execution_options"] = {"postgresql_readonly": self.read_only}
            options["connect_args"] = {"connect_timeout": 10}
        try:
            engine = sa.create_engine(self.url, pool_pre_ping=True, **options)
        except (ArgumentError, NoSuchModuleError, ImportError) as e:
            raise SettingError(
                "url", f"cannot use the database url {self.where}: {e}", hint=url_hint()
            ) from None
        with self.errors("connecting"):
            engine.connect().close()
        return engine

    @contextmanager
    def connection(self, action: str) -> Iterator[sa.Connection]:
        with self.errors(action), self.engine.connect() as connection:
            yield connection

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Database errors leave the connector as ConnectorError naming the database (never its
        password) and what failed."""
        try:
            yield
        except SQLAlchemyError as e:
            raise _database_error(self.url, action, e) from None


def database_url(text: str, base_dir: Path | None, read_only: bool) -> sa.URL:
    """The url SQLAlchemy opens: psycopg 3 for PostgreSQL unless a driver is named; a relative
    SQLite path taken from the mapping's folder; a read-only SQLite file opened ``mode=ro``."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise SettingError("url", "the `url` setting is not a database url", hint=url_hint()) from None
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return url
    path = Path(base_dir or Path.cwd()) / url.database
    if read_only:
        if not path.is_file():
            raise SettingError(
                "url", f"the database file {path} does not exist",
                hint="check `url`; a dry run opens databases read-only and creates nothing",
            )  # fmt: skip
        return url.set(database=f"file:{path}?mode=ro", query={**url.query, "uri": "true"})
    return url.set(database=str(path))


def url_hint() -> str:
    return "write it like postgresql://app:${APP_DB_PASSWORD}@host:5432/app or sqlite:///app.db"


def shown(url: sa.URL) -> str:
    """The url as messages show it: never the password, and a SQLite file by its path rather
    than the read-only URI it is opened with."""
    if url.get_backend_name() == "sqlite" and (url.database or "").startswith("file:"):
        url = url.set(database=(url.database or "").removeprefix("file:").split("?")[0], query={})
    return url.render_as_string(hide_password=True)


def _database_error(url: sa.URL, action: str, error: SQLAlchemyError) -> ConnectorError:
    where = shown(url)
    text = first_line(error)
    if isinstance(error, sa.exc.OperationalError):
        lowered = text.lower()
        if "authentication failed" in lowered or ("role" in lowered and "does not exist" in lowered):
            return ConnectorError(
                f"{where}: {action} failed: {text}", hint="check the user and the password variable"
            )
        if "does not exist" in lowered and "database" in lowered:
            return SettingError("url", f"{where}: {text}", hint="check the database name in `url`")
        if any(
            word in lowered
            for word in ("refused", "could not connect", "timeout expired", "no route", "name or service")
        ):
            host = f"{url.host or 'localhost'}:{url.port or 5432}"
            return ConnectorError(
                f"cannot reach {host} ({action}): {text}",
                hint="is the database server running and reachable?",
            )
        if url.get_backend_name() == "sqlite" and ("unable to open" in lowered or "readonly" in lowered):
            return SettingError(
                "url",
                f"{where}: {action} failed: {text}",
                hint="check the path in `url` and that the file is writable",
            )
    return ConnectorError(f"{where}: {action} failed: {text}")


def first_line(error: Exception) -> str:
    """The driver's own message (not SQLAlchemy's wrapping with the statement), its first line."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    return text.splitlines()[0] if text else type(original).__name__


def is_lock_timeout(error: DBAPIError) -> bool:
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return code in ("55P03", "40P01") or "database is locked" in str(error.orig)

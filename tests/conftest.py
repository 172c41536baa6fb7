"""Shared fixtures: throwaway projects on disk and the real `syncmap` command as a subprocess."""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.rest.servers import JsonServer

REPO = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("SYNCMAP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_configure(config: pytest.Config) -> None:
    """Most tests run `syncmap` as a process of its own: the package's bytecode is compiled once,
    as an installed package has it, not again in each process (PYTHONDONTWRITEBYTECODE, set on
    some machines, would have every one compile the whole engine)."""
    compileall.compile_dir(REPO / "engine", quiet=1)


def write_project(root: Path, files: dict[str, str | bytes]) -> Path:
    """A project folder (marked by `syncmap.toml`) holding the given files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "syncmap.toml").write_text("")
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict], Path]:
    """Write files into a fresh project and make it the working directory."""

    def make(files: dict[str, str | bytes]) -> Path:
        root = write_project(tmp_path / "project", files)
        monkeypatch.chdir(root)
        return root

    return make


def run_syncmap(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run the installed command exactly as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


# a salesforce connection's settings as a document writes them: the org from the environment
SALESFORCE_FROM_ENV = {
    "instance_url": "${SF_INSTANCE_URL}",
    "session_id": "${SF_SESSION_ID}",
    "ca_file": "${SF_CA_FILE}",
}


def sandbox_env(instance_url: str, session_id: str, ca_file: Path | str) -> dict[str, str]:
    """The environment the shipped Salesforce connections read, pointing at a sandbox org."""
    return {
        **os.environ,
        "SF_INSTANCE_URL": instance_url,
        "SF_SESSION_ID": session_id,
        "SF_CA_FILE": str(ca_file),
    }


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A fresh database for this test session on the PostgreSQL server, dropped afterwards."""
    admin = sa.create_engine(
        POSTGRES.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    name = f"syncmap_sql_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL at {POSTGRES} ({e.orig}); set SYNCMAP_TEST_POSTGRES")
    yield sa.make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def customer_database(kind: str, server: str | None, folder: Path, statements: Sequence[str]) -> str:
    """The url of a new database holding the tables ``statements`` create: a schema of its own
    in the session's PostgreSQL database (``server``), or a SQLite file ``app.db`` in ``folder``
    (the url relative to it, as a mapping there would write it)."""
    if kind == "postgresql":
        assert server is not None
        schema = f"s{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as connection:
            connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
            connection.execute(sa.text(f"SET search_path TO {schema}"))
            for statement in statements:
                connection.execute(sa.text(statement))
        engine.dispose()
        return f"{server}?options=-csearch_path%3D{schema}"
    engine = sa.create_engine(f"sqlite:///{folder / 'app.db'}")
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
    engine.dispose()
    return "sqlite:///app.db"


@pytest.fixture
def json_server(tmp_path: Path) -> Iterator[Callable[..., JsonServer]]:
    """Start json-server (a platform's REST API) over the given data; stopped afterwards."""
    started: list[JsonServer] = []

    def start(db: dict | None = None, **options) -> JsonServer:
        folder = tmp_path / f"platform{len(started)}"
        folder.mkdir()
        started.append(JsonServer(folder, db or {"contacts": [], "activities": []}, **options))
        return started[-1]

    yield start
    for server in started:
        server.stop()

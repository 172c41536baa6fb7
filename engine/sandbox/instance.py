"""A running sandbox: org, API and HTTPS server wired together, startable from Python or the CLI.

Tests use it as a context manager and get a real simple-salesforce client for it; the
``syncmap sandbox`` command starts one and prints how to reach it.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from simple_salesforce import Salesforce

from engine.errors import UsageError
from engine.sandbox import seed as seeding
from engine.sandbox.api import SandboxApi
from engine.sandbox.faults import Faults, FaultSettings
from engine.sandbox.oauth import ConnectedApp
from engine.sandbox.org import Org
from engine.sandbox.rest import API_VERSIONS, DAILY_API_REQUESTS, DEFAULT_API_VERSION
from engine.sandbox.schema import build_schema, read_describe_file
from engine.sandbox.server import Log, SandboxServer, bind
from engine.sandbox.standard import standard_objects
from engine.sandbox.store import Store
from engine.sandbox.tls import server_context

SHUTDOWN_POLL_SECONDS = 0.05


class Sandbox:
    """A local Salesforce-compatible REST API over HTTPS.

    ``seed`` takes JSON/JSONL files and record dicts; it is loaded only into a new database
    (and again on ``reset()``). ``drop_fields`` removes fields such as ``"Task.Type"``;
    ``person_accounts`` enables Person Accounts (an Account with a LastName is a person);
    ``daily_api_requests`` is the org's daily limit: past it, every call is refused with 403
    ``REQUEST_LIMIT_EXCEEDED`` until the counts are reset (``POST /_sandbox/reset``).
    """

    def __init__(
        self,
        db_path: str | Path | None = None,
        seed: Iterable[seeding.SeedSource] = (),
        describe_file: str | Path | None = None,
        drop_fields: Iterable[str] = (),
        person_accounts: bool = False,
        page_size: int = 2000,
        session_id: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        api_version: str = DEFAULT_API_VERSION,
        faults: FaultSettings | None = None,
        ca_file: str | Path | None = None,
        log: Log | None = None,
        clock: Callable[[], datetime] | None = None,
        daily_api_requests: int = DAILY_API_REQUESTS,
    ):
        if api_version not in API_VERSIONS:
            raise UsageError(f"unsupported API version {api_version}", ", ".join(API_VERSIONS))
        if page_size < 1:
            raise UsageError("page size must be at least 1")
        self.db_path = Path(db_path) if db_path else None
        self.seed_records = seeding.read_records(seed)
        entries = read_describe_file(Path(describe_file)) if describe_file else []
        self.schema = build_schema(standard_objects(person_accounts), entries, drop_fields)
        self.page_size = page_size
        self.session_id = session_id or "00D8d0000000001!" + secrets.token_urlsafe(32)
        self.host, self.port = host, port
        self.version = api_version
        self.faults = Faults(faults)
        self.daily_api_requests = daily_api_requests
        self._ca_file = Path(ca_file) if ca_file else None
        self._log = log
        self._clock = clock
        self._tempdir: str | None = None
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self.api: SandboxApi | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Open the database, seed a new one, and serve HTTPS in a background thread."""
        try:
            self._open_api()
            self._serve()
        except BaseException:
            self.stop()
            raise
        return self

    def _open_api(self) -> None:
        store = Store(self.db_path)
        first_start = store.next_number("starts") == 1
        org = Org(self.schema, store, self.version, self._clock)
        self.api = SandboxApi(
            org, self.session_id, self.page_size, self.faults, self._reseed, self.daily_api_requests
        )
        if first_start:
            seeding.apply(org, self.seed_records)

    def _serve(self) -> None:
        if self._ca_file is None:
            self._tempdir = tempfile.mkdtemp(prefix="syncmap-sandbox-")
            self._ca_file = Path(self._tempdir) / "ca.pem"
        context = server_context(self._ca_file)
        self._server = bind(self.host, self.port, self.api, context, self._log)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="syncmap-sandbox",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the database and remove the generated CA file."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.api is not None:
            self.api.org.store.close()
            self.api = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = self._ca_file = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- reaching it ---------------------------------------------------------------------------

    @property
    def instance_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"{self.instance_url}/_sandbox"

    @property
    def ca_file(self) -> Path:
        if self._ca_file is None:
            raise UsageError("the sandbox is not started")
        return self._ca_file

    def info(self) -> dict[str, Any]:
        """What a client needs to connect, as printed by ``syncmap sandbox`` on start."""
        return {
            "instance_url": self.instance_url,
            "session_id": self.session_id,
            "ca_file": str(self.ca_file),
            "admin_url": self.admin_url,
            "version": self.version,
        }

    def http_session(self) -> requests.Session:
        """A requests session that trusts the sandbox's certificate.

        ``trust_env`` is off because requests lets ``REQUESTS_CA_BUNDLE`` override a session's
        ``verify``, and a proxy from the environment must not see loopback traffic."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.ca_file)
        return session

    def client(self, session_id: str | None = None) -> Salesforce:
        """A real simple-salesforce client for this sandbox (optionally with another token)."""
        return Salesforce(
            instance_url=self.instance_url,
            session_id=session_id or self.session_id,
            session=self.http_session(),
            version=self.version,
        )

    # -- controlling it ------------------------------------------------------------------------

    def session_for(self, username: str) -> str:
        """A new session acting as another user of the org (created on first use), so a test
        can make changes that are someone else's."""
        return self._running().new_session(username)[0]

    def add_connected_app(self, app: ConnectedApp) -> None:
        """Let an integration sign in through ``/services/oauth2/token`` as this app."""
        self._running().connected_apps[app.client_id] = app

    def set_password(self, username: str, password: str) -> None:
        """A user's password (with its security token appended) for the username-password flow."""
        api = self._running()
        api.org.ensure_user(username)
        api.passwords[username] = password

    def stats(self) -> dict[str, Any]:
        """API calls so far: ``total``, ``by_kind`` and ``by_status``."""
        return self._running().state.stats.snapshot()

    def set_faults(self, **changes: Any) -> FaultSettings:
        """Change fault injection (rates, delay_ms, seed); the RNG restarts from the seed."""
        return self.faults.update(changes)

    def reset(self) -> None:
        """Back to the seeded records, with call counts, cursors and bulk jobs cleared."""
        self._running().reset()

    def _reseed(self) -> None:
        org = self._running().org
        org.reset()
        seeding.apply(org, self.seed_records)

    def _running(self) -> SandboxApi:
        if self.api is None:
            raise UsageError("the sandbox is not started")
        return self.api

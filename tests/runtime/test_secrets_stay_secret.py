"""A server that echoes the request's headers in its error answers cannot make the session id
reach the terminal, the state store or `syncmap runs`/`status`: messages are redacted before
they are cut, on every path out. Run through the CLI against a real TLS server on loopback."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.connectors.sqlite import SqliteConnector
from engine.sandbox.tls import server_context
from tests.conftest import run_syncmap, sandbox_env

SESSION_ID = "00D8d0000000001!AQ4AQHf3kP9sZx7wLmN2vB6t"  # 40 characters

MAPPING = """\
syncmap: 2
name: echo
connections:
  platform: {connector: sqlite, settings: {path: platform.db}}
  salesforce:
    connector: salesforce
    settings:
      instance_url: "${SF_INSTANCE_URL}"
      session_id: "${SF_SESSION_ID}"
      ca_file: "${SF_CA_FILE}"
      max_retries: 1
      retry_delay_seconds: 0
objects:
  contacts:
    source: {connection: platform, object: contacts}
    target: {connection: salesforce, object: Lead}
    direction: to_target
    match: [{source: email, target: Email, normalize: email}]
    fields:
      LastName: last_name
      Email: email
"""


class EchoHeaders(BaseHTTPRequestHandler):
    """Answers every request 500 with its headers in the body: the session id straddles the
    300th character, where messages are cut."""

    def answer(self) -> None:
        body = ("x" * 90 + " request headers were: " + str(self.headers)).encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca_file = tmp_path / "ca.pem"
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHeaders)
    server.socket = server_context(ca_file).wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", ca_file
    server.shutdown()
    server.server_close()


def pieces(secret: str, size: int = 8) -> list[str]:
    return [secret[start : start + size] for start in range(len(secret) - size + 1)]


def test_an_echoed_session_id_reaches_no_output_and_no_state(tmp_path, echo_server):
    url, ca_file = echo_server
    project = tmp_path / "project"
    project.mkdir()
    (project / "syncmap.toml").write_text("")
    (project / "echo.yaml").write_text(MAPPING)
    SqliteConnector({"path": "platform.db"}, project).seed(
        "contacts", [{"id": "p1", "last_name": "Lopez", "email": "ana@example.com"}]
    ).close()
    env = sandbox_env(url, SESSION_ID, ca_file)

    def syncmap(*args: str) -> subprocess.CompletedProcess:
        return run_syncmap(*args, cwd=project, env=env)

    applied = syncmap("apply", "echo.yaml")
    assert applied.returncode == 3, applied.stderr
    assert "request headers were" in applied.stderr, "the server's answer is shown"
    shown = applied.stdout + applied.stderr + syncmap("runs", "echo").stdout + syncmap("status").stdout
    state = b"".join(path.read_bytes() for path in (project / ".syncmap").iterdir())
    for piece in pieces(SESSION_ID):
        assert piece not in shown
        assert piece.encode() not in state

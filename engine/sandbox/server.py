"""HTTPS transport: a threaded HTTP/1.1 server on loopback that hands each request to the API.

TLS is negotiated in the worker thread of each connection so that one slow client never holds
up the others. One log line per request goes to the log callback (stderr from the CLI).
"""

from __future__ import annotations

import json
import ssl
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from engine.errors import UsageError
from engine.sandbox.api import SandboxApi
from engine.sandbox.errors import ApiError
from engine.sandbox.wire import Response, error_response

IDLE_TIMEOUT_SECONDS = 30
Log = Callable[[str], None]


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: SandboxApi, context: ssl.SSLContext, log: Log | None):
        super().__init__(address, _Handler)
        self.api = api
        self.context = context
        self.log = log

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self._log(f"TLS handshake with {client_address[0]} failed: {e}")
            return
        self.RequestHandlerClass(connection, client_address, self)

    def handle_error(self, request: Any, client_address: Any) -> None:
        self._log(f"connection from {client_address[0]} failed: {traceback.format_exc(limit=1)}")

    def _log(self, line: str) -> None:
        if self.log:
            self.log(line)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS
    # headers and body leave in two writes; Nagle plus delayed ACK would stall each by ~40 ms
    disable_nagle_algorithm = True
    server: SandboxServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def _serve(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        kind, response = self._answer(url.path, url.query, body)
        self._send(response)
        elapsed = (time.monotonic() - started) * 1000
        self.server._log(f"{self.command} {self.path} {response.status} {kind} {elapsed:.0f}ms")

    def _answer(self, path: str, query: str, body: bytes) -> tuple[str, Response]:
        api = self.server.api
        try:
            if path.startswith("/_sandbox"):
                return "admin", api.admin(self.command, path, _json_or_none(body))
            if (self.command, path) == ("POST", "/services/oauth2/token"):
                host, port = self.server.server_address[:2]
                return "oauth", api.oauth_token(body, f"https://{host}:{port}")
            params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            answer = api.call(self.command, path, params, self.headers, body)
            time.sleep(api.faults.delay_seconds)
            return answer
        except Exception as e:  # a bug in the sandbox must reach the client, not kill the thread
            self.server._log(traceback.format_exc())
            return "error", error_response(ApiError(500, "UNKNOWN_EXCEPTION", repr(e)))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.status != 204:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's own log; ``_serve`` writes one line per request."""


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def bind(host: str, port: int, api: SandboxApi, context: ssl.SSLContext, log: Log | None) -> SandboxServer:
    """A server listening on host:port (0 picks a free port), not yet serving."""
    try:
        return SandboxServer((host, port), api, context, log)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e}") from e

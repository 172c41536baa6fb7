"""The webhook listener of `syncmap watch --listen`: a signed POST naming a job runs it at once.

A request is JSON, `{"job": "<name>", "records": ["<id>", ...]}`, with the header
`X-Syncmap-Signature: sha256=<hex HMAC-SHA256 of the body>` made with the shared secret from the
environment. Anything else is refused (401 unsigned or badly signed, 413 too large, 400
malformed, 404 unknown job) and logged; no request can stop the process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET_VARIABLE = "SYNCMAP_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Syncmap-Signature"
MAX_BODY_BYTES = 64 * 1024


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookListener:
    """Serves in a background thread; ``trigger(job, records)`` says whether the job exists."""

    def __init__(
        self,
        address: tuple[str, int],
        secret: str,
        trigger: Callable[[str, list[str]], bool],
        log: Callable[..., None],
    ):
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, reason = listener.handle(self.headers, self.rfile)
                log("webhook", status=status, reason=reason, client=self.client_address[0])
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"status": status, "reason": reason}).encode())

            def log_message(self, format: str, *args: Any) -> None:
                """Requests are logged as events by ``do_POST``, not on stderr by http.server."""

        self.secret = secret
        self.trigger = trigger
        self.server = ThreadingHTTPServer(address, Handler)
        self.server.daemon_threads = True
        self.address = self.server.server_address
        threading.Thread(target=self.server.serve_forever, name="syncmap-webhook", daemon=True).start()

    def handle(self, headers: Any, body_stream: Any) -> tuple[int, str]:
        try:
            length = int(headers.get("Content-Length") or 0)
        except ValueError:
            return 400, "bad Content-Length"
        if length > MAX_BODY_BYTES:
            return 413, f"body over {MAX_BODY_BYTES} bytes"
        body = body_stream.read(length)
        given = headers.get(SIGNATURE_HEADER)
        if not given:
            return 401, f"unsigned: no {SIGNATURE_HEADER} header"
        if not hmac.compare_digest(given, signature(self.secret, body)):
            return 401, "bad signature"
        try:
            request = json.loads(body)
            job, records = request["job"], request.get("records", [])
            if not isinstance(job, str) or not isinstance(records, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return 400, 'malformed: expected {"job": "<name>", "records": ["<id>", ...]}'
        if not self.trigger(job, [str(record) for record in records]):
            return 404, f"no job `{job}`"
        return 202, f"{job} runs now"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

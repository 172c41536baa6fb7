"""The webhook listener of `syncmap watch --listen`: a signed POST naming a job runs it at once.

A request is JSON, `{"job": "<name>", "records": ["<id>", ...]}`, with the header
`X-Syncmap-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` made with the shared
secret from the environment (Stripe's scheme). A signature more than five minutes from the
listener's clock, or seen before, is refused, so a captured request cannot be replayed. The body
must declare its length, within 64 KiB, before a byte of it is read, and its JSON is bounded in
depth. Anything else is refused (400 malformed, 401 unsigned, badly signed, stale or replayed,
404 unknown job, 411 no length, 413 too large) and logged; an unexpected failure is answered 500
and logged in one line. No request can stop the process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET_VARIABLE = "SYNCMAP_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Syncmap-Signature"
MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 8  # `{"job": ..., "records": [...]}` needs two levels
TOLERANCE_SECONDS = 300
READ_TIMEOUT_SECONDS = 10


def signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value signing ``body`` at ``timestamp`` (now by default)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},v1={_digest(secret, stamp, body)}"


def _digest(secret: str, stamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


class Refused(Exception):
    """A request answered with an error status and a reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


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
            timeout = READ_TIMEOUT_SECONDS  # a client that stops sending loses its connection

            def do_POST(self) -> None:
                try:
                    status, reason = 202, listener.handle(self.headers, self.rfile)
                except Refused as e:
                    status, reason = e.status, e.reason
                except Exception as e:  # a bug must not cost the listener: answer, log one line
                    status, reason = 500, f"internal error: {type(e).__name__}"
                log("webhook", status=status, reason=reason, client=self.client_address[0])
                answer = json.dumps({"status": status, "reason": reason}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                if status >= 400:
                    self.send_header("Connection", "close")  # the unread body must not be parsed next
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                """Requests are logged as events by ``do_POST``, not on stderr by http.server."""

        self.secret = secret
        self.trigger = trigger
        self.seen: dict[str, int] = {}  # signatures accepted, by their timestamp, within the tolerance
        self.seen_lock = threading.Lock()
        self.server = ThreadingHTTPServer(address, Handler)
        self.server.daemon_threads = True
        self.address = self.server.server_address
        threading.Thread(target=self.server.serve_forever, name="syncmap-webhook", daemon=True).start()

    def handle(self, headers: Any, body_stream: Any) -> str:
        """Check and run one request; returns the reason of the 202, or raises Refused."""
        given = headers.get(SIGNATURE_HEADER)
        if not given:
            raise Refused(401, f"unsigned: no {SIGNATURE_HEADER} header")
        stamp, digest = _parse_signature(given)
        if abs(time.time() - stamp) > TOLERANCE_SECONDS:
            raise Refused(401, f"stale signature: signed more than {TOLERANCE_SECONDS} s from now")
        body = body_stream.read(_length(headers))
        if not hmac.compare_digest(digest, _digest(self.secret, stamp, body)):
            raise Refused(401, "bad signature")
        self.remember(digest, stamp)
        job, records = _parse_request(body)
        if not self.trigger(job, records):
            raise Refused(404, f"no job `{job}`")
        return f"{job} runs now"

    def remember(self, digest: str, stamp: int) -> None:
        """Accept a signature once: a replay of it within the tolerance is refused."""
        with self.seen_lock:
            horizon = time.time() - TOLERANCE_SECONDS
            for old in [key for key, when in self.seen.items() if when < horizon]:
                del self.seen[old]
            if digest in self.seen:
                raise Refused(401, "replayed: this signature was used already")
            self.seen[digest] = stamp

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _length(headers: Any) -> int:
    """The declared body length, checked before anything is read."""
    text = headers.get("Content-Length")
    if text is None:
        raise Refused(411, "no Content-Length")
    if not (text.isascii() and text.isdigit()):
        raise Refused(400, "bad Content-Length")
    length = int(text)
    if length > MAX_BODY_BYTES:
        raise Refused(413, f"body over {MAX_BODY_BYTES} bytes")
    return length


def _parse_signature(header: str) -> tuple[int, str]:
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    stamp, digest = parts.get("t", ""), parts.get("v1", "")
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12 or not digest:
        raise Refused(401, f"bad signature: expected `{SIGNATURE_HEADER}: t=<unix time>,v1=<hex HMAC>`")
    return int(stamp), digest


def _parse_request(body: bytes) -> tuple[str, list[str]]:
    malformed = Refused(400, 'malformed: expected {"job": "<name>", "records": ["<id>", ...]}')
    if _depth(body) > MAX_DEPTH:
        raise malformed
    try:
        request = json.loads(body)
        job, records = request["job"], request.get("records", [])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise malformed from None
    if not isinstance(job, str) or not isinstance(records, list):
        raise malformed
    if not all(isinstance(record, str | int) for record in records):
        raise malformed
    return job, [str(record) for record in records]


def _depth(body: bytes) -> int:
    """How deep brackets nest in a JSON text (outside strings), read without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            escaped, in_string = (False, True) if escaped else (byte == 0x5C, byte != 0x22)
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest

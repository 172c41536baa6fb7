"""A platform's REST API on loopback for the tests: the real json-server (npm, installed by
`.ci/run` from package.json), with `platform.js` adding a bearer token, change stamps, a request
log and injected faults; and a scripted server for the API styles json-server lacks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

HERE = Path(__file__).resolve().parent
JSON_SERVER = HERE.parent.parent / "node_modules" / ".bin" / "json-server"
PLATFORM_JS = HERE.parent.parent / "examples" / "rest" / "platform.js"  # the example platform's additions
TOKEN = "platform-token-3f9a"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JsonServer:
    """json-server over the data ``db`` (kept in memory, or in ``file`` when given), its requests
    logged to ``log``."""

    def __init__(self, folder: Path, db: dict[str, list[dict[str, Any]]], token: str | None = TOKEN):
        if not JSON_SERVER.exists():
            if os.environ.get("CI"):
                raise RuntimeError(f"{JSON_SERVER} is missing: `npm ci` installs it")
            pytest.skip("json-server is not installed: run `npm ci` in the repository")
        self.folder, self.token = folder, token
        self.log = folder / "requests.jsonl"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        source = folder / "db.json"
        source.write_text(json.dumps(db))
        environ = {**os.environ, "PLATFORM_DB": str(source), "PLATFORM_LOG": str(self.log)}
        environ.pop("PLATFORM_TOKEN", None)
        if token:
            environ["PLATFORM_TOKEN"] = token
        command = [str(JSON_SERVER), str(HERE / "memory.js"), "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--middlewares", str(PLATFORM_JS), "--quiet"]
        self.process = subprocess.Popen(
            command, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"json-server exited: {self.process.stderr.read().decode()[:500]}")
            try:
                httpx.post(f"{self.url}/__faults", json={}, timeout=1)
                self.log.write_text("")
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("json-server did not start within 20 s")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def records(self, kind: str) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/{kind}", headers=self.headers()).json()

    def fault(self, **fault: Any) -> None:
        httpx.post(f"{self.url}/__faults", json=fault).raise_for_status()

    def requests(self) -> list[dict[str, str]]:
        """Every request the server has had since it started (or since ``forget_requests``)."""
        lines = self.log.read_text().splitlines()
        return [entry for entry in map(json.loads, lines) if entry["url"] != "/__faults"]

    def forget_requests(self) -> None:
        self.log.write_text("")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        if self.process.stderr:
            self.process.stderr.close()


def settings(server: JsonServer, **overrides: Any) -> dict[str, Any]:
    """rest settings for json-server's `contacts` and `activities`, incremental by `updated_at`."""
    objects = {
        kind: {
            "list": {
                "path": f"/{kind}",
                "params": {"_sort": "updated_at,id", "_order": "asc", "_page": 1, "_limit": 100},
                "paginate": {"style": "link_header"},
                "since": {"param": "updated_at_gte"},
            },
            "get": {"path": f"/{kind}/{{id}}"},
            "find": {"params": {"email": "email", "phone": "phone", "contact_id": "contact_id"}},
            "create": {"method": "POST", "path": f"/{kind}"},
            "update": {"method": "PATCH", "path": f"/{kind}/{{id}}"},
            "delete": {"method": "DELETE", "path": f"/{kind}/{{id}}"},
            "fields": {"name": "string", "email": "string", "phone": "string", "contact_id": "string"},
        }
        for kind in ("contacts", "activities")
    }
    found = {"base_url": server.url, "objects": objects, "retries": 3, "max_retry_wait_seconds": 2}
    if server.token:
        found["auth"] = {"type": "bearer", "token": server.token}
    return found | overrides


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


Reply = tuple[int, dict[str, str], Any]  # status, headers, body (JSON, or bytes sent as they are)


class Scripted:
    """A small HTTP API on loopback for what json-server cannot do (cursors and next links in
    the body, OAuth tokens, idempotency keys): ``answer`` replies to each request, which is kept
    in ``seen``."""

    def __init__(self, answer: Callable[[Seen], Reply]):
        self.seen: list[Seen] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw.startswith((b"{", b"[")) else raw.decode()
                request = Seen(self.command, url.path, parse_qs(url.query), dict(self.headers), body)
                owner.seen.append(request)
                status, headers, reply = answer(request)
                payload = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (a timeout test) closed its end: nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

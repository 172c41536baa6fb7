"""A client of the real yaml-language-server (installed by `npm ci`), speaking the Language Server
Protocol over its standard streams: open documents with the schemas associated as an editor's
settings would, and collect the diagnostics the server publishes for each."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import REPO

SERVER = REPO / "node_modules" / ".bin" / "yaml-language-server"


class YamlLanguageServer:
    def __init__(self, root: Path, schemas: dict[str, list[str]]):
        """``schemas``: schema file (relative to ``root``) -> the globs it is associated with."""
        self.root = root
        self.settings = {
            "yaml": {
                "validate": True,
                "schemaStore": {"enable": False},
                "schemas": {(root / schema).as_uri(): globs for schema, globs in schemas.items()},
            }
        }
        self.process = subprocess.Popen(
            [str(SERVER), "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.next_id = 0
        self.diagnostics: dict[str, list[dict]] = {}
        self.request("initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {}})
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})

    def __enter__(self) -> YamlLanguageServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.wait()

    def check(self, path: Path, timeout: float = 20.0) -> list[dict]:
        """The diagnostics the server publishes for a file once it is opened."""
        uri = path.resolve().as_uri()
        self.diagnostics.pop(uri, None)
        document = {"uri": uri, "languageId": "yaml", "version": 1, "text": path.read_text()}
        self.notify("textDocument/didOpen", {"textDocument": document})
        deadline = time.monotonic() + timeout
        while uri not in self.diagnostics:
            if time.monotonic() > deadline:
                raise TimeoutError(f"yaml-language-server published nothing for {path}")
            self.handle(self.receive())
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        return self.diagnostics[uri]

    def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        asked = self.next_id
        self.send({"jsonrpc": "2.0", "id": asked, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == asked and "method" not in message:
                return message.get("result")
            self.handle(message)

    def handle(self, message: dict) -> None:
        """The server's notifications and requests: diagnostics kept, questions answered."""
        method = message.get("method")
        if method == "textDocument/publishDiagnostics":
            self.diagnostics[message["params"]["uri"]] = message["params"]["diagnostics"]
        elif "id" in message and method is not None:
            items = message.get("params", {}).get("items", [])
            answer = (
                [self.settings.get(item.get("section", ""), None) for item in items]
                if method == "workspace/configuration"
                else None
            )
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": answer})

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def receive(self) -> dict:
        assert self.process.stdout is not None
        length = 0
        while (line := self.process.stdout.readline().strip()) != b"":
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.process.stdout.read(length))

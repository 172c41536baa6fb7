"""Requests and responses as the API handlers see them, and the table that routes between them.

Handlers take a Request and return a Response (or raise ApiError); they never touch sockets,
TLS or headers of the transport, which stay in ``server.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from engine.sandbox.errors import ApiError, json_parse_error, not_found

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"


@dataclass(frozen=True)
class Request:
    """One API call: ``path`` is what follows ``/services/data/vXX.X/``."""

    method: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    api_version: str

    @property
    def base(self) -> str:
        return f"/services/data/v{self.api_version}"

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as e:
            raise json_parse_error(f"Unexpected character in request body: {e}") from None

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise json_parse_error("Cannot deserialize instance of object from request body")
        return data


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(data).encode(), JSON_TYPE, headers or {})


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status)


def no_content() -> Response:
    return Response(204)


Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    """A method and path pattern, the endpoint kind counted in stats, and its handler."""

    method: str
    pattern: str
    kind: str
    handler: Handler


class Router:
    """Finds the route for a method and path; named groups become handler keyword arguments."""

    def __init__(self, routes: list[Route]):
        self._routes = [(re.compile(r.pattern.rstrip("/") + "/?"), r) for r in routes]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = []
        for pattern, route in self._routes:
            found = pattern.fullmatch(path)
            if found and route.method == method:
                return route, {name: unquote(value) for name, value in found.groupdict().items()}
            if found:
                allowed.append(route.method)
        if allowed:
            raise ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}",
            )
        raise not_found()

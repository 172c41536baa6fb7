"""One API call from path to answer: version check, routing, session check, faults, handler,
usage counting. Also the local admin resources under ``/_sandbox/``.

Transport-free on purpose: ``server.py`` only moves bytes between sockets and this class.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from engine.sandbox import bulk, composite, oauth, rest
from engine.sandbox.errors import ApiError, not_found
from engine.sandbox.faults import Faults
from engine.sandbox.org import Org
from engine.sandbox.paging import QueryPages
from engine.sandbox.state import ApiState
from engine.sandbox.wire import Request, Response, Router, error_response, json_response

_VERSIONED = re.compile(r"/services/data/v(?P<version>\d+\.\d)(?:/(?P<rest>.*))?")
INVALID_SESSION = ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


class SandboxApi:
    """The Salesforce REST API of one sandbox org."""

    def __init__(
        self,
        org: Org,
        session_id: str,
        page_size: int,
        faults: Faults,
        on_reset: Callable[[], None],
        daily_api_requests: int = rest.DAILY_API_REQUESTS,
    ):
        self.state = ApiState(org, faults, QueryPages(page_size), daily_api_requests)
        self.org, self.faults = org, faults
        self.session_id = session_id
        self.other_sessions: dict[str, str] = {}  # session id -> username of another user
        self.connected_apps: dict[str, oauth.ConnectedApp] = {}  # by client id
        self.passwords: dict[str, str] = {}  # username -> password (with its security token)
        self._on_reset = on_reset
        self._router = Router(rest.ROUTES + composite.ROUTES + bulk.ROUTES)

    def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[str, Response]:
        """The endpoint kind and the answer for a request under ``/services/data``."""
        if path.rstrip("/") == "/services/data":
            return "versions", json_response(rest.versions())
        match = _VERSIONED.fullmatch(path)
        if match is None or match["version"] not in rest.API_VERSIONS:
            return "unknown", error_response(not_found())
        try:
            route, arguments = self._router.match(method, match["rest"] or "")
        except ApiError as error:
            return "unknown", error_response(error)
        rest_path = match["rest"] or ""
        request = Request(method, rest_path, params, headers, body, match["version"])
        try:
            username = self._authenticate(headers)
            if self.state.stats.total() >= self.state.daily_api_requests:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.faults.check_request()
            if username is None:
                response = route.handler(self.state, request, **arguments)
            else:
                with self.org.acting_as(username):
                    response = route.handler(self.state, request, **arguments)
        except ApiError as error:
            response = error_response(error)
        stats, limit = self.state.stats, self.state.daily_api_requests
        stats.count(route.kind, response.status)
        usage = f"api-usage={min(stats.total(), limit)}/{limit}"
        response.headers["Sforce-Limit-Info"] = usage
        return route.kind, response

    def oauth_token(self, body: bytes, instance_url: str) -> Response:
        """``POST /services/oauth2/token`` (see ``oauth.py``)."""
        return oauth.token(body, instance_url, self.connected_apps, self.passwords, self.new_session)

    def new_session(self, username: str) -> tuple[str, str]:
        """A new session acting as a user of the org (created on first use): (session id, user id)."""
        user_id = self.org.ensure_user(username)
        session_id = "00D8d0000000001!" + secrets.token_urlsafe(32)
        self.other_sessions[session_id] = username
        return session_id, user_id

    def admin(self, method: str, path: str, body: Any) -> Response:
        """``GET /_sandbox/stats``, ``GET|POST /_sandbox/faults``, ``POST /_sandbox/reset``."""
        name = path.removeprefix("/_sandbox").strip("/")
        if (method, name) == ("GET", "stats"):
            return json_response(self.state.stats.snapshot())
        if name == "faults" and method in ("GET", "POST"):
            return self._faults(method, body)
        if (method, name) == ("POST", "reset"):
            self.reset()
            return json_response({"reset": True})
        return error_response(not_found())

    def reset(self) -> None:
        """Records back to the seed; counters, cursors and jobs emptied."""
        self._on_reset()
        self.state.reset()

    def _faults(self, method: str, body: Any) -> Response:
        if method == "POST":
            try:
                self.faults.update(body if isinstance(body, dict) else {})
            except (TypeError, ValueError) as e:
                return error_response(ApiError(400, "INVALID_FAULTS", str(e)))
        return json_response(vars(self.faults.settings))

    def _authenticate(self, headers: Mapping[str, str]) -> str | None:
        """The username a request acts as: None for the sandbox's own user."""
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme not in ("Bearer", "OAuth") or token not in (self.session_id, *self.other_sessions):
            raise INVALID_SESSION
        return self.other_sessions.get(token)

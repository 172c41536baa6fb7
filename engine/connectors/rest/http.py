"""HTTP for the `rest` connector: one httpx client per connection with its auth, a request
rate limit shared by every thread, and retries that honour `Retry-After`.

What may be sent again is decided here, once: a read, an update or a delete is retried after a
429, a 5xx or a lost connection; a create is retried only after a 429 (the API refused it
unprocessed) or a connection that never opened, unless the API takes an idempotency key. A create
whose answer was lost is reported as unknown, for the journal to settle, never sent twice.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from engine.connectors.rest.settings import ApiKey, Basic, Bearer, ClientCredentials, RestSettings
from engine.errors import ConnectorError
from engine.redact import shorten

RETRIED_STATUS = frozenset({429, 502, 503, 504})
REFRESH_MARGIN_SECONDS = 60  # a client-credentials token is renewed this long before it expires
FIRST_BACKOFF_SECONDS = 0.5


class CredentialsRefused(ConnectorError):
    """The API answered 401 or 403: every other request would be refused too."""


class Unanswered(ConnectorError):
    """The request may have reached the API, but no answer came: its outcome cannot be told."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # the parsed JSON, or None for an empty body
    response: httpx.Response


class RateLimit:
    """At most ``per_second`` request starts per second, across threads."""

    def __init__(self, per_second: float | None):
        self.interval = 1 / per_second if per_second else 0.0
        self.next_start = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            start = max(self.next_start, time.monotonic())
            self.next_start = start + self.interval
        time.sleep(max(0.0, start - time.monotonic()))


class ClientCredentialsAuth(httpx.Auth):
    """OAuth 2 client credentials: the token is fetched on the first request and renewed before
    it expires, or at once when the API refuses it."""

    def __init__(self, settings: ClientCredentials, client: httpx.Client):
        self.settings, self.client = settings, client
        self.token: str | None = None
        self.expires = 0.0
        self.lock = threading.Lock()

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = f"Bearer {self._token()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self._token(renew=True)}"
            yield request

    def _token(self, renew: bool = False) -> str:
        with self.lock:
            if renew or self.token is None or time.monotonic() >= self.expires:
                self._fetch()
            return self.token or ""

    def _fetch(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
        }
        if self.settings.scope:
            form["scope"] = self.settings.scope
        try:
            response = self.client.post(self.settings.token_url, data=form, auth=None)
        except httpx.HTTPError as e:
            raise ConnectorError(
                f"the token endpoint {self.settings.token_url} did not answer: {e}"
            ) from None
        body = _json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise CredentialsRefused(
                f"the platform refused the credentials: the token endpoint answered {response.status_code}",
                hint="check client_id and the client_secret variable",
            )
        self.token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 3600)
        self.expires = time.monotonic() + max(0.0, lifetime - REFRESH_MARGIN_SECONDS)


class Http:
    """The API of one connection: `call` sends a request and returns its answer, retrying what
    may be retried; a refusal of the credentials is a ConnectorError naming no secret."""

    def __init__(self, settings: RestSettings, verify: str | bool):
        self.settings = settings
        self.calls = 0
        self.limit = RateLimit(settings.max_requests_per_second)
        self.params: dict[str, str] = {}
        self.client = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            headers={"Accept": "application/json", **settings.headers},
            timeout=settings.timeout_seconds,
            verify=verify,
            limits=httpx.Limits(max_connections=settings.concurrency + 1),
        )
        self._authenticate(settings)

    def _authenticate(self, settings: RestSettings) -> None:
        auth = settings.auth
        if isinstance(auth, Bearer):
            self.client.headers["Authorization"] = f"Bearer {auth.token}"
        elif isinstance(auth, ApiKey):
            if auth.query:
                self.params[auth.query] = auth.key
            else:
                self.client.headers[auth.header or "X-Api-Key"] = auth.key
        elif isinstance(auth, Basic):
            self.client.auth = httpx.BasicAuth(auth.username, auth.password)
        elif isinstance(auth, ClientCredentials):
            self.client.auth = ClientCredentialsAuth(auth, self.client)

    def close(self) -> None:
        self.client.close()

    def call(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        replayable: bool = True,
    ) -> Answer:
        """Send one request. Answers of 2xx and 4xx are returned (a 4xx is the caller's to
        explain); 429 and 5xx are retried up to ``retries`` times, then raised."""
        query = list(params.items()) if isinstance(params, Mapping) else list(params or [])
        query += list(self.params.items())
        shown = f"{method} {self._shown(url)}"
        retrying = Retrying(
            retry=retry_if_exception_type(_Again), stop=stop_after_attempt(self.settings.retries + 1),
            wait=lambda retry: self._wait(retry.outcome.exception().response, retry.attempt_number - 1),  # type: ignore[union-attr]
            reraise=True,
        )  # fmt: skip
        try:
            return retrying(self._send, method, url, query, body, headers, replayable, shown)
        except _Again as again:
            raise again.failure(retrying.statistics["attempt_number"]) from None

    def _send(
        self, method: str, url: str, query: list, body: Any, headers: Mapping[str, str] | None,
        replayable: bool, shown: str,
    ) -> Answer:  # fmt: skip
        """One attempt: the answer, or _Again with what failed when it may be sent again."""
        self.limit.wait()
        self.calls += 1
        try:
            response = self.client.request(method, url, params=query or None, json=body, headers=headers)
        except httpx.ConnectError as e:  # never reached the API: safe to send again
            raise _Again(f"{shown}: cannot reach the platform: {e}", "check `base_url` and that the API is up") from e
        except httpx.HTTPError as e:
            if not replayable:
                raise Unanswered(f"{shown}: no answer ({type(e).__name__}): {e}") from None
            raise _Again(f"{shown}: no answer ({type(e).__name__}): {e}") from e
        if response.status_code in (401, 403):
            raise CredentialsRefused(
                f"the platform refused the credentials: {shown} answered {response.status_code}",
                hint="check the `auth` settings and the variable holding the secret",
            )
        if response.status_code not in RETRIED_STATUS:
            return Answer(response.status_code, _json_or_none(response), response)
        again = _Again(
            f"{shown} answered {response.status_code} {response.reason_phrase} {{times}} times: {excerpt(response)}",
            "the platform is busy or over its rate limit; lower `max_requests_per_second`",
            response,
        )
        if response.status_code != 429 and not replayable:
            raise Unanswered(again.message.replace("{times}", "1"), again.hint) from None
        raise again

    def _wait(self, response: httpx.Response | None, attempt: int) -> float:
        """`Retry-After` (seconds or an HTTP date) when the API gives it, else doubling waits."""
        wait = FIRST_BACKOFF_SECONDS * 2**attempt
        header = response.headers.get("Retry-After") if response is not None else None
        if header:
            try:
                wait = float(header)
            except ValueError:
                moment = email.utils.parsedate_to_datetime(header)
                wait = moment.timestamp() - time.time() if moment else wait
        return min(max(0.0, wait), self.settings.max_retry_wait_seconds)

    def _shown(self, url: str) -> str:
        return str(self.client.base_url.join(url)) if not url.startswith("http") else url


class _Again(Exception):
    """A request that failed in a way that allows sending it again: how to tell of it, and the
    answer, whose `Retry-After` says when."""

    def __init__(self, message: str, hint: str | None = None, response: httpx.Response | None = None):
        super().__init__(message)
        self.message, self.hint, self.response = message, hint, response

    def failure(self, attempts: int) -> ConnectorError:
        return ConnectorError(self.message.replace("{times}", str(attempts)), hint=self.hint)


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return NotJson


class NotJson:
    """The body of an answer that is not JSON (the caller says where it came from)."""


def excerpt(response: httpx.Response, limit: int = 200) -> str:
    """The API's own words: a JSON body's `message` or `error`, else the first bytes of the body."""
    body = _json_or_none(response)
    if isinstance(body, dict):
        for key in ("message", "error", "error_description", "errors", "detail"):
            if body.get(key):
                return shorten(str(body[key]), limit)
    return shorten(response.text.strip() or "(empty body)", limit)

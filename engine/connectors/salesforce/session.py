"""The way to one org: signing in (a session id, a password, client credentials), every request
counted by kind in ``calls`` (retries included), the org's daily usage noted from every answer,
requests refused while the org is busy retried with exponential backoff and jitter, and every
failure turned into a ConnectorError.

A session must never replay a create that Salesforce may already have written, let a requests or
simple-salesforce exception reach the caller, or show a secret (session id, password, security
token, client secret) in its repr, an error, an exception chain or a log line.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import jwt
import requests
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.api import DEFAULT_API_VERSION
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt
from urllib3.exceptions import NewConnectionError

from engine.connectors.local import resolve_path
from engine.connectors.salesforce.usage import OrgUsage
from engine.connectors.settings import SalesforceSettings
from engine.errors import ConnectorError, SettingError
from engine.redact import redact, register, shorten

log = logging.getLogger(__name__)
T = TypeVar("T")

SECRETS = ("session_id", "password", "security_token", "client_secret")
TIMEOUT = (10, 300)  # seconds to connect, and to wait for an answer
MAX_BACKOFF_SECONDS = 60.0
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _auth_kind(settings: Mapping[str, Any]) -> str:
    """Which of the three ways to sign in the settings give, or a ConnectorError naming what is missing."""
    given = {name for name, value in settings.items() if value not in (None, "")}
    kinds = {
        "session": ("session_id", ("instance_url",)),
        "jwt": ("private_key_file", ("client_id", "username")),
        "password": ("username", ("password",)),
        "client credentials": ("client_id", ("client_secret",)),
    }
    for kind, (trigger, needed) in kinds.items():
        if trigger in given:
            missing = [name for name in needed if name not in given]
            if kind == "client credentials" and not given & {"domain", "instance_url"}:
                missing.append("domain")
            if missing:
                raise ConnectorError(
                    f"salesforce setting `{trigger}` needs `{missing[0]}` too",
                    hint=f"add `{missing[0]}: ...` to the connection settings",
                )
            return kind
    raise ConnectorError(
        "the salesforce connector needs credentials",
        hint="give `instance_url` + `session_id`, `username` + `password` + `security_token`, "
        "`client_id` + `client_secret` + `domain`, or `client_id` + `username` + `private_key_file`, "
        "e.g. `session_id: ${SF_SESSION_ID}`",
    )


def _private_key(settings: Mapping[str, Any], base_dir: Path | None) -> Path:
    """The key file `private_key_file` names, checked now (an unset one is never read)."""
    path = resolve_path(base_dir, str(settings.get("private_key_file") or ""))
    if settings.get("private_key_file") and not path.is_file():
        raise SettingError(
            "private_key_file", f"the private key {path} does not exist",
            hint="the PEM key whose certificate the connected app holds, relative to the mapping document",
        )  # fmt: skip
    return path


def _ca_bundle(settings: Mapping[str, Any], base_dir: Path | None) -> str | bool:
    """The CA bundle `ca_file` names, checked now: requests reports a missing one only at the
    first call, as an OSError."""
    if not settings.get("ca_file"):
        return True
    path = resolve_path(base_dir, settings["ca_file"])
    if not path.is_file():
        raise SettingError(
            "ca_file", f"the CA bundle {path} does not exist",
            hint="`syncmap sandbox --ca-file FILE` writes it; point `ca_file` at that file, or leave it out for a real org",
        )  # fmt: skip
    return str(path)


class ApiFailure(ConnectorError):
    """Salesforce (or the way to it) refused a request; ``code`` is Salesforce's errorCode."""

    def __init__(self, message: str, hint: str | None, status: int | None, code: str, detail: str):
        super().__init__(message, hint)
        self.status, self.code, self.detail = status, code, detail


class OutcomeUnknown(ConnectorError):
    """A write failed in a way that does not tell whether Salesforce applied it."""


class GaveUp(ConnectorError):
    """Salesforce kept refusing a request for every retry."""


class _Busy(Exception):
    """A request the org refused while busy (or never reached), which may be sent again."""

    def __init__(self, failure: Failure):
        super().__init__(str(failure))
        self.failure = failure


@dataclass(frozen=True)
class Failure:
    """One failed request, and what may be done about it."""

    status: int | None
    code: str
    detail: str
    transient: bool  # worth retrying
    unprocessed: bool  # Salesforce refused it before doing anything, so a replay cannot duplicate
    expired: bool = False

    def __str__(self) -> str:
        return f"{self.status or ''} {self.code}: {self.detail}".strip()

    @classmethod
    def of_answer(cls, error: SalesforceError) -> Failure:
        content = error.content
        first = content[0] if isinstance(content, list) and content else content
        if isinstance(first, dict):
            code = str(first.get("errorCode") or first.get("error") or "ERROR")
            detail = shorten(str(first.get("message") or first.get("error_description") or ""))
        else:
            text = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
            code, detail = "ERROR", shorten(text)
        limited = error.status == 403 and code == "REQUEST_LIMIT_EXCEEDED"
        # REQUEST_LIMIT_EXCEEDED and SERVER_UNAVAILABLE (503) are answered before Salesforce runs
        # the request; a 500/502/504 may come after it ran, so only idempotent requests replay it.
        transient = limited or error.status in (500, 502, 503, 504)
        unprocessed = limited or error.status == 503
        return cls(error.status, code, detail, transient, unprocessed, expired=error.status == 401)

    @classmethod
    def of_transport(cls, error: requests.RequestException) -> Failure:
        reason = getattr(error.args[0], "reason", None) if error.args else None
        unconnected = isinstance(error, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)
        lasting = (
            requests.exceptions.SSLError
            | requests.exceptions.InvalidURL
            | requests.exceptions.InvalidJSONError
        )
        transient = not isinstance(error, lasting)
        detail = shorten(str(error))
        return cls(None, type(error).__name__, detail, transient, unprocessed=unconnected)


class Session:
    """One org's API, signed in on first use (see the module docstring)."""

    def __init__(self, settings: Mapping[str, Any], typed: SalesforceSettings, base_dir: Path | None):
        self.auth = _auth_kind(settings)
        self._secrets = {name: str(settings[name]) for name in SECRETS if settings.get(name)}
        for secret in self._secrets.values():
            register(secret)
        self._settings = {k: v for k, v in settings.items() if k not in SECRETS}
        self.instance_url = str(settings.get("instance_url") or "").rstrip("/") or None
        self.api_version = str(typed.api_version or DEFAULT_API_VERSION).removeprefix("v")
        self.usage = OrgUsage(typed.api_reserve)
        self.max_retries, self.retry_delay = typed.max_retries, typed.retry_delay_seconds
        self.calls: Counter[str] = Counter()
        self.http = requests.Session()
        self.http.trust_env = False  # else REQUESTS_CA_BUNDLE overrides `verify`, and proxies leak in
        self.http.verify = _ca_bundle(settings, base_dir)
        self._private_key = _private_key(settings, base_dir)
        self._sf: Salesforce | None = None
        self._random = random.Random()

    @property
    def where(self) -> str:
        """The org, as a repr shows it: never with a secret."""
        return self.instance_url or f"{self._settings.get('domain', 'login')}.salesforce.com"

    def close(self) -> None:
        self.http.close()

    def call(self, kind: str, send: Callable[[Salesforce], T], replay_safe: bool = True) -> T:
        """One request, ``send(sf)``, counted as ``kind``. One the org refused while busy is sent
        again, unless it may have been applied and is not ``replay_safe`` (a create)."""
        retrying = Retrying(
            retry=retry_if_exception_type(_Busy), stop=stop_after_attempt(self.max_retries + 1),
            wait=lambda retry: self._backoff(retry.attempt_number), before_sleep=lambda retry: log.info(redact(
                f"{kind}: {retry.outcome.exception()}; retry {retry.attempt_number}/{self.max_retries} "  # type: ignore[union-attr]
                f"in {retry.upcoming_sleep:.2f} s")),
            reraise=True,
        )  # fmt: skip
        try:
            return retrying(self._attempt, kind, send, replay_safe)
        except _Busy as busy:
            failure, attempts = busy.failure, retrying.statistics["attempt_number"]
            unreached = failure.status is None and failure.unprocessed  # no connection was made
            raise GaveUp(
                redact(f"Salesforce {kind} still failing after {attempts} attempts: {failure}"),
                hint=f"nothing answers at {self.instance_url or 'the login domain'}: check `instance_url` "
                "and that the org (or `syncmap sandbox`) is up"
                if unreached
                else "the org is busy or over its API limits; try again later, or raise `max_retries`",
            ) from None

    def _attempt(self, kind: str, send: Callable[[Salesforce], T], replay_safe: bool, signed_in: bool = False) -> T:
        """One try: the answer; a session expired signs in again once; _Busy when it may be sent again."""
        sf = self.client()
        self.calls[kind] += 1
        try:
            answer = send(sf)
            self.usage.note(sf)
            return answer
        except SalesforceError as e:
            failure = Failure.of_answer(e)
        except requests.RequestException as e:
            failure = Failure.of_transport(e)
        except ValueError as e:  # an answer that is not JSON
            failure = Failure(None, "INVALID_ANSWER", shorten(str(e)), transient=False, unprocessed=False)
        if failure.expired and self.auth != "session" and not signed_in:
            self._sf = None
            return self._attempt(kind, send, replay_safe, signed_in=True)
        if not failure.transient:
            raise self._failure_error(kind, failure)
        if not (failure.unprocessed or replay_safe):
            raise OutcomeUnknown(
                redact(
                    f"outcome unknown: Salesforce answered {failure} while creating; not sent again "
                    "so that no duplicate is made (if it was created, the next run finds it by its keys)"
                )
            )
        raise _Busy(failure)

    def _backoff(self, failures: int) -> float:
        """Doubling waits, each between half and all of its length (so clients spread out)."""
        delay = min(MAX_BACKOFF_SECONDS, self.retry_delay * 2 ** (failures - 1))
        return delay / 2 + self._random.uniform(0, delay / 2)

    def _failure_error(self, kind: str, failure: Failure) -> ApiFailure:
        hint = None
        if failure.expired:
            hint = "the session id is expired or invalid (its value is not shown); get a new one"
        elif failure.code == "SSLError":
            hint = (
                "set `ca_file` to the CA bundle that signed the server's certificate (the sandbox prints it)"
            )
        elif failure.status is None:
            hint = "check `instance_url` and the network"
        where = f" at {self._sf.base_url}" if failure.status is None and self._sf else ""
        message = redact(f"Salesforce {kind} failed{where}: {failure}")
        return ApiFailure(message, hint, failure.status, failure.code, redact(failure.detail))

    def client(self) -> Salesforce:
        if self._sf is None:
            if self.auth == "session":
                token, instance = self._secrets["session_id"], urlparse(self.instance_url).netloc
            else:
                token, instance = self._login()
            self._sf = Salesforce(
                instance=instance, session_id=token, session=self.http, version=self.api_version,
                object_pairs_hook=dict,
            )  # fmt: skip
        return self._sf

    def _login(self) -> tuple[str, str]:
        """A session from a password or from client credentials, through simple-salesforce, or
        from a JWT bearer assertion (a token request of its own: simple-salesforce's reaches
        only `<domain>.salesforce.com`)."""
        domain = self._settings.get("domain") or "login"
        if self.auth == "client credentials" and self.instance_url and not self._settings.get("domain"):
            host = urlparse(self.instance_url).hostname or ""
            domain = host.removesuffix(".salesforce.com")
            if domain == host:
                raise ConnectorError(
                    "client credentials need the org's My Domain",
                    hint="set `domain` to the part before .salesforce.com, e.g. `acme.my`",
                )
        self.calls["login"] += 1
        try:
            if self.auth == "jwt":
                return self._jwt_token(domain)
            if self.auth == "password":
                return SalesforceLogin(
                    username=self._settings["username"], password=self._secrets["password"],
                    security_token=self._secrets.get("security_token"), domain=domain,
                    sf_version=self.api_version, session=self.http, scratch_url=self.instance_url,
                )  # fmt: skip
            return SalesforceLogin(
                consumer_key=self._settings["client_id"], consumer_secret=self._secrets["client_secret"],
                domain=domain, session=self.http,
            )  # fmt: skip
        except SalesforceAuthenticationFailed as e:
            detail = f"{e.code}: {e.auth_message}"
        except Exception as e:  # a login must fail as a ConnectorError, never with a secret in a chain
            detail = f"{type(e).__name__}: {e}"
        # `from None`: the login request carried the secrets, so no exception from it is chained
        raise ConnectorError(
            shorten(f"Salesforce login ({self.auth}) failed: {detail}", 500),
            hint="check the credential settings (their values are not shown) and `domain`/`instance_url`",
        ) from None

    def _jwt_token(self, domain: str) -> tuple[str, str]:
        """The OAuth 2.0 JWT bearer flow: an assertion for ``username`` signed with the app's
        private key, exchanged at the token endpoint for a session."""
        claims = {
            "iss": self._settings["client_id"],
            "sub": self._settings["username"],
            "aud": "https://test.salesforce.com" if domain == "test" else "https://login.salesforce.com",
            "exp": int(time.time()) + 180,
        }
        assertion = jwt.encode(claims, self._private_key.read_text(), algorithm="RS256")
        login_url = str(self._settings.get("login_url") or f"https://{domain}.salesforce.com").rstrip("/")
        answer = self.http.post(
            f"{login_url}/services/oauth2/token", data={"grant_type": JWT_BEARER, "assertion": assertion},
            timeout=TIMEOUT,
        )  # fmt: skip
        body = answer.json()
        if answer.status_code != 200 or "access_token" not in body:
            raise SalesforceAuthenticationFailed(
                body.get("error", answer.status_code), body.get("error_description", "")
            )
        return body["access_token"], urlparse(body["instance_url"]).netloc

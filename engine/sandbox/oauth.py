"""The OAuth 2.0 token endpoint, ``POST /services/oauth2/token``, as an org answers it: the
username-password, client credentials and JWT bearer flows, against the connected apps and user
passwords the sandbox was given. A token handed out is a session of the API acting as that user.
Token requests are not API calls: an org does not count them against its daily limit.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

import jwt

from engine.sandbox.wire import Response, json_response

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass(frozen=True)
class ConnectedApp:
    """What an org knows of an integration's connected app."""

    client_id: str
    client_secret: str | None = None
    certificate: str | None = None  # the PEM public key or certificate JWT assertions are signed for
    run_as: str | None = None  # the user the client credentials flow acts as


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def token(
    body: bytes,
    instance_url: str,
    apps: dict[str, ConnectedApp],
    passwords: dict[str, str],
    new_session: Callable[[str], tuple[str, str]],
) -> Response:
    """The answer to a token request; ``new_session(username)`` gives (session id, user id)."""
    form = {name: values[-1] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}
    try:
        username = _user(form, instance_url, apps, passwords)
    except OAuthError as e:
        return json_response({"error": e.error, "error_description": e.description}, e.status)
    session_id, user_id = new_session(username)
    org_id = session_id.partition("!")[0]
    return json_response({
        "access_token": session_id,
        "instance_url": instance_url,
        "id": f"{instance_url}/id/{org_id}/{user_id}",
        "token_type": "Bearer",
        "issued_at": str(int(time.time() * 1000)),
        "signature": secrets.token_urlsafe(32),
    })  # fmt: skip


def _user(
    form: dict[str, str], instance_url: str, apps: dict[str, ConnectedApp], passwords: dict[str, str]
) -> str:
    """The user a grant signs in, or the OAuthError an org answers with."""
    grant = form.get("grant_type")
    if grant not in ("password", "client_credentials", JWT_BEARER):
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    if grant == JWT_BEARER:
        return _jwt_user(form.get("assertion", ""), instance_url, apps)
    app = apps.get(form.get("client_id", ""))
    if app is None:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if app.client_secret is None or not secrets.compare_digest(
        form.get("client_secret", ""), app.client_secret
    ):
        raise OAuthError("invalid_client", "invalid client credentials")
    if grant == "client_credentials":
        if app.run_as is None:
            raise OAuthError("invalid_grant", "no client credentials user enabled")
        return app.run_as
    username = form.get("username", "")
    if username not in passwords or not secrets.compare_digest(form.get("password", ""), passwords[username]):
        raise OAuthError("invalid_grant", "authentication failure")
    return username


def _jwt_user(assertion: str, instance_url: str, apps: dict[str, ConnectedApp]) -> str:
    """The subject of a JWT bearer assertion signed with the key of the app it names (``iss``),
    for this org (``aud``), not expired."""
    try:
        issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss", "")
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    app = apps.get(issuer)
    if app is None or app.certificate is None:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    try:
        claims = jwt.decode(
            assertion, app.certificate, algorithms=["RS256"], audience=[*AUDIENCES, instance_url],
            options={"require": ["iss", "sub", "aud", "exp"]},
        )  # fmt: skip
    except jwt.ExpiredSignatureError:
        raise OAuthError("invalid_grant", "expired authorization code") from None
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    return str(claims["sub"])

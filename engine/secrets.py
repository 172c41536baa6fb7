"""Secrets: `${ENV}` references are replaced from the environment at the last moment, and only
inside connector settings. The values of secret settings (a password, a token, a session id, a
key) are registered for redaction as they are resolved, so a server that echoes one back cannot
make it reach an output, a log, the state store or a saved plan.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.errors import UsageError
from engine.redact import register

REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
SECRET_SETTING = re.compile(r"secret|password|passwd|token|session|key|credential", re.IGNORECASE)


def resolve_settings(connection: str, settings: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings with every `${NAME}` replaced by the environment variable's value, in nested
    settings too (`auth: {token: ${PLATFORM_TOKEN}}`)."""
    return {key: _resolved(connection, key, value, environ) for key, value in settings.items()}


def _resolved(connection: str, key: str, value: Any, environ: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {name: _resolved(connection, f"{key}.{name}", inner, environ) for name, inner in value.items()}
    if isinstance(value, list):
        return [_resolved(connection, key, inner, environ) for inner in value]
    if not isinstance(value, str):
        return value
    for name in REFERENCE.findall(value):
        if name not in environ:
            raise UsageError(
                f"connection `{connection}` needs the environment variable {name} (setting `{key}`)",
                hint=f"export {name}=... before running syncmap",
            )
    secret_setting = SECRET_SETTING.search(key.rsplit(".", 1)[-1])
    for name in REFERENCE.findall(value):  # `url: postgresql://app:${APP_DB_PASSWORD}@db/app`
        if secret_setting or SECRET_SETTING.search(name):
            register(environ[name])
    return REFERENCE.sub(lambda m: environ[m.group(1)], value)

"""Secrets: `${ENV}` references are replaced from the environment at the last moment, and only
inside connector settings. Nothing else in syncmap ever holds a secret value, so no output, log,
saved plan or error message can contain one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.errors import UsageError

REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def resolve_settings(connection: str, settings: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings with every `${NAME}` replaced by the environment variable's value."""
    resolved = {}
    for key, value in settings.items():
        if isinstance(value, str):
            for name in REFERENCE.findall(value):
                if name not in environ:
                    raise UsageError(
                        f"connection `{connection}` needs the environment variable {name} (setting `{key}`)",
                        hint=f"export {name}=... before running syncmap",
                    )
            value = REFERENCE.sub(lambda m: environ[m.group(1)], value)
        resolved[key] = value
    return resolved

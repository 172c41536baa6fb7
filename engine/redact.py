"""Redaction: the one function every message passes on its way out (terminal, logs, the state
store, saved plans), replacing each secret this process was given with `***`.

Secrets enter syncmap only as connector settings read from the environment (`${SF_SESSION_ID}`);
``engine.secrets`` registers each one here as it is resolved. A message is redacted before it is
shortened, so a cut never leaves part of a secret behind.
"""

from __future__ import annotations

MASK = "***"
SHORTEST_SECRET = 4  # shorter values would mask ordinary words
_secrets: set[str] = set()


def register(secret: str) -> None:
    if len(secret) >= SHORTEST_SECRET:
        _secrets.add(secret)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):  # a longer secret may contain a shorter
        text = text.replace(secret, MASK)
    return text


def shorten(text: str, limit: int = 300) -> str:
    """A message cut to ``limit`` characters, redacted first."""
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"

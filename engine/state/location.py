"""Where a state store is: a file, or a PostgreSQL database named by its URL (told apart, and
shown without its password, without loading a database driver: every command asks)."""

from __future__ import annotations

SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(SCHEMES)


def shown(url: str) -> str:
    """The URL as messages show it: without its password."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except ProgrammingError:
        return "postgresql://(a URL that cannot be read)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"

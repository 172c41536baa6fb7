"""The one exception tree of syncmap; each class carries the exit code the CLI returns.

Third-party exceptions are wrapped at the boundary (``raise ... from e``) so that a bare
``yaml.YAMLError`` or ``requests`` error never reaches a user as a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.redact import redact

if TYPE_CHECKING:
    from engine.diagnostics import Diagnostic


# what each exit code means, the same on every command (Terraform's convention for a plan's changes)
EXIT_CODES = {
    0: "success (with `--detailed-exitcode`: nothing would change)",
    1: "invalid documents, failed records, a failed mapping test, a paused or deleted job (nothing was run)",
    2: "`plan --detailed-exitcode`: changes are planned",
    3: "a connector or the system behind it failed (network, authentication, limits)",
    4: "the state store cannot be used (damaged, unknown schema, locked)",
    5: "the job is busy with another run (see the lease)",
    6: "a run's writes would spend the API calls an org keeps for its other integrations: stopped before "
    "writing (`api_reserve`)",
    7: "an object's writes would cross its `limits`: stopped before writing them (`--allow-over-limits`)",
    64: "usage error: an unknown option, a missing file, a bad value",
}


def exit_codes_help() -> str:
    """The exit codes as a command's help ends with them (`\\b`: click keeps the lines as they are)."""
    return "\b\nExit codes:\n" + "\n".join(f"  {code:>2}  {meaning}" for code, meaning in EXIT_CODES.items())


class SyncmapError(Exception):
    """Base of every error syncmap reports to a user."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        message, hint = redact(message), redact(hint) if hint else hint
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(SyncmapError):
    """The command line itself is wrong: a missing file, an unknown option value. Its code is
    apart from 2, which `plan --detailed-exitcode` means as "changes planned" (64 is EX_USAGE)."""

    exit_code = 64


class DocumentError(SyncmapError):
    """One or more mapping documents are invalid; carries every located diagnostic found."""

    exit_code = 1

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        count = len(diagnostics)
        super().__init__(f"{count} error{'s' if count != 1 else ''} in mapping documents")


class ConnectorError(SyncmapError):
    """A connector or the server behind it failed (network, authentication, limits)."""

    exit_code = 3


class UnknownObjectError(ConnectorError):
    """A system has no record type of that name (a document's typo, reported at its place)."""


class QueryError(ConnectorError):
    """A side's `query:` that the database refuses (a typo, a missing column): reported at the
    query in the document."""


class SettingError(ConnectorError):
    """A connection setting names what does not exist (a missing database file): reported at
    the connection's settings in the document."""

    def __init__(self, setting: str, message: str, hint: str | None = None):
        super().__init__(message, hint)
        self.setting = setting


class StateError(SyncmapError):
    """The state store cannot be opened, migrated or written."""

    exit_code = 4


class RecordError(SyncmapError):
    """One record could not be processed (an expression failed on its data); the run goes on."""

    exit_code = 1


class JobBusyError(SyncmapError):
    """Another run holds the job's lease: one run per job at a time."""

    exit_code = 5


class OverLimitError(SyncmapError):
    """An object's writes would cross its limits: none of them is made."""

    exit_code = 7


class ApiBudgetError(SyncmapError):
    """A run's writes would spend API calls an org keeps for others: it stopped before writing,
    and a later run (once the org's daily count resets) goes on."""

    exit_code = 6

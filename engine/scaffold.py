"""`syncmap init`: a customer repository ready for its first document. A document extending a
shipped template by name, the project marker, what git should ignore (the state store and the
SQLite files a run writes beside documents), the pre-commit hooks that validate and test every
change, and editor settings with the schemas of the installed syncmap."""

from __future__ import annotations

import json
from pathlib import Path

from engine import shipped
from engine.errors import UsageError
from engine.schema import schema_text
from engine.versions import LATEST

IGNORED = ".syncmap/\n*.db\n*.db-wal\n*.db-shm\n"
PRE_COMMIT = """\
# the checks every commit passes (https://pre-commit.com): `pre-commit install` turns them on
repos:
  - repo: local
    hooks:
      - {id: syncmap-validate, name: syncmap validate, entry: syncmap validate ., language: system,
         files: \\.ya?ml$, pass_filenames: false}
      - {id: syncmap-test, name: syncmap test, entry: syncmap test . --if-any, language: system,
         files: \\.ya?ml$, pass_filenames: false}
"""
SCHEMAS = {  # the schemas the editor associates, and the files each is for
    "mapping-extends": ["*.yaml", "**/*.yaml", "!**/*.test.yaml", "!rules/**", "!.pre-commit-config.yaml"],
    "mapping-test": ["**/*.test.yaml"],
    "rules": ["rules/*.yaml"],
}


def scaffold(folder: Path, template: str, name: str) -> list[Path]:
    """Write the repository's files into ``folder``; the paths written. Nothing is overwritten."""
    if template not in shipped.names("mappings"):
        raise UsageError(
            f"syncmap ships no template `{template}`", hint=f"shipped: {', '.join(shipped.names('mappings'))}"
        )
    files = {
        f"{name}.yaml": _document(template, name),
        "syncmap.toml": (
            "# the root of a syncmap project: its state lives in .syncmap/ beside this file\n"
            '# state = "postgresql://syncmap@db.internal/sync"   # a shared store, for workers (README)\n'
            "# journal_days = 90                                  # how long `syncmap explain` sees writes\n"
        ),
        ".gitignore": IGNORED,
        ".pre-commit-config.yaml": PRE_COMMIT,
        ".vscode/settings.json": json.dumps(
            {
                "yaml.schemas": {
                    f"./.vscode/schemas/{kind}.v{LATEST}.json": globs for kind, globs in SCHEMAS.items()
                }
            },
            indent=2,
        )
        + "\n",
        **{f".vscode/schemas/{kind}.v{LATEST}.json": schema_text(kind) for kind in SCHEMAS},
    }
    taken = [path for path in files if (folder / path).exists()]  # an absent folder has none
    if taken:
        raise UsageError(
            f"{folder / taken[0]} exists already; nothing was written", hint="init an empty folder"
        )
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)  # the folder itself too
        (folder / path).write_text(text)
    return [folder / path for path in files]


def _document(template: str, name: str) -> str:
    return f"""\
# {name}: the shipped `{template}` template, with this customer's choices on top. Override only
# what differs (connections, filters, fields); `syncmap compile {name}.yaml` shows the result.
#   syncmap validate .  # check every document
#   syncmap plan {name}.yaml  # what a run would change, and why
syncmap: {LATEST}
extends: syncmap:{template}
name: {name}
"""

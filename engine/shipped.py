"""The templates and rule sets shipped with syncmap, named in a document as `syncmap:NAME`
(`extends: syncmap:avochato`, `rule_sets: [syncmap:contact-quality]`): a customer repository
uses them without a copy, at the version of the syncmap it installed. They are the files of
`mappings/` and `rules/`, packaged with the engine (or read from the checkout it runs from)."""

from __future__ import annotations

from pathlib import Path

PREFIX = "syncmap:"
_PACKAGED = Path(__file__).parent / "shipped"  # where a built package keeps them (see pyproject.toml)


def root() -> Path:
    """The folder holding `mappings/` and `rules/`."""
    return _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[1]


def names(kind: str) -> list[str]:
    """The names of the shipped templates (`mappings`) or rule sets (`rules`)."""
    return sorted(path.stem for path in (root() / kind).glob("*.yaml") if not path.stem.endswith(".test"))


def path(kind: str, reference: str) -> Path:
    """The file a `syncmap:NAME` reference names (it may not exist)."""
    return root() / kind / f"{reference.removeprefix(PREFIX)}.yaml"

"""Records as plain nested values: a field by its dotted path (`company.name`), and records taken a
batch at a time. Every stage that reaches into a record's values does it here, one way."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

# the types of plain values: JSON holds any of them as it is, and every JSON encoder spells them alike
PLAIN_TYPES = frozenset({str, int, bool, type(None)})


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """The items in lists of ``size`` (the last one shorter), taken as they come."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def get_path(values: Any, path: str) -> Any:
    """The value at a dotted path, None where the path leads nowhere."""
    if "." not in path:  # most are one field: a run asks millions of times
        return values.get(path) if isinstance(values, dict) else None
    for key in path.split("."):
        if not isinstance(values, dict):
            return None
        values = values.get(key)
    return values


def set_path(values: dict[str, Any], current: dict[str, Any], path: str, value: Any) -> None:
    """Set a (possibly nested) field in ``values``, keeping siblings from ``current``."""
    keys = path.split(".")
    if len(keys) > 1 and keys[0] not in values:
        values[keys[0]] = (
            copy.deepcopy(current.get(keys[0])) if isinstance(current.get(keys[0]), dict) else {}
        )
    target = values
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value

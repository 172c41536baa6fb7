"""Salesforce record ids: 15-character case-sensitive ids and their 18-character case-safe form.

The sandbox hands out ids exactly shaped like Salesforce's (key prefix, base-62 body, checksum
suffix) so that code validating, shortening or comparing ids behaves as it will against an org.
"""

from __future__ import annotations

import re

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID15 = re.compile(r"[0-9A-Za-z]{15}")
_ID18 = re.compile(r"[0-9A-Za-z]{15}[A-Z0-5]{3}")
# Characters 4-6 of a real id name the pod and a reserved digit; any fixed value will do here.
_POD = "8d0"


def checksum(id15: str) -> str:
    """The 3-character suffix: one bit per upper-case letter in each 5-character chunk."""
    suffix = ""
    for start in (0, 5, 10):
        chunk = id15[start : start + 5]
        bits = sum(1 << i for i, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def to18(record_id: str) -> str:
    """The case-safe 18-character form of a 15- or 18-character id."""
    return record_id[:15] + checksum(record_id[:15])


def is_valid(record_id: str) -> bool:
    """Whether the text is a well-formed 15-character id or an 18-character id with its checksum."""
    if _ID15.fullmatch(record_id):
        return True
    return bool(_ID18.fullmatch(record_id)) and checksum(record_id[:15]) == record_id[15:]


def normalize(record_id: str) -> str | None:
    """The 18-character form of a valid id, or None when the text is not an id."""
    return to18(record_id) if is_valid(record_id) else None


def make_id(key_prefix: str, number: int) -> str:
    """The 18-character id of the n-th record numbered under a key prefix."""
    body = ""
    while number:
        number, digit = divmod(number, 62)
        body = BASE62[digit] + body
    id15 = key_prefix + _POD + body.rjust(9, "0")
    return to18(id15)


def custom_key_prefix(index: int) -> str:
    """A key prefix for the index-th custom object, like Salesforce's ``a0X``: a0A, a0B, ..."""
    first, second = divmod(index + 10, 62)
    return "a" + BASE62[first] + BASE62[second]

"""Keyed pseudonyms (HMAC-SHA256), so nobody can reverse one by trying every phone number.

ENISA (2019): an unkeyed hash of a phone number or membership number can be reversed by brute
force, so every pseudonym here is keyed, and the keys live only inside the encrypted store.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import duckdb

from workbench import db

MEMBER_KEY_LENGTH = 16  # hex characters: 64 bits, collision-free at national scale (p < 1e-8)


def keyed(secret: bytes, values: Iterable[str | None], length: int = 64) -> list[str | None]:
    """HMAC-SHA256 of each value under `secret`, as hex; None stays None.

    Examples:
        >>> keyed(b"k" * 32, ["SYN0000001", None], length=8)
        ['bca6d402', None]
    """
    if not secret:
        raise ValueError("A pseudonym needs a key; refusing to hash without one.")
    return [None if v is None else hmac.new(secret, v.encode("utf-8"), hashlib.sha256).hexdigest()[:length]
            for v in values]


def normalise_membership_number(value: str) -> str:
    """Membership numbers compare without case or spaces: ' syn 0001 ' == 'SYN0001'."""
    return "".join(value.split()).upper()


def member_keys(con: duckdb.DuckDBPyConnection, membership_numbers: Iterable[str]) -> list[str]:
    """The member_key for each membership number, under the store's 'member' key."""
    numbers = [normalise_membership_number(n) for n in membership_numbers]
    return keyed(db.key(con, "member"), numbers, MEMBER_KEY_LENGTH)


def suppression_hashes(con: duckdb.DuckDBPyConnection, values: Iterable[str | None]) -> list[str | None]:
    """Keyed hashes for the opt-out register: of an E.164 phone, or of a normalised membership number.

    The caller normalises first (phones to E.164, numbers with `normalise_membership_number`), so
    the same person always hashes the same way, before and after their identity is erased.
    """
    return keyed(db.key(con, "suppression"), values)

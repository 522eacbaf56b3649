"""Keyed pseudonyms (HMAC-SHA256), so nobody can reverse one by trying every phone number.

ENISA (2019): an unkeyed hash of a phone number or membership number can be reversed by brute
force, so every pseudonym here is keyed, and the keys live only inside the encrypted store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

import duckdb

from workbench.errors import InputError
from workbench.store import db
from workbench.store.audit import audit  # not dataprotection: it imports optouts, which imports this module
from workbench.store.state import transaction

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


# -- per-release keys ------------------------------------------------------------------------------
# Every report release that carries a person-level key gets its own HMAC key, so two releases cannot
# be linked by matching pseudonyms unless the organiser asks for it (link_to). The member key is
# never used for a release: a released pseudonym is an HMAC of the member_key under the release key.
RELEASE_PREFIX = "release:"
RELEASE_PSEUDONYM_LENGTH = 16

RELEASE_KEY_QUERY = "SELECT secret FROM keys WHERE name = ?"
INSERT_KEY = "INSERT INTO keys VALUES (?, ?, now())"
RELEASE_KEYS_QUERY = "SELECT name FROM keys WHERE starts_with(name, ?) ORDER BY name"
DELETE_KEY = "DELETE FROM keys WHERE name = ?"


def release_key_name(release_id: str) -> str:
    """The keys-table name of a release's key: 'release:<release_id>'."""
    return RELEASE_PREFIX + release_id


def release_key(con: duckdb.DuckDBPyConnection, release_id: str, *, link_to: str | None = None) -> bytes:
    """A new secret for `release_id`, made with `secrets`; or, with `link_to`, that release's secret again.

    Args:
        release_id: the new release.
        link_to: an earlier release whose pseudonyms the new one must match (the organiser asked).

    Returns:
        The 32-byte secret, stored as 'release:<release_id>' in the encrypted store.

    Raises:
        InputError: the release id is taken, or `link_to` names no stored release key (never
            made, or retired by `workbench keys rotate`).
    """
    name = release_key_name(release_id)
    if con.execute(RELEASE_KEY_QUERY, [name]).fetchone():
        raise InputError(f'Release "{release_id}" already has a key; choose another release id.')
    if link_to is None:
        secret = secrets.token_bytes(32)
    else:
        row = con.execute(RELEASE_KEY_QUERY, [release_key_name(link_to)]).fetchone()
        if not row:
            raise InputError(f'No key for release "{link_to}": it was never made or its key was retired by '
                             "`workbench keys rotate`. Leave out --link-to for an unlinked release.")
        secret = bytes(row[0])
    con.execute(INSERT_KEY, [name, secret])
    return secret


def release_pseudonyms(secret: bytes, member_keys: Iterable[str]) -> list[str | None]:
    """Each member_key's pseudonym in one release: HMAC-SHA256 under the release's key, 16 hex characters."""
    return keyed(secret, member_keys, RELEASE_PSEUDONYM_LENGTH)


def release_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The release ids whose keys are still held."""
    rows = con.execute(RELEASE_KEYS_QUERY, [RELEASE_PREFIX]).fetchall()
    return [row[0][len(RELEASE_PREFIX):] for row in rows]


def rotate_release_keys(con: duckdb.DuckDBPyConnection, *, actor: str) -> int:
    """Retire every release key, so no earlier release can be re-created or linked again; audited.

    The 'member' and 'suppression' keys are not touched: member_key is the store's own join key and
    the suppression hashes must outlive erasure. Releases made after rotation get fresh keys as always.

    Returns:
        How many release keys were retired.
    """
    names = release_keys(con)
    with transaction(con):
        for release_id in names:
            con.execute(DELETE_KEY, [release_key_name(release_id)])
        audit(con, "keys.rotate", actor=actor, object_id="release keys", counts={"retired": len(names)})
    return len(names)

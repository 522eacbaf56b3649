"""Finding one data subject by membership number, phone or member_key, for opt-outs, subject access
and erasure. Messages never repeat the number or phone that was given: they say which option was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from workbench.errors import InputError
from workbench.privacy import pseudonymise


@dataclass(frozen=True)
class Subject:
    """One member as the register sees them: their key, suppression hashes, and whether erased."""

    member_key: str | None
    phone_hash: str | None
    membership_hash: str | None
    erased: bool = False


def phone_e164(value: object) -> str | None:
    """A phone number in E.164, or None if it is not one: exactly as ingest normalises it, so the
    suppression hash of a number given here equals the one written with the identity.

    Examples:
        >>> phone_e164("07700 900123")
        '+447700900123'
        >>> phone_e164("12345") is None
        True
    """
    from workbench import phones  # here: phonenumbers takes 0.1 s to load, and most commands read no phone

    return phones.to_e164(None if value is None else str(value))


class NoMatch(InputError):
    """Nobody in the store has the identifier given."""


def one_identifier(membership_number: str | None, phone: str | None, member_key: str | None) -> None:
    """Exactly one way of naming the person must be given."""
    given = [v for v in (membership_number, phone, member_key) if v not in (None, "")]
    if len(given) != 1:
        raise InputError("Name the member one way: --membership-number, --phone or --member-key "
                         "(exactly one).")


def phone_hash(con: duckdb.DuckDBPyConnection, phone: str) -> str:
    """The suppression hash of a phone number, or an InputError if it is not a phone number."""
    e164 = phone_e164(phone)
    if e164 is None:
        raise InputError("--phone is not a UK phone number; give it like 07700 900123 or +44 7700 900123.")
    return pseudonymise.suppression_hashes(con, [e164])[0]


def membership_hash(con: duckdb.DuckDBPyConnection, number: str) -> str:
    """The suppression hash of a membership number, normalised as identities are."""
    return pseudonymise.suppression_hashes(con, [pseudonymise.normalise_membership_number(number)])[0]


BY_KEY_QUERY = """
SELECT m.member_key, i.phone_hash, i.membership_hash, m.erased_at IS NOT NULL
FROM members m LEFT JOIN identities i ON i.member_key = m.member_key
WHERE m.member_key = ?
"""
BY_PHONE_QUERY = "SELECT member_key FROM identities WHERE phone_hash = ?"


def find(con: duckdb.DuckDBPyConnection, *, membership_number: str | None = None, phone: str | None = None,
         member_key: str | None = None) -> Subject:
    """The one member named by exactly one of the identifiers.

    Raises:
        InputError: none or several identifiers; a malformed phone; nobody matches; or a phone
            shared by several members (then the membership number is needed).
    """
    one_identifier(membership_number, phone, member_key)
    if membership_number:
        member_key = pseudonymise.member_keys(con, [membership_number])[0]
    elif phone:
        keys = [r[0] for r in con.execute(BY_PHONE_QUERY, [phone_hash(con, phone)]).fetchall()]
        if not keys:
            raise NoMatch("No member has that phone number. Check it, or use --membership-number.")
        if len(keys) > 1:
            raise InputError(f"{len(keys)} members share that phone number; use --membership-number "
                             "to say which.")
        member_key = keys[0]
    row = con.execute(BY_KEY_QUERY, [member_key]).fetchone()
    if row is None:
        what = "membership number" if membership_number else "member key"
        raise NoMatch(f"No member has that {what}. Check it (membership numbers are compared without "
                         "spaces or case).")
    known_hash = membership_hash(con, membership_number) if membership_number else None
    return Subject(row[0], row[1], row[2] or known_hash, bool(row[3]))


__all__ = ["NoMatch", "Subject", "find", "membership_hash", "one_identifier", "phone_e164", "phone_hash"]
